#include "server/api_handler.hpp"

#include <charconv>

#include <Poco/NumberParser.h>
#include <Poco/StringTokenizer.h>
#include <Poco/URI.h>

#include <plexus/json_parse.hpp>

#include "server/http_reply.hpp"
#include "trigger/webhook/webhook_payload.hpp"

namespace plexus::core {

namespace {

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> segments;
  Poco::StringTokenizer tokens(path, "/", Poco::StringTokenizer::TOK_IGNORE_EMPTY);
  for (const auto& token : tokens) {
    std::string decoded;
    Poco::URI::decode(token, decoded);
    segments.push_back(decoded);
  }
  return segments;
}

plexus::Json optionalTime(const std::optional<TimePoint>& t) {
  return t ? plexus::Json(formatIsoMs(*t)) : plexus::Json();
}

/// The body as JSON; an empty body is {}. The front end has already held
/// it to --max-request-bytes.
plexus::Json readJsonBody(const HttpRequest& request) {
  std::string_view text = request.body.view();
  try {
    // Bounded like webhook bodies: an API body nested past 512 levels is refused, not recursed over.
    return text.empty() ? plexus::Json::object() : plexus::parseJson(text);
  } catch (const plexus::JsonParseError& error) {
    throw RequestError(400, std::string("the request body is not valid JSON: ") + error.what());
  }
}

/// The credentials of "Authorization: Bearer TOKEN"; the scheme is
/// case-insensitive (RFC 9110 §11.1), one or more spaces may follow it.
std::optional<std::string_view> bearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size() || !equalsIgnoringCase(header.substr(0, kScheme.size()), kScheme) ||
      header[kScheme.size()] != ' ')
    return std::nullopt;
  std::string_view rest = header.substr(kScheme.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  return rest;
}

}  // namespace

plexus::Json describeExecution(const ExecutionRecord& execution) {
  plexus::Json out = {{"id", execution.id},
                      {"status", toString(execution.status)},
                      {"integration", execution.integrationKey},
                      {"instance", {{"id", execution.instanceId}, {"name", execution.instanceName}}},
                      {"trigger", execution.trigger},
                      {"queuedAt", formatIsoMs(execution.queuedAt)},
                      {"startedAt", optionalTime(execution.startedAt)},
                      {"endedAt", optionalTime(execution.endedAt)},
                      {"attempts", execution.attempts}};
  if (execution.error) out["error"] = *execution.error;
  if (execution.errorStep) out["errorStep"] = *execution.errorStep;
  if (execution.replayOf) out["replayOf"] = *execution.replayOf;
  out["steps"] = plexus::Json::array();
  for (const auto& step : execution.steps) {
    plexus::Json item = {{"name", step.name},           {"component", step.component},
                         {"action", step.action},       {"status", toString(step.status)},
                         {"startedAt", formatIsoMs(step.startedAt)}, {"endedAt", optionalTime(step.endedAt)}};
    if (step.error) item["error"] = *step.error;
    if (step.attempts != 1) item["attempts"] = step.attempts;
    if (step.iteration >= 0) item["iteration"] = step.iteration;
    if (!step.parent.empty()) item["parent"] = step.parent;
    out["steps"].push_back(std::move(item));
  }
  out["logs"] = plexus::Json::array();
  for (const auto& line : execution.logs) {
    plexus::Json item = {{"time", formatIsoMs(line.time)}, {"level", plexus::toString(line.level)},
                         {"message", line.message}};
    if (!line.step.empty()) item["step"] = line.step;
    out["logs"].push_back(std::move(item));
  }
  return out;
}

bool ApiHandler::authorized(const HttpRequest& request) const {
  const std::string& expected = runtime_.settings().apiToken;
  if (expected.empty()) return true;
  const std::string header = request.headers.get("Authorization");
  std::string_view given = bearerToken(header).value_or(std::string_view());
  // Constant time in the token's bytes: no timing hint of a matching prefix.
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i)
    difference |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  return difference == 0;
}

