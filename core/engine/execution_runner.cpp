#include "engine/execution_runner.hpp"

#include <plexus/json_parse.hpp>

#include "engine/config_values.hpp"
#include "engine/step_invoker.hpp"
#include "integration/template.hpp"
#include "util/time.hpp"

namespace plexus::core {

namespace {
/// The deepest step result kept: above the largest --max-json-depth (8192),
/// below the store's own bound, so any value a body or json.parse produced fits.
constexpr std::size_t kMaxResultDepth = 9000;

/// The Context an action sees: logs go to the store, redacted.
class StepContext : public plexus::Context {
 public:
  StepContext(Store& store, const ExecutionRequest& request, const plexus::Json& configVars,
              const SecretRedactor& redactor, const std::atomic<bool>& cancelled)
      : store_(store), request_(request), configVars_(configVars), redactor_(redactor),
        cancelled_(cancelled) {}

  void setStep(const std::string& step) { step_ = step; }

  const std::string& executionId() const override { return request_.executionId; }
  const std::string& instanceId() const override { return request_.instance.id; }
  const std::string& instanceName() const override { return request_.instance.name; }
  const plexus::Json& configVars() const override { return configVars_; }
  void log(plexus::LogLevel level, const std::string& message) override {
    store_.appendLog(request_.executionId, LogRecord{nowMs(), level, step_, redactor_.redact(message)});
  }
  std::chrono::steady_clock::time_point deadline() const override {
    return std::chrono::steady_clock::time_point::max();
  }
  bool cancelled() const override { return cancelled_.load(std::memory_order_relaxed); }

 private:
  Store& store_;
  const ExecutionRequest& request_;
  const plexus::Json& configVars_;
  const SecretRedactor& redactor_;
  const std::atomic<bool>& cancelled_;
  std::string step_;
};

plexus::Json statusAsJson(const plexus::StatusResult& status) {
  plexus::Json out = {{"statusCode", status.statusCode}, {"headers", plexus::Json::object()}};
  for (const auto& [name, value] : status.headers) out["headers"][name] = value;
  if (status.body) out["body"] = *status.body;
  return out;
}

/// Takes the request's trigger results (the scope is their only reader).
plexus::Json initialScope(ExecutionRequest& request, const plexus::Json& configVars, TimePoint startedAt) {
  const IntegrationSpec& integration = *request.integration;
  return plexus::Json{
      {"trigger", {{"results", std::move(request.triggerResults)}}},
      {"steps", plexus::Json::object()},
      {"configVars", configVars},
      {"instance", {{"id", request.instance.id}, {"name", request.instance.name}}},
      {"integration", {{"key", integration.key}, {"name", integration.name}}},
      {"execution", {{"id", request.executionId}, {"startedAt", formatIsoMs(startedAt)}}}};
}

}  // namespace

ExecutionOutcome ExecutionRunner::run(ExecutionRequest request, const std::string& recoveryNote) {
  const IntegrationSpec& integration = *request.integration;
  ExecutionOutcome outcome;
  outcome.executionId = request.executionId;

  TimePoint startedAt = nowMs();
  store_.markRunning(request.executionId, startedAt);
  if (!recoveryNote.empty())
    store_.appendLog(request.executionId, LogRecord{startedAt, plexus::LogLevel::Warn, "", recoveryNote});

  std::shared_ptr<void> prepared;  // held until the execution ends
  if (prepare_) {
    try {
      prepared = prepare_(request);
    } catch (const std::exception& error) {
      store_.appendLog(request.executionId, LogRecord{nowMs(), plexus::LogLevel::Error, "", error.what()});
      outcome.status = ExecutionStatus::Failed;
      outcome.error = error.what();
      outcome.endedAt = nowMs();
      return outcome;
    }
  }
  plexus::Json configVars = effectiveConfigVars(integration, request.instance);
  std::vector<std::string> secrets = secretValues(integration, configVars);
  plexus::Json scope = initialScope(request, configVars, startedAt);
  SecretRedactor redactor(secrets);
  StepContext context(store_, request, configVars, redactor, cancelled_);

  std::optional<StoredResult> last;
  for (const StepSpec& step : integration.steps) {
    StepRecord record{step.name, step.component, step.action, StepStatus::Running, nowMs(), {}, {}};
    store_.recordStepStarted(request.executionId, record);
    context.setStep(step.name);
    try {
      LoadedComponentPtr component = catalog_.find(step.component);
      if (!component)
        throw StepError("step '" + step.name + "': component '" + step.component +
                        "' is not loaded (see `plexus components list`)");
      const plexus::ActionSpec* action = component->spec.action(step.action);
      if (!action)
        throw StepError("step '" + step.name + "': component '" + step.component +
                        "' has no action '" + step.action + "'");
      outcome.keepAlive.push_back(component);

      plexus::Inputs inputs;
      try {
        inputs = action->prepareInputs(step.compiledInputs ? step.compiledInputs->render(scope)
                                                             : resolveInputs(step.inputs, scope));
      } catch (const std::exception& error) {
        throw StepError("step '" + step.name + "': " + error.what());
      }
      plexus::Result result = invokeAction(*component, *action, inputs, context, step.name);

      StoredResult stored;
      if (result.isStatus()) {
        stored.isStatus = true;
        stored.status = result.status();
        if (stored.status.statusCode < 100 || stored.status.statusCode > 599)
          throw StepError("step '" + step.name + "': statusCode " +
                          std::to_string(stored.status.statusCode) + " is not between 100 and 599");
        scope["steps"][step.name]["results"] = statusAsJson(stored.status);
      } else {
        // A component may build a value deeper than any parser would accept;
        // copying, storing or serving it would recurse once per level.
        if (plexus::jsonDepth(result.data(), kMaxResultDepth) > kMaxResultDepth)
          throw StepError("step '" + step.name + "': the result is nested deeper than " +
                          std::to_string(kMaxResultDepth) + " levels; return a flatter value");
        stored.data = result.data();
        scope["steps"][step.name]["results"] = stored.data;
      }
      record.status = StepStatus::Succeeded;
      record.endedAt = nowMs();
      store_.recordStepFinished(request.executionId, record, stored);
      last = std::move(stored);
      if (last->isStatus) break;  // A status-code result ends the execution here.
    } catch (const std::exception& error) {
      std::string message = redactor.redact(error.what());
      record.status = StepStatus::Failed;
      record.endedAt = nowMs();
      record.error = message;
      store_.recordStepFinished(request.executionId, record, std::nullopt);
      context.log(plexus::LogLevel::Error, message);
      outcome.status = ExecutionStatus::Failed;
      outcome.error = message;
      outcome.errorStep = step.name;
      outcome.endedAt = nowMs();
      return outcome;
    }
  }
  outcome.status = ExecutionStatus::Succeeded;
  outcome.result = std::move(last);
  outcome.endedAt = nowMs();
  return outcome;
}

}  // namespace plexus::core
