#include "server/request_router.hpp"

#include <Poco/Net/HTTPServerRequest.h>

#include "server/api_handler.hpp"
#include "server/webhook_handler.hpp"

namespace plexus::core {

Poco::Net::HTTPRequestHandler* RequestRouter::createRequestHandler(const Poco::Net::HTTPServerRequest& request) {
  static const std::string kTrigger = "/trigger/";
  const std::string& uri = request.getURI();
  if (uri.compare(0, kTrigger.size(), kTrigger) == 0) {
    std::string token = uri.substr(kTrigger.size());
    token = token.substr(0, token.find_first_of("?#/"));
    return new WebhookHandler(runtime_, token);
  }
  return new ApiHandler(runtime_);
}

}  // namespace plexus::core