void ApiHandler::handle(const HttpRequest& request, HttpResponse& response) {
  try {
    Poco::URI uri(request.target);
    route(request.method, splitPath(uri.getPath()), request, response);
  } catch (const RequestError& error) {
    sendError(response, error.status(), error.what());
  } catch (const PayloadError& error) {
    sendError(response, error.status(), error.what());
  } catch (const StoreUnavailable& error) {
    sendError(response, 503, error.what());
  } catch (const Poco::SyntaxException& error) {
    sendError(response, 400, "malformed URL: " + error.displayText());
  } catch (const std::exception& error) {
    sendError(response, 500, error.what());
  }
}

void ApiHandler::route(const std::string& method, const std::vector<std::string>& path,
                       const HttpRequest& request, HttpResponse& response) {
  auto is = [&](std::initializer_list<const char*> shape) {
    if (shape.size() != path.size()) return false;
    std::size_t i = 0;
    for (const char* part : shape) {
      if (std::string(part) != "*" && path[i] != part) return false;
      ++i;
    }
    return true;
  };
  if (is({"healthz"})) return sendJson(response, 200, {{"status", "ok"}});
  if (is({"readyz"})) {  // CONTRACT §10: 200 once loaded and the store can store, else 503 {"error"}
    if (auto reason = runtime_.notReadyReason()) return sendError(response, 503, *reason);
    return sendJson(response, 200, {{"status", "ready"}});
  }
  if (is({"executions", "*", "result"}) && method == "GET") return getFinalResult(path[1], response);
  if (path.empty() || path[0] != "api") throw RequestError(404, "no such endpoint");

  if (!authorized(request)) {
    response.headers.set("WWW-Authenticate", "Bearer");
    throw RequestError(401, "this server requires an API token: send the header 'Authorization: Bearer TOKEN'");
  }
  if (is({"api", "executions"}) && method == "GET") return listExecutions(request, response);
  if (is({"api", "executions", "*"}) && method == "GET") return getExecution(path[2], response);
  if (is({"api", "executions", "*", "cancel"}) && method == "POST") return cancelExecution(path[2], response);
  if (is({"api", "executions", "*", "replay"}) && method == "POST")
    return replayExecution(path[2], request, response);
  if (is({"api", "executions", "*", "steps", "*", "result"}) && method == "GET")
    return getStepResult(path[2], path[4], request, response);
  if (path.size() >= 2 && path[1] == "instances") return instances(method, path, request, response);
  if (is({"api", "integrations"}) && method == "GET") return listIntegrations(response);
  if (is({"api", "components"}) && method == "GET") return listComponents(response);
  throw RequestError(404, "no endpoint " + method + " /" + [&] {
    std::string joined;
    for (const auto& part : path) joined += (joined.empty() ? "" : "/") + part;
    return joined;
  }());
}

void ApiHandler::listExecutions(const HttpRequest& request, HttpResponse& response) {
  Poco::URI uri(request.target);
  ExecutionQuery query;
  for (const auto& [name, value] : uri.getQueryParameters()) {
    if (name == "instance") {
      query.instanceId = value;
    } else if (name == "status") {
      query.status = executionStatusFromString(value);
      if (!query.status) throw RequestError(400, "status must be queued, running, succeeded or failed");
    } else if (name == "limit") {
      int limit = 0;
      if (!Poco::NumberParser::tryParse(value, limit) || limit < 1 || limit > 1000)
        throw RequestError(400, "limit must be a number from 1 to 1000");
      query.limit = limit;
    } else {
      throw RequestError(400, "unknown query parameter '" + name + "' (instance, status, limit)");
    }
  }
  plexus::Json out = plexus::Json::array();
  for (const auto& execution : runtime_.store().executions(query)) {
    plexus::Json item = describeExecution(execution);
    item.erase("steps");
    item.erase("logs");
    out.push_back(std::move(item));
  }
  sendJson(response, 200, out);
}

