#include "server/request_router.hpp"

#include "server/api_handler.hpp"
#include "server/http_reply.hpp"
#include "server/webhook_handler.hpp"

namespace plexus::core {

namespace {

/// The token of a /trigger/{token} target, or nothing for other targets.
std::optional<std::string> webhookToken(const std::string& target) {
  static const std::string kTrigger = "/trigger/";
  if (target.compare(0, kTrigger.size(), kTrigger) != 0) return std::nullopt;
  std::string token = target.substr(kTrigger.size());
  return token.substr(0, token.find_first_of("?#/"));
}

}  // namespace

std::optional<HttpResponse> RequestRouter::refuseEarly(const std::string& method, const std::string& target) const {
  if (auto token = webhookToken(target)) return WebhookHandler(runtime_, *token).refuseEarly();
  return std::nullopt;
}

HttpResponse RequestRouter::handle(const HttpRequest& request) const {
  HttpResponse response;
  try {
    if (auto token = webhookToken(request.target)) {
      WebhookHandler(runtime_, *token).handle(request, response);
    } else {
      ApiHandler(runtime_).handle(request, response);
    }
  } catch (const std::exception& error) {
    // The handlers answer their own errors; this is a last resort so that
    // a caller always gets JSON and the front end never sees an exception.
    response = HttpResponse();
    sendError(response, 500, std::string("internal error: ") + error.what());
  }
  return response;
}

}  // namespace plexus::core
