#include "engine/execution_runner.hpp"

#include <unordered_map>

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
/// The longest wait a step may ask for (Result::afterDelay): 30 days.
constexpr long long kMaxDelayMs = 30LL * 24 * 60 * 60 * 1000;

/// The Context an action sees: logs go to the store, redacted; deadline and
/// cancellation come from the execution's control block.
class StepContext : public plexus::Context {
 public:
  StepContext(Store& store, const ExecutionRequest& request, const plexus::Json& configVars,
              const SecretRedactor& redactor, const ExecutionControl& control, const TimeSource& clock)
      : store_(store), request_(request), configVars_(configVars), redactor_(redactor), control_(control),
        clock_(clock) {}

  void setStep(const std::string& step) { step_ = step; }

  const std::string& executionId() const override { return request_.executionId; }
  const std::string& instanceId() const override { return request_.instance.id; }
  const std::string& instanceName() const override { return request_.instance.name; }
  const plexus::Json& configVars() const override { return configVars_; }
  void log(plexus::LogLevel level, const std::string& message) override {
    // An abandoned step's thread may go on logging: its execution has ended.
    if (control_.abandoned()) return;
    store_.appendLog(request_.executionId, LogRecord{clock_.now(), level, step_, redactor_.redact(message)});
  }
  std::chrono::steady_clock::time_point deadline() const override { return control_.deadline(); }
  bool cancelled() const override {
    return control_.stopReason() != StopReason::None || clock_.steadyNow() >= control_.deadline();
  }