void ApiHandler::getExecution(const std::string& id, HttpResponse& response) {
  auto execution = runtime_.store().execution(id);
  if (!execution) throw RequestError(404, "no execution '" + id + "'");
  sendJson(response, 200, describeExecution(*execution));
}

void ApiHandler::cancelExecution(const std::string& id, HttpResponse& response) {
  switch (runtime_.engine().cancel(id)) {
    case Engine::CancelOutcome::Cancelling:
      return sendJson(response, 202, {{"executionId", id}, {"status", "cancelling"}});
    case Engine::CancelOutcome::Ended: {
      auto execution = runtime_.store().execution(id);
      std::string status = execution ? toString(execution->status) : "ended";
      throw RequestError(409, "execution '" + id + "' has ended already (" + status + "); nothing to cancel");
    }
    case Engine::CancelOutcome::Unknown: break;
  }
  throw RequestError(404, "no execution '" + id + "'");
}

void ApiHandler::replayExecution(const std::string& id, const HttpRequest& request, HttpResponse& response) {
  plexus::Json body = readJsonBody(request);
  if (!body.is_object()) throw RequestError(400, "the body must be a JSON object: {} or {\"fromStep\": \"NAME\"}");
  std::optional<std::string> fromStep;
  for (const auto& [key, value] : body.items()) {
    if (key != "fromStep") throw RequestError(400, "unknown key '" + key + "' in the body (it takes fromStep)");
    if (!value.is_string()) throw RequestError(400, "fromStep must be a step's name, a string");
    fromStep = value.get<std::string>();
  }
  try {
    std::string replay = runtime_.engine().replay(id, fromStep);
    sendJson(response, 201, {{"executionId", replay}, {"replayOf", id}});
  } catch (const ReplayRefused& refused) {
    throw RequestError(refused.status(), refused.what());
  }
}

void ApiHandler::getStepResult(const std::string& id, const std::string& step, const HttpRequest& request,
                               HttpResponse& response) {
  std::optional<int> iteration;
  for (const auto& [name, value] : Poco::URI(request.target).getQueryParameters()) {
    if (name != "iteration") throw RequestError(400, "unknown query parameter '" + name + "' (iteration)");
    int parsed = -1;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (error != std::errc() || end != value.data() + value.size() || parsed < 0)
      throw RequestError(400, "iteration must be a whole number from 0, the iteration of a step inside a loop");
    iteration = parsed;
  }
  std::string missing = "execution '" + id + "' has no result for step '" + step + "'";
  if (iteration) {
    auto result = runtime_.store().stepResult(id, step, *iteration);
    if (!result) throw RequestError(404, missing + " at iteration " + std::to_string(*iteration));
    return sendStoredResult(response, *result, runtime_.settings().maxResponseBytes);
  }
  auto records = runtime_.store().stepIterations(id, step);
  if (records.size() == 1 && records.front().first == -1) {  // a step outside loops
    if (!records.front().second) throw RequestError(404, missing);
    return sendStoredResult(response, *records.front().second, runtime_.settings().maxResponseBytes);
  }
  if (records.empty()) throw RequestError(404, missing);
  // A step inside a loop, without ?iteration: the array of every
  // iteration's result (null for one that has none), in order.
  StoredResult all;
  all.data = plexus::Json::array();
  for (auto& [index, result] : records) {
    if (result && result->isStatus)
      throw RequestError(409, "step '" + step + "' returned a status result at iteration " + std::to_string(index) +
                                  "; ask for it with ?iteration=" + std::to_string(index));
    all.data.push_back(result ? std::move(result->data) : plexus::Json());
  }
  sendStoredResult(response, all, runtime_.settings().maxResponseBytes);
}

