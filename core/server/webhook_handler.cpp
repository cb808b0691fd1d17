#include "server/webhook_handler.hpp"

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include "server/http_reply.hpp"
#include "server/webhook_payload.hpp"
#include "trigger/trigger_results.hpp"

namespace plexus::core {

namespace {

constexpr const char* kExecutionIdHeader = "plexus-execution-id";

/// The plexus-synchronous / prismatic-synchronous header: true, false, or
/// absent (std::nullopt). Anything else is a 400.
std::optional<bool> synchronousHeader(const HttpRequest& request) {
  for (const char* name : {"plexus-synchronous", "prismatic-synchronous"}) {
    if (!request.headers.has(name)) continue;
    std::string given = request.headers.get(name);
    std::string value = Poco::toLower(Poco::trim(given));
    if (value == "true") return true;
    if (value == "false") return false;
    throw PayloadError(400, std::string("header ") + name + " must be true or false, got '" + given + "'");
  }
  return std::nullopt;
}

plexus::Json requestHeaders(const HttpRequest& request) {
  plexus::Json headers = plexus::Json::object();
  for (const auto& [name, value] : request.headers) headers[Poco::toLower(name)] = value;
  return headers;
}

}  // namespace

std::optional<HttpResponse> WebhookHandler::refuseEarly() const {
  auto instance = runtime_.instanceByToken(token_);
  if (instance && instance->enabled && runtime_.integrations().find(instance->integrationKey)) return std::nullopt;
  HttpResponse response;
  sendError(response, 404, "no webhook at this URL");
  return response;
}

void WebhookHandler::handle(const HttpRequest& request, HttpResponse& response) {
  auto instance = runtime_.instanceByToken(token_);
  IntegrationPtr integration = instance ? runtime_.integrations().find(instance->integrationKey) : nullptr;
  if (!instance || !integration || !instance->enabled) return sendError(response, 404, "no webhook at this URL");
  try {
    std::optional<bool> syncHeader = synchronousHeader(request);
    std::string contentType = request.headers.get("Content-Type");
    BodyLimits bodyLimits = BodyLimits::from(runtime_.settings());
    bodyLimits.deferJson = true;  // parsed when the execution runs, within the parse budget
    WebhookBody body = parseWebhookBody(request.body, contentType, bodyLimits);
    Poco::URI uri(request.target);

    WebhookRequestParts parts{request.method, requestHeaders(request), parseQueryParameters(uri.getRawQuery()),
                              std::move(body.data), body.contentType, std::move(body.raw),
                              runtime_.webhookUrl(*instance)};
    std::string executionId =
        runtime_.startExecution(integration, *instance, "webhook", [&](const std::string& id) {
          return webhookTriggerResults(std::move(parts), id, formatIsoMs(nowMs()), *instance, *integration);
        });
    response.headers.set(kExecutionIdHeader, executionId);
    if (syncHeader.value_or(integration->synchronous)) return replySynchronously(executionId, response);
    sendJson(response, 200, plexus::Json{{"executionId", executionId}});
  } catch (const PayloadError& error) {
    sendError(response, error.status(), error.what());
  } catch (const StoreUnavailable& error) {
    // Nothing can be stored now (database gone, damaged, disk full): not
    // acknowledged, and the caller may retry later or elsewhere.
    sendError(response, 503, error.what());
  } catch (const Poco::SyntaxException& error) {
    sendError(response, 400, "malformed URL: " + error.displayText());
  } catch (const std::exception& error) {
    // The store failed: the caller gets a JSON 500, and the
    // plexus-execution-id header if an execution was already recorded.
    sendError(response, 500, error.what());
  }
}

void WebhookHandler::replySynchronously(const std::string& executionId, HttpResponse& response) {
  const ServerSettings& settings = runtime_.settings();
  auto outcome = runtime_.engine().waitFor(executionId, std::chrono::seconds(settings.syncTimeoutSeconds));
  if (!outcome) {
    return sendJson(response, 504,
                    {{"executionId", executionId},
                     {"error", "the execution did not end within the synchronous timeout of " +
                                   std::to_string(settings.syncTimeoutSeconds) +
                                   " s; it goes on: GET /api/executions/" + executionId}});
  }
  if (outcome->interrupted)  // shutting down: it resumes after the restart
    return sendJson(response, 503, {{"executionId", executionId}, {"error", outcome->error.value_or("interrupted")}});
  if (outcome->status == ExecutionStatus::Failed || outcome->status == ExecutionStatus::Cancelled) {
    plexus::Json body = {{"executionId", executionId}, {"error", outcome->error.value_or("failed")}};
    body["step"] = outcome->errorStep ? plexus::Json(*outcome->errorStep) : plexus::Json();
    return sendJson(response, 500, body);
  }
  if (outcome->result && outcome->result->isStatus)
    return sendStoredResult(response, *outcome->result, settings.maxResponseBytes);
  std::size_t size = outcome->result ? servedSize(outcome->result->data) : 0;
  if (static_cast<std::int64_t>(size) > settings.maxResponseBytes)
    return sendJson(response, 500,
                    {{"executionId", executionId}, {"error", responseLimitMessage(size, settings.maxResponseBytes)}});
  if (outcome->result) runtime_.rememberFinalResult(executionId, *outcome->result);
  response.status = 303;
  response.headers.set("Location", runtime_.publicUrl() + "/executions/" + executionId + "/result");
}

}  // namespace plexus::core