 private:
  Store& store_;
  const ExecutionRequest& request_;
  const plexus::Json& configVars_;
  const SecretRedactor& redactor_;
  const ExecutionControl& control_;
  const TimeSource& clock_;
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

std::string stopMessage(StopReason reason, const IntegrationSpec& integration) {
  switch (reason) {
    case StopReason::Cancelled: return "cancelled (POST /api/executions/ID/cancel)";
    case StopReason::TimedOut:
      return "the execution timed out after " + std::to_string(integration.timeoutMs.value_or(0)) +
             " ms (execution.timeoutMs)";
    case StopReason::ShuttingDown: return "the server is shutting down; the execution resumes after the restart";
    case StopReason::None: break;
  }
  return "stopped";
}

namespace {

ExecutionStatus statusFor(StopReason reason) {
  return reason == StopReason::Cancelled ? ExecutionStatus::Cancelled : ExecutionStatus::Failed;
}

/// The execution's deadline as the monotonic clock sees it, from when it
/// first started (waits count: execution.timeoutMs is the whole run).
std::chrono::steady_clock::time_point executionDeadline(const IntegrationSpec& integration, TimePoint startedAt,
                                                       const TimeSource& clock) {
  if (!integration.timeoutMs) return std::chrono::steady_clock::time_point::max();
  auto left = (startedAt + std::chrono::milliseconds(*integration.timeoutMs)) - clock.now();
  return clock.steadyNow() + left;
}

}  // namespace

Slice ExecutionRunner::run(ExecutionRequest request, Start start, const std::string& note,
                           ExecutionControl& control) {
  const IntegrationSpec& integration = *request.integration;
  Slice slice;
  ExecutionOutcome& outcome = slice.outcome;
  outcome.executionId = request.executionId;
  auto end = [&](ExecutionStatus status, std::string error, std::optional<std::string> errorStep) -> Slice& {
    outcome.status = status;
    outcome.error = std::move(error);
    outcome.errorStep = std::move(errorStep);
    outcome.endedAt = clock_.now();
    return slice;
  };

  TimePoint now = clock_.now();
  TimePoint startedAt = request.startedAt && start != Start::First ? *request.startedAt : now;
  if (start == Start::AfterWait)
    store_.resumeExecution(request.executionId);
  else
    store_.markRunning(request.executionId, startedAt);
  if (!note.empty()) store_.appendLog(request.executionId, LogRecord{now, plexus::LogLevel::Warn, "", note});
  control.setExecutionDeadline(executionDeadline(integration, startedAt, clock_));

  std::shared_ptr<void> prepared;  // held until the slice ends
  if (prepare_) {
    try {
      prepared = prepare_(request);
    } catch (const std::exception& error) {
      store_.appendLog(request.executionId, LogRecord{clock_.now(), plexus::LogLevel::Error, "", error.what()});
      return end(ExecutionStatus::Failed, error.what(), std::nullopt);
    }
  }
  std::unordered_map<std::string, RecordedStep> recorded;
  if (start != Start::First)
    for (RecordedStep& step : store_.recordedSteps(request.executionId)) recorded.emplace(step.name, std::move(step));

  plexus::Json configVars = effectiveConfigVars(integration, request.instance);
  std::vector<std::string> secrets = secretValues(integration, configVars);
  plexus::Json scope = initialScope(request, configVars, startedAt);
  SecretRedactor redactor(secrets);
  StepContext context(store_, request, configVars, redactor, control, clock_);

  std::optional<StoredResult> last;
  std::size_t resumedAfter = 0;
  for (const StepSpec& step : integration.steps) {
    if (auto it = recorded.find(step.name); it != recorded.end()) {
      RecordedStep& done = it->second;
      if (done.status == StepStatus::Waiting && clock_.steadyNow() >= control.executionDeadline()) {
        // Woken early by the execution's deadline (see wakeAt below).
        control.requestStop(StopReason::TimedOut, clock_.steadyNow());
        std::string message = stopMessage(StopReason::TimedOut, integration);
        StepRecord record{step.name, step.component, step.action, StepStatus::Failed, done.startedAt, clock_.now(),
                          message};
        store_.recordStepFinished(request.executionId, record, std::nullopt);
        store_.appendLog(request.executionId, LogRecord{clock_.now(), plexus::LogLevel::Error, step.name, message});
        return end(ExecutionStatus::Failed, message, step.name);
      }
      if (done.status == StepStatus::Waiting) {
        // Its wait is over (the wake-up brought us here, or a restart after
        // it): the pending result becomes the step's.
        StepRecord record{step.name, step.component, step.action, StepStatus::Succeeded, done.startedAt,
                          clock_.now(), {}};
        store_.recordStepFinished(request.executionId, record, done.result);
      } else {
        ++resumedAfter;
      }
      scope["steps"][step.name]["results"] =
          done.result.isStatus ? statusAsJson(done.result.status) : done.result.data;
      last = std::move(done.result);
      if (last->isStatus) break;
      continue;
    }
    if (resumedAfter > 0 && start == Start::Again) {
      store_.appendLog(request.executionId,
                       LogRecord{clock_.now(), plexus::LogLevel::Info, "",
                                 "resuming at step '" + step.name + "': the results of the " +
                                     std::to_string(resumedAfter) + " step(s) before it were recorded and are "
                                     "not computed again"});
      resumedAfter = 0;
    }
    if (StopReason reason = control.stopReason(); reason != StopReason::None) {
      if (reason == StopReason::ShuttingDown) {
        slice.end = Slice::End::Stopped;
        return slice;
      }
      return end(statusFor(reason), stopMessage(reason, integration), std::nullopt);
    }
    if (clock_.steadyNow() >= control.executionDeadline()) {
      control.requestStop(StopReason::TimedOut, clock_.steadyNow());
      std::string message = stopMessage(StopReason::TimedOut, integration);
      store_.appendLog(request.executionId, LogRecord{clock_.now(), plexus::LogLevel::Error, "", message});
      return end(ExecutionStatus::Failed, message, std::nullopt);
    }

    StepRecord record{step.name, step.component, step.action, StepStatus::Running, clock_.now(), {}, {}};
    store_.recordStepStarted(request.executionId, record);
    context.setStep(step.name);
    auto stepDeadline = step.timeoutMs ? clock_.steadyNow() + std::chrono::milliseconds(*step.timeoutMs)
                                       : std::chrono::steady_clock::time_point::max();
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
      control.setStepDeadline(stepDeadline);
      control.stepStarted(record, step.timeoutMs);
      std::optional<plexus::Result> returned;
      std::exception_ptr thrown;
      try {
        returned = invokeAction(*component, *action, inputs, context, step.name);
      } catch (const StepError&) {
        thrown = std::current_exception();
      }
      if (!control.stepReturned()) {
        // The supervisor gave up on it and recorded its end: drop what it made.
        slice.end = Slice::End::Stopped;
        return slice;
      }
      control.setStepDeadline(std::chrono::steady_clock::time_point::max());
      if (StopReason reason = control.stopReason(); reason == StopReason::ShuttingDown) {
        slice.end = Slice::End::Stopped;  // not recorded: the step runs again after the restart
        return slice;
      } else if (reason != StopReason::None) {
        throw StepError("step '" + step.name + "': " + stopMessage(reason, integration));
      }
      if (step.timeoutMs && clock_.steadyNow() >= stepDeadline)
        throw StepError("step '" + step.name + "' timed out after " + std::to_string(*step.timeoutMs) +
                        " ms (its timeoutMs)");
      if (thrown) std::rethrow_exception(thrown);
      plexus::Result& result = *returned;

      StoredResult stored;
      if (result.isStatus()) {
        stored.isStatus = true;
        stored.status = result.status();
        if (stored.status.statusCode < 100 || stored.status.statusCode > 599)
          throw StepError("step '" + step.name + "': statusCode " +
                          std::to_string(stored.status.statusCode) + " is not between 100 and 599");
        scope["steps"][step.name]["results"] = statusAsJson(stored.status);
      } else {
        const plexus::Json& data = result.isDelayed() ? result.delayed().value : result.data();
        // A component may build a value deeper than any parser would accept;
        // copying, storing or serving it would recurse once per level.
        if (plexus::jsonDepth(data, kMaxResultDepth) > kMaxResultDepth)
          throw StepError("step '" + step.name + "': the result is nested deeper than " +
                          std::to_string(kMaxResultDepth) + " levels; return a flatter value");
        stored.data = data;
        if (result.isDelayed() && result.delayed().delay > std::chrono::milliseconds::zero()) {
          if (result.delayed().delay.count() > kMaxDelayMs)
            throw StepError("step '" + step.name + "': asked to wait " +
                            std::to_string(result.delayed().delay.count()) + " ms; the longest wait is " +
                            std::to_string(kMaxDelayMs) + " ms (30 days)");
          record.status = StepStatus::Waiting;
          slice.end = Slice::End::Suspended;
          slice.waitingStep = record;
          slice.pendingResult = std::move(stored);
          slice.wakeAt = clock_.now() + result.delayed().delay;
          if (integration.timeoutMs)  // the deadline wakes it to fail it, not the end of its wait
            slice.wakeAt = std::min(slice.wakeAt, startedAt + std::chrono::milliseconds(*integration.timeoutMs));
          return slice;
        }
        scope["steps"][step.name]["results"] = stored.data;
      }
      record.status = StepStatus::Succeeded;
      record.endedAt = clock_.now();
      store_.recordStepFinished(request.executionId, record, stored);
      last = std::move(stored);
      if (last->isStatus) break;  // A status-code result ends the execution here.
    } catch (const std::exception& error) {
      control.setStepDeadline(std::chrono::steady_clock::time_point::max());
      std::string message = redactor.redact(error.what());
      record.status = StepStatus::Failed;
      record.endedAt = clock_.now();
      record.error = message;
      store_.recordStepFinished(request.executionId, record, std::nullopt);
      context.log(plexus::LogLevel::Error, message);
      return end(statusFor(control.stopReason()), message, step.name);
    }
  }
  outcome.status = ExecutionStatus::Succeeded;
  outcome.result = std::move(last);
  outcome.endedAt = clock_.now();
  return slice;
}

}  // namespace plexus::core
