#include "server/webhook_handler.hpp"

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <Poco/Logger.h>

#include "engine/config_values.hpp"
#include "integration/template.hpp"
#include "util/memory.hpp"
#include "server/http_reply.hpp"
#include "trigger/trigger_results.hpp"
#include "trigger/webhook/component_trigger.hpp"
#include "trigger/webhook/idempotency.hpp"
#include "trigger/webhook/webhook_payload.hpp"
#include "trigger/webhook/webhook_response.hpp"

namespace plexus::core {

namespace {

constexpr const char* kExecutionIdHeader = "plexus-execution-id";
constexpr const char* kReplayHeader = "plexus-idempotent-replay";
constexpr const char* kIdempotencyKeyHeader = "Idempotency-Key";

StoredResult statusReply(plexus::StatusResult status) {
  StoredResult result;
  result.isStatus = true;
  result.status = std::move(status);
  return result;
}

/// The longest text an idempotencyKey template may render to before it is
/// given up: far above kMaxIdempotencyKeyBytes, so that a long key is a 400
/// (IdempotencyGuard::admit), not silently no key.
constexpr std::size_t kMaxRenderedKeyBytes = 64 * 1024;

/// What the webhook's templates (idempotencyKey, response) may use; a
/// deferred JSON body is parsed in it (the caller holds the parse budget).
plexus::Json templateScope(const plexus::Json& results, const InstanceRecord& instance,
                           const IntegrationSpec& integration, const BodyLimits& limits) {
  plexus::Json scope = {{"trigger", {{"results", results}}},
                        {"configVars", effectiveConfigVars(integration, instance)},
                        {"instance", {{"id", instance.id}, {"name", instance.name}}},
                        {"integration", {{"key", integration.key}, {"name", integration.name}}}};
  plexus::Json* body = scope["trigger"]["results"].contains("body") ? &scope["trigger"]["results"]["body"] : nullptr;
  if (body && body->is_object() && body->contains("data")) (*body)["data"] = parsedBodyData((*body)["data"], limits);
  return scope;
}

/// Text for a templated value: strings as they are, other values as JSON
/// (invalid UTF-8 replaced, never an exception).
std::string asText(const plexus::Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump(-1, ' ', false, plexus::Json::error_handler_t::replace);
}

/// The request's idempotency key: with an idempotencyKey template, what it
/// renders ("" when the path it names is not in this request: not keyed);
/// without one, the Idempotency-Key header. The template alone decides when
/// there is one, so a caller cannot take a key the template will make.
std::string idempotencyKeyOf(const HttpRequest& request, const WebhookTriggerSpec& options,
                             const plexus::Json& scope) {
  if (!options.idempotencyKey) return request.headers.get(kIdempotencyKeyHeader, "");
  try {
    return asText(options.idempotencyKey->render(scope, kMaxRenderedKeyBytes));
  } catch (const TemplateError&) {
    return "";  // The path it names is not in this request (say, no such header).
  }
}

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
  auto instance = runtime_.instances().byToken(token_);
  if (instance && instance->enabled && runtime_.integrations().find(instance->integrationKey)) return std::nullopt;
  HttpResponse response;
  sendError(response, 404, "no webhook at this URL");
  return response;
}

void WebhookHandler::handle(const HttpRequest& request, HttpResponse& response) {
  auto instance = runtime_.instances().byToken(token_);
  IntegrationPtr integration = instance ? runtime_.integrations().find(instance->integrationKey) : nullptr;
  if (!instance || !integration || !instance->enabled) return sendError(response, 404, "no webhook at this URL");
  const WebhookTriggerSpec& options = integration->trigger.webhook;
  try {
    std::optional<bool> syncHeader = synchronousHeader(request);
    std::string contentType = request.headers.get("Content-Type");
    BodyLimits limits = bodyLimits(runtime_.settings());
    // A JSON body is checked now and parsed when the execution runs, within
    // the parse budget. A component trigger or a template that reads it now
    // gets a parsed copy, within the same budget, for this request only.
    limits.deferJson = true;
    WebhookBody body = parseWebhookBody(request.body, contentType, limits);
    MemoryBudget::Lease parsing;
    if (options.component || options.idempotencyKey || options.response)
      parsing = runtime_.parseBudget().acquire(deferredBodySize(body.data) * limits.jsonMemoryFactor);
    Poco::URI uri(request.target);
    WebhookRequestParts parts{request.method, requestHeaders(request), parseQueryParameters(uri.getRawQuery()),
                              std::move(body.data), body.contentType, std::move(body.raw),
                              runtime_.webhookUrl(*instance)};

    // A component trigger sees the request first, and may answer it alone.
    std::optional<plexus::TriggerResult> decided;
    if (options.component) {
      plexus::WebhookRequest seen = webhookRequestFor(parts);
      seen.body["data"] = parsedBodyData(parts.bodyData, limits);
      decided = callComponentTrigger(*options.component, runtime_.components(), *integration, *instance, seen,
                                     nowMs());
      if (!decided->runs()) return sendStoredResult(response, statusReply(*decided->immediateReply()),
                                                    runtime_.settings().maxResponseBytes);
    }

    const std::string executionId = Engine::newExecutionId();
    const std::string startedAt = formatIsoMs(nowMs());
    const plexus::Binary rawBody = parts.rawBody;  // shares the bytes: the idempotency check hashes them
    plexus::Json results =
        decided && decided->results()
            ? componentTriggerResults(*decided->results(), parts.webhookUrl, executionId, startedAt, *instance,
                                      *integration)
            : webhookTriggerResults(std::move(parts), executionId, startedAt, *instance, *integration);
    // The templates' scope holds a copy of the results: only built when a template needs it.
    plexus::Json scope;
    if (options.idempotencyKey || options.response) scope = templateScope(results, *instance, *integration, limits);
    const std::string key = idempotencyKeyOf(request, options, scope);

    auto start = [&](std::optional<IdempotencyKeyRecord> keyRecord) {
      if (keyRecord) keyRecord->executionId = executionId;
      runtime_.engine().submit(ExecutionRequest{executionId, integration, *instance, "webhook", std::move(results)},
                               std::move(keyRecord));
      return executionId;
    };
    IdempotencyGuard::Admission admitted{false, executionId};
    if (key.empty()) start(std::nullopt);
    else admitted = runtime_.idempotency().admit(instance->id, key, rawBody.view(), start);

    response.headers.set(kExecutionIdHeader, admitted.executionId);
    if (admitted.replay) response.headers.set(kReplayHeader, "true");
    if (decided && decided->immediateReply())
      return sendStoredResult(response, statusReply(*decided->immediateReply()), runtime_.settings().maxResponseBytes);
    if (syncHeader.value_or(integration->synchronous)) return replySynchronously(admitted.executionId, response);
    if (options.response) return replyAsConfigured(*options.response, admitted.executionId, scope, response);
    sendJson(response, 200, plexus::Json{{"executionId", admitted.executionId}});
  } catch (const TriggerRefused& refusal) {
    for (const auto& [name, value] : refusal.headers()) response.headers.set(name, value);
    sendError(response, refusal.status(), refusal.what());
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

void WebhookHandler::replyAsConfigured(const WebhookResponseSpec& spec, const std::string& executionId,
                                       plexus::Json& scope, HttpResponse& response) {
  // A replay answers with the first execution: its id, also in trigger.results.
  scope["execution"] = {{"id", executionId}};
  scope["trigger"]["results"]["executionId"] = executionId;
  plexus::StatusResult reply;
  try {
    reply = renderWebhookResponse(spec, scope);
  } catch (const std::exception& error) {
    // A template that does not render for this request (TemplateError), or
    // a value that cannot become text. The execution is recorded: an error
    // status would invite a retry that runs it twice. The caller gets the
    // default reply; the log says why.
    Poco::Logger::get("plexus.webhook")
        .warning("execution %s: trigger.webhook.response did not render (%s); answered 200 {executionId} instead",
                 executionId, std::string(error.what()));
    return sendJson(response, 200, plexus::Json{{"executionId", executionId}});
  }
  sendStoredResult(response, statusReply(std::move(reply)), runtime_.settings().maxResponseBytes);
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
  if (outcome->result) runtime_.recentResults().remember(executionId, *outcome->result);
  response.status = 303;
  response.headers.set("Location", runtime_.publicUrl() + "/executions/" + executionId + "/result");
}

}  // namespace plexus::core