void ApiHandler::getFinalResult(const std::string& id, HttpResponse& response) {
  // The GET that follows a synchronous 303 is served from memory.
  if (auto recent = runtime_.recentResults().find(id))
    return sendStoredResult(response, *recent, runtime_.settings().maxResponseBytes);
  auto execution = runtime_.store().execution(id);
  if (!execution) throw RequestError(404, "no execution '" + id + "'");
  if (execution->status == ExecutionStatus::Failed)
    throw RequestError(409, "execution '" + id + "' failed: " + execution->error.value_or(""));
  if (execution->status == ExecutionStatus::Cancelled)
    throw RequestError(409, "execution '" + id + "' was cancelled: " + execution->error.value_or(""));
  if (execution->status != ExecutionStatus::Succeeded)
    throw RequestError(409, "execution '" + id + "' has not ended yet (status " +
                                std::string(toString(execution->status)) + ")");
  auto result = runtime_.store().finalResult(id);
  if (!result) throw RequestError(404, "execution '" + id + "' has no result");
  sendStoredResult(response, *result, runtime_.settings().maxResponseBytes);
}

void ApiHandler::instances(const std::string& method, const std::vector<std::string>& path,
                           const HttpRequest& request, HttpResponse& response) {
  if (path.size() == 2 && method == "GET") {
    plexus::Json out = plexus::Json::array();
    for (const auto& instance : runtime_.store().instances()) out.push_back(runtime_.instances().describe(instance));
    return sendJson(response, 200, out);
  }
  if (path.size() == 2 && method == "POST") {
    InstanceRecord created = runtime_.instances().create(readJsonBody(request));
    return sendJson(response, 201, runtime_.instances().describe(created));
  }
  if (path.size() == 3 && method == "GET") {
    auto instance = runtime_.store().instance(path[2]);
    if (!instance) throw RequestError(404, "no instance '" + path[2] + "'");
    return sendJson(response, 200, runtime_.instances().describe(*instance));
  }
  if (path.size() == 3 && method == "PATCH") {
    InstanceRecord updated = runtime_.instances().update(path[2], readJsonBody(request));
    return sendJson(response, 200, runtime_.instances().describe(updated));
  }
  if (path.size() == 3 && method == "DELETE") {
    runtime_.instances().remove(path[2]);
    response.status = 204;
    return;
  }
  throw RequestError(405, "method " + method + " is not allowed here");
}

void ApiHandler::listIntegrations(HttpResponse& response) {
  plexus::Json out = plexus::Json::array();
  for (const IntegrationPtr& integration : runtime_.integrations().all()) {
    plexus::Json item = {{"key", integration->key},
                         {"name", integration->name},
                         {"description", integration->description},
                         {"file", integration->file},
                         {"trigger", integration->trigger.kind == TriggerKind::Webhook ? "webhook" : "schedule"},
                         {"synchronous", integration->synchronous},
                         {"steps", plexus::Json::array()}};
    for (const auto& step : integration->steps)
      item["steps"].push_back({{"name", step.name}, {"component", step.component}, {"action", step.action}});
    out.push_back(std::move(item));
  }
  sendJson(response, 200, out);
}

void ApiHandler::listComponents(HttpResponse& response) {
  plexus::Json components = plexus::Json::array();
  for (const auto& component : runtime_.components().all()) {
    plexus::Json actions = plexus::Json::array();
    for (const auto& action : component->spec.actions) actions.push_back(action.key);
    plexus::Json triggers = plexus::Json::array();
    for (const auto& trigger : component->spec.triggers) triggers.push_back(trigger.key);
    components.push_back({{"key", component->spec.key},
                          {"version", component->spec.version},
                          {"description", component->spec.description},
                          {"file", component->file},
                          {"actions", actions},
                          {"triggers", triggers}});
  }
  plexus::Json refused = plexus::Json::array();
  for (const auto& refusal : runtime_.components().refusals())
    refused.push_back({{"file", refusal.file}, {"reason", refusal.reason}});
  sendJson(response, 200, {{"components", components}, {"refused", refused}});
}

}  // namespace plexus::core
