#include "server/webhook_handler.hpp"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include "server/http_reply.hpp"
#include "server/request_body.hpp"
#include "server/webhook_payload.hpp"

namespace plexus::core {

using Poco::Net::HTTPResponse;

namespace {

constexpr const char* kExecutionIdHeader = "plexus-execution-id";

/// The plexus-synchronous / prismatic-synchronous header: true, false, or
/// absent (std::nullopt). Anything else is a 400.
std::optional<bool> synchronousHeader(const Poco::Net::HTTPServerRequest& request) {
  for (const char* name : {"plexus-synchronous", "prismatic-synchronous"}) {
    if (!request.has(name)) continue;
    std::string value = Poco::toLower(Poco::trim(request.get(name)));
    if (value == "true") return true;
    if (value == "false") return false;
    throw PayloadError(400, std::string("header ") + name + " must be true or false, got '" + request.get(name) + "'");
  }
  return std::nullopt;
}

plexus::Json requestHeaders(const Poco::Net::HTTPServerRequest& request) {
  plexus::Json headers = plexus::Json::object();
  for (const auto& [name, value] : request) headers[Poco::toLower(name)] = value;
  return headers;
}

}  // namespace

void WebhookHandler::handleRequest(Poco::Net::HTTPServerRequest& request,
                                   Poco::Net::HTTPServerResponse& response) {
  auto instance = runtime_.instanceByToken(token_);
  IntegrationPtr integration = instance ? runtime_.integrations().find(instance->integrationKey) : nullptr;
  if (!instance || !integration || !instance->enabled) {
    response.setKeepAlive(false);  // The body, if any, is left unread.
    return sendError(response, HTTPResponse::HTTP_NOT_FOUND, "no webhook at this URL");
  }
  std::int64_t limit = runtime_.settings().maxRequestBytes;
  try {
    if (request.hasContentLength() && request.getContentLength64() > limit)
      throw PayloadError(413, "request body of " + std::to_string(request.getContentLength64()) +
                                  " bytes is larger than the limit of " + std::to_string(limit) +
                                  " bytes (the server's --max-request-bytes)");
    std::optional<bool> syncHeader = synchronousHeader(request);
    std::string contentType = request.get("Content-Type", "");
    WebhookBody body = parseWebhookBody(
        readRequestBody(request.stream(), limit, runtime_.spoolDirectory(), contentType), contentType);
    Poco::URI uri(request.getURI());
    std::string webhookUrl = runtime_.webhookUrl(*instance);

    std::string executionId = runtime_.startExecution(
        integration, *instance, "webhook", [&](const std::string& id) {
          return plexus::Json{
              {"method", request.getMethod()},
              {"headers", requestHeaders(request)},
              {"queryParameters", parseQueryParameters(uri.getRawQuery())},
              {"body", {{"data", std::move(body.data)}, {"contentType", body.contentType}}},
              {"rawBody", {{"data", plexus::Json::binary(body.raw)}, {"contentType", body.contentType}}},
              {"webhookUrl", webhookUrl},
              {"executionId", id},
              {"startedAt", formatIsoMs(nowMs())},
              {"instance", {{"id", instance->id}, {"name", instance->name}}},
              {"integration", {{"key", integration->key}, {"name", integration->name}}}};
        });
    response.set(kExecutionIdHeader, executionId);
    if (syncHeader.value_or(integration->synchronous)) return replySynchronously(executionId, response);
    sendJson(response, HTTPResponse::HTTP_OK, plexus::Json{{"executionId", executionId}});
  } catch (const PayloadError& error) {
    // The body may be unread: close the connection so its bytes are not
    // taken for the next request.
    response.setKeepAlive(false);
    sendError(response, static_cast<HTTPResponse::HTTPStatus>(error.status()), error.what());
  } catch (const StoreUnavailable& error) {
    // Nothing can be stored now (database gone, damaged, disk full): not
    // acknowledged, and the caller may retry later or elsewhere.
    response.setKeepAlive(false);
    sendError(response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, error.what());
  } catch (const std::exception& error) {
    // The store or the spool failed: the caller gets a JSON 500, and the
    // plexus-execution-id header if an execution was already recorded.
    response.setKeepAlive(false);
    sendError(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, error.what());
  }
}

void WebhookHandler::replySynchronously(const std::string& executionId,
                                        Poco::Net::HTTPServerResponse& response) {
  const ServerSettings& settings = runtime_.settings();
  auto outcome = runtime_.engine().waitFor(executionId, std::chrono::seconds(settings.syncTimeoutSeconds));
  if (!outcome) {
    return sendJson(response, HTTPResponse::HTTP_GATEWAY_TIMEOUT,
                    {{"executionId", executionId},
                     {"error", "the execution did not end within the synchronous timeout of " +
                                   std::to_string(settings.syncTimeoutSeconds) +
                                   " s; it goes on: GET /api/executions/" + executionId}});
  }
  if (outcome->status == ExecutionStatus::Failed) {
    plexus::Json body = {{"executionId", executionId}, {"error", outcome->error.value_or("failed")}};
    body["step"] = outcome->errorStep ? plexus::Json(*outcome->errorStep) : plexus::Json();
    return sendJson(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, body);
  }
  if (outcome->result && outcome->result->isStatus)
    return sendStoredResult(response, *outcome->result, settings.maxResponseBytes);
  std::size_t size = outcome->result ? servedSize(outcome->result->data) : 0;
  if (static_cast<std::int64_t>(size) > settings.maxResponseBytes)
    return sendJson(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR,
                    {{"executionId", executionId}, {"error", responseLimitMessage(size, settings.maxResponseBytes)}});
  if (outcome->result) runtime_.rememberFinalResult(executionId, *outcome->result);
  response.setStatusAndReason(HTTPResponse::HTTP_SEE_OTHER);
  response.set("Location", runtime_.publicUrl() + "/executions/" + executionId + "/result");
  response.setContentLength(0);
  response.send();
}

}  // namespace plexus::core
