#include "engine/execution_runner.hpp"

#include <random>
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
  StepContext(const StepContext&) = delete;
  StepContext& operator=(const StepContext&) = delete;

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

/// Where a lane is inside the integration's steps: one frame per list being
/// run (the top level or an iteration, and a branch's taken case in it).
struct Frame {
  const std::vector<StepSpec>* steps = nullptr;
  std::size_t next = 0;               ///< The step being run, or looked at next.
  const StepSpec* owner = nullptr;    ///< The branch or loop these steps belong to; null at the top.
  int iteration = -1;                 ///< The loop iteration these steps run in, or -1.
  std::optional<StoredResult> last;   ///< The last result of this list so far.
};

/// One line of control: the top level (the main lane), or one iteration of
/// the loop being run. Lanes take turns on the slice's thread, so nothing
/// here is shared between threads; a lane that waits (an HTTP answer, a
/// delay, a retry) lets the others run.
struct Lane {
  std::vector<Frame> frames;
  std::vector<StepRecord> containers;  ///< The branches open in this lane, outermost first.
  // Its running step (valid while it runs or awaits its exchange).
  StepRecord record;
  std::chrono::steady_clock::time_point stepDeadline = std::chrono::steady_clock::time_point::max();
  LoadedComponentPtr component;
  const plexus::ActionSpec* action = nullptr;  // in *component
  plexus::HttpContinuation then;
  // An iteration lane's own scope: its item and index, and its steps'
  // entries of scope.steps while another lane runs.
  plexus::Json loopVars;
  plexus::Json saved = plexus::Json::object();
  // What it waits for.
  enum class Wait { None, Http, Timer } wait = Wait::None;
  plexus::HttpRequest request;
  std::chrono::steady_clock::time_point httpDeadline = std::chrono::steady_clock::time_point::max();
  TimePoint wakeAt{};
  std::optional<StoredResult> pending;  ///< A delay's result (Timer).
};

/// The one loop being run (loops do not nest): its items, its iterations'
/// lanes, and the result of each iteration so far.
struct LoopProgress {
  const StepSpec* step = nullptr;
  plexus::Json items = plexus::Json::array();
  plexus::Json results = plexus::Json::array();  ///< One per item, null until its iteration ends.
  std::size_t nextIndex = 0;                     ///< The first iteration not started.
  std::vector<std::unique_ptr<Lane>> lanes;      ///< Started, not ended: at most step->loop.concurrency.
  std::vector<std::string> innerNames;           ///< Every step name inside the loop.
  StepRecord record;                             ///< The loop step's own record.
  bool recordOpen = true;                        ///< Not yet recorded ended.
};

/// What a slice has in scope. Kept on the heap (the context points into it)
/// and, while steps await their HTTP answers, held by the engine.
struct RunState {
  RunState(Store& store, ExecutionRequest executionRequest, const ExecutionControl& control, const TimeSource& clock)
      : request(std::move(executionRequest)),
        configVars(effectiveConfigVars(*request.integration, request.instance)),
        redactor(secretValues(*request.integration, configVars)),
        context(store, request, configVars, redactor, control, clock) {}
  RunState(const RunState&) = delete;
  RunState& operator=(const RunState&) = delete;

  ExecutionRequest request;
  plexus::Json configVars;
  SecretRedactor redactor;
  StepContext context;  // refers to the three above
  RunStart start = RunStart::First;
  TimePoint startedAt{};
  std::shared_ptr<void> prepared;  // held until the execution ends or stops
  std::unordered_map<std::string, RecordedStep> recorded;  // by recordKey()
  plexus::Json scope;
  Lane main;
  std::optional<LoopProgress> loop;
  Lane* current = &main;  // the lane whose step runs
  std::size_t resumedAfter = 0;
  std::vector<LoadedComponentPtr> keepAlive;

  Lane& lane() { return *current; }
  Frame& frame() { return current->frames.back(); }
  const StepSpec& step() const { return (*current->frames.back().steps)[current->frames.back().next]; }
  int iteration() const { return current->frames.back().iteration; }
  std::string parent() const {
    const Frame& top = current->frames.back();
    return top.owner ? top.owner->name : std::string();
  }
};

namespace {

/// The longest array a loop takes: each iteration records its steps.
constexpr std::size_t kMaxLoopItems = 100000;

std::string recordKey(const std::string& name, int iteration) {
  return iteration < 0 ? name : name + '\x1f' + std::to_string(iteration);
}

plexus::Json resultAsJson(const StoredResult& result) {
  return result.isStatus ? statusAsJson(result.status) : result.data;
}

/// The slice that ends the execution with `status`.
Slice ended(RunState& state, ExecutionStatus status, std::optional<std::string> error,
            std::optional<std::string> errorStep, const TimeSource& clock) {
  Slice slice;
  slice.outcome.executionId = state.request.executionId;
  slice.outcome.status = status;
  slice.outcome.error = std::move(error);
  slice.outcome.errorStep = std::move(errorStep);
  slice.outcome.endedAt = clock.now();
  slice.outcome.keepAlive = std::move(state.keepAlive);
  if (status == ExecutionStatus::Succeeded && !state.main.frames.empty())
    slice.outcome.result = std::move(state.main.frames.front().last);
  return slice;
}

Slice stopped() {
  Slice slice;
  slice.end = Slice::End::Stopped;
  return slice;
}

/// The marker a lane's step returns when it waits: the scheduler runs the
/// other lanes, or hands the waits to the engine.
Slice blocked() {
  Slice slice;
  slice.end = Slice::End::Blocked;
  return slice;
}

/// How long to wait before attempt `attempt + 1`, after `attempt` failed.
std::chrono::milliseconds retryDelay(const RetrySpec& retry, int attempt) {
  long double delay = static_cast<long double>(retry.delayMs);
  if (retry.exponential)
    for (int i = 1; i < attempt && delay < retry.maxDelayMs; ++i) delay *= 2;
  long long wait = static_cast<long long>(std::min<long double>(delay, retry.maxDelayMs));
  if (retry.jitter && wait > 1) {
    thread_local std::mt19937_64 random{std::random_device{}()};
    wait = std::uniform_int_distribution<long long>(wait / 2, wait)(random);
  }
  return std::chrono::milliseconds(wait);
}

}  // namespace

Slice ExecutionRunner::run(ExecutionRequest request, Start start, const std::string& note,
                           ExecutionControl& control) {
  const IntegrationSpec& integration = *request.integration;
  TimePoint now = clock_.now();
  TimePoint startedAt = request.startedAt && start != Start::First ? *request.startedAt : now;
  const std::string executionId = request.executionId;
  if (start == Start::AfterWait)
    store_.resumeExecution(executionId);
  else if (start == Start::Due)
    store_.startWhenDue(executionId, startedAt);
  else
    store_.markRunning(executionId, startedAt);
  if (!note.empty()) store_.appendLog(executionId, LogRecord{now, plexus::LogLevel::Warn, "", note});
  control.setExecutionDeadline(executionDeadline(integration, startedAt, clock_));

  std::shared_ptr<void> prepared;
  if (prepare_) {
    try {
      prepared = prepare_(request);
    } catch (const std::exception& error) {
      store_.appendLog(executionId, LogRecord{clock_.now(), plexus::LogLevel::Error, "", error.what()});
      Slice slice;
      slice.outcome.executionId = executionId;
      slice.outcome.status = ExecutionStatus::Failed;
      slice.outcome.error = error.what();
      slice.outcome.endedAt = clock_.now();
      return slice;
    }
  }
  auto state = std::make_shared<RunState>(store_, std::move(request), control, clock_);
  state->start = start;
  state->startedAt = startedAt;
  state->prepared = std::move(prepared);
  if (start != Start::First && start != Start::Due)
    for (RecordedStep& step : store_.recordedSteps(executionId)) {
      std::string key = recordKey(step.name, step.iteration);
      state->recorded.insert_or_assign(std::move(key), std::move(step));
    }
  state->scope = initialScope(state->request, state->configVars, startedAt);
  state->main.frames.push_back(Frame{&state->request.integration->steps, 0, nullptr, -1, std::nullopt});
  return conclude(*state, advance(state, control));
}

std::optional<Slice> ExecutionRunner::stopIfAsked(RunState& run, ExecutionControl& control) {
  const IntegrationSpec& integration = *run.request.integration;
  if (StopReason reason = control.stopReason(); reason != StopReason::None) {
    if (reason == StopReason::ShuttingDown) return stopped();
    return ended(run, statusFor(reason), stopMessage(reason, integration), std::nullopt, clock_);
  }
  if (clock_.steadyNow() >= control.executionDeadline()) {
    control.requestStop(StopReason::TimedOut, clock_.steadyNow());
    std::string message = stopMessage(StopReason::TimedOut, integration);
    store_.appendLog(run.request.executionId, LogRecord{clock_.now(), plexus::LogLevel::Error, "", message});
    return ended(run, ExecutionStatus::Failed, message, std::nullopt, clock_);
  }
  return std::nullopt;
}

ExecutionRunner::LaneStop ExecutionRunner::runLane(const std::shared_ptr<RunState>& state, ExecutionControl& control) {
  RunState& run = *state;
  const IntegrationSpec& integration = *run.request.integration;
  const std::string& executionId = run.request.executionId;
  bool isMain = run.current == &run.main;
  auto endWith = [](Slice slice) { return LaneStop{LaneStop::Kind::Ended, std::move(slice)}; };
  for (;;) {
    Frame& frame = run.frame();
    if (frame.next >= frame.steps->size()) {
      if (run.lane().frames.size() == 1) return LaneStop{LaneStop::Kind::Done, {}};
      finishBranch(run);
      continue;
    }
    const StepSpec& step = run.step();
    run.context.setStep(step.name);
    auto it = run.recorded.empty() ? run.recorded.end() : run.recorded.find(recordKey(step.name, run.iteration()));
    if (it != run.recorded.end()) {
      RecordedStep& done = it->second;
      if (done.status == StepStatus::Waiting && clock_.steadyNow() >= control.executionDeadline()) {
        // Woken early by the execution's deadline (see wakeAt in suspend).
        control.requestStop(StopReason::TimedOut, clock_.steadyNow());
        std::string message = stopMessage(StopReason::TimedOut, integration);
        StepRecord record = recordFor(run, step);
        record.status = StepStatus::Failed;
        record.startedAt = done.startedAt;
        record.endedAt = clock_.now();
        record.error = message;
        record.attempts = done.attempts;
        store_.recordStepFinished(executionId, record, std::nullopt);
        store_.appendLog(executionId, LogRecord{clock_.now(), plexus::LogLevel::Error, step.name, message});
        return endWith(ended(run, ExecutionStatus::Failed, message, step.name, clock_));
      }
      bool waitOver = !done.wakeAt || *done.wakeAt <= clock_.now();
      std::optional<TimePoint> stepTimesOut;
      if (step.timeoutMs && done.result) stepTimesOut = done.startedAt + std::chrono::milliseconds(*step.timeoutMs);
      if (done.status == StepStatus::Waiting && !waitOver && stepTimesOut && clock_.now() >= *stepTimesOut) {
        // A delay longer than the step's timeoutMs: the timeout ends it.
        run.lane().record = recordFor(run, step);
        run.lane().record.startedAt = done.startedAt;
        run.lane().record.attempts = done.attempts;
        run.recorded.erase(it);
        std::string message =
            "step '" + step.name + "' timed out after " + std::to_string(*step.timeoutMs) + " ms (its timeoutMs)";
        if (std::optional<Slice> slice = stepFailed(run, message, control)) {
          if (slice->end == Slice::End::Blocked) return LaneStop{LaneStop::Kind::Blocked, {}};
          return endWith(std::move(*slice));
        }
        ++run.frame().next;
        continue;
      }
      if (done.status == StepStatus::Waiting && !waitOver) {
        // Its wait is not over (another lane's, or its timeout, woke the
        // execution first): it goes on waiting.
        Lane& lane = run.lane();
        lane.record = recordFor(run, step);
        lane.record.startedAt = done.startedAt;
        lane.record.attempts = done.attempts;
        lane.record.status = StepStatus::Waiting;
        lane.record.wakeAt = done.wakeAt;
        lane.pending = done.result;
        lane.wakeAt = stepTimesOut ? std::min(*done.wakeAt, *stepTimesOut) : *done.wakeAt;
        lane.wait = Lane::Wait::Timer;
        return LaneStop{LaneStop::Kind::Blocked, {}};
      }
      if (done.status == StepStatus::Waiting && !done.result) {
        // A retry's wait is over: the step runs again, as its next attempt.
        run.lane().record = recordFor(run, step);
        run.lane().record.attempts = done.attempts + 1;
        run.recorded.erase(it);
        if (std::optional<Slice> slice = runAction(state, control)) {
          if (slice->end == Slice::End::Blocked) return LaneStop{LaneStop::Kind::Blocked, {}};
          return endWith(std::move(*slice));
        }
        ++run.frame().next;
        continue;
      }
      if (done.status == StepStatus::Failed) {
        // It failed before a restart: with onError: continue the run went
        // on after it; otherwise the execution fails with its error.
        std::string error = done.error.value_or("failed");
        if (step.onError != OnError::Continue)
          return endWith(ended(run, ExecutionStatus::Failed, error, step.name, clock_));
        ++run.resumedAfter;
        run.scope["steps"][step.name] = {{"results", nullptr}, {"error", error}};
        frame.last = StoredResult{};
        ++frame.next;
        continue;
      }
      if (done.status == StepStatus::Waiting) {
        // Its wait is over (the wake-up brought us here, or a restart after
        // it): the pending result becomes the step's.
        StepRecord record = recordFor(run, step);
        record.status = StepStatus::Succeeded;
        record.startedAt = done.startedAt;
        record.endedAt = clock_.now();
        record.attempts = done.attempts;
        store_.recordStepFinished(executionId, record, done.result);
      } else {
        ++run.resumedAfter;
      }
      run.scope["steps"][step.name]["results"] = resultAsJson(*done.result);
      frame.last = std::move(done.result);
      run.recorded.erase(it);
      if (frame.last->isStatus) return endWith(endWithStatus(run));
      ++frame.next;
      continue;
    }
    if (run.resumedAfter > 0 && run.start == Start::Again) {
      store_.appendLog(executionId,
                       LogRecord{clock_.now(), plexus::LogLevel::Info, "",
                                 "resuming at step '" + step.name + "': the results of the " +
                                     std::to_string(run.resumedAfter) + " step(s) before it were recorded and are "
                                     "not computed again"});
      run.resumedAfter = 0;
    }
    if (std::optional<Slice> slice = stopIfAsked(run, control)) return endWith(std::move(*slice));

    if (step.kind == StepSpec::Kind::Branch) {
      if (std::optional<Slice> slice = enterBranch(run)) return endWith(std::move(*slice));
      continue;
    }
    if (step.kind == StepSpec::Kind::Loop && isMain) {
      if (std::optional<Slice> slice = enterLoop(run)) return endWith(std::move(*slice));
      if (run.loop) return LaneStop{LaneStop::Kind::AtLoop, {}};
      continue;  // an empty loop ended at once
    }
    run.lane().record = recordFor(run, step);
    if (std::optional<Slice> slice = runAction(state, control)) {
      if (slice->end == Slice::End::Blocked) return LaneStop{LaneStop::Kind::Blocked, {}};
      return endWith(std::move(*slice));
    }
    ++run.frame().next;
  }
}

Slice ExecutionRunner::advance(const std::shared_ptr<RunState>& state, ExecutionControl& control) {
  RunState& run = *state;
  for (;;) {
    if (run.loop) {
      if (std::optional<Slice> slice = driveLoop(state, control)) return std::move(*slice);
      continue;  // the loop ended; the main lane goes on after it
    }
    run.current = &run.main;
    if (run.main.wait != Lane::Wait::None) return handOverWaits(state);  // its step asked for another exchange
    LaneStop stop = runLane(state, control);
    switch (stop.kind) {
      case LaneStop::Kind::Ended: return std::move(stop.slice);
      case LaneStop::Kind::Done: return ended(run, ExecutionStatus::Succeeded, std::nullopt, std::nullopt, clock_);
      case LaneStop::Kind::AtLoop: continue;
      case LaneStop::Kind::Blocked: return handOverWaits(state);
    }
  }
}

void ExecutionRunner::activate(RunState& run, Lane& lane) {
  run.current = &lane;
  if (&lane == &run.main) return;
  plexus::Json& steps = run.scope["steps"];
  for (auto& [name, entry] : lane.saved.items()) steps[name] = std::move(entry);
  lane.saved = plexus::Json::object();
  run.scope["loop"] = lane.loopVars;
}

void ExecutionRunner::deactivate(RunState& run, Lane& lane) {
  run.current = &run.main;
  if (&lane == &run.main) return;
  plexus::Json& steps = run.scope["steps"];
  for (const std::string& name : run.loop->innerNames) {
    auto it = steps.find(name);
    if (it == steps.end()) continue;
    lane.saved[name] = std::move(*it);
    steps.erase(it);
  }
  run.scope.erase("loop");
}

std::optional<Slice> ExecutionRunner::driveLoop(const std::shared_ptr<RunState>& state, ExecutionControl& control) {
  RunState& run = *state;
  LoopProgress& loop = *run.loop;
  const auto concurrency = static_cast<std::size_t>(loop.step->loop.concurrency);
  for (;;) {
    while (loop.lanes.size() < concurrency && loop.nextIndex < loop.items.size()) {
      auto lane = std::make_unique<Lane>();
      int index = static_cast<int>(loop.nextIndex++);
      lane->frames.push_back(Frame{&loop.step->loop.steps, 0, loop.step, index, std::nullopt});
      lane->loopVars = {{"item", loop.items[static_cast<std::size_t>(index)]}, {"index", index}};
      loop.lanes.push_back(std::move(lane));
    }
    if (loop.lanes.empty()) {
      finishLoop(run);
      return std::nullopt;
    }
    bool ranOne = false;
    for (std::size_t i = 0; i < loop.lanes.size();) {
      Lane& lane = *loop.lanes[i];
      if (lane.wait == Lane::Wait::Timer && clock_.now() >= lane.wakeAt) lane.wait = Lane::Wait::None;
      if (lane.wait != Lane::Wait::None) {
        ++i;
        continue;
      }
      activate(run, lane);
      LaneStop stop = runLane(state, control);
      deactivate(run, lane);
      ranOne = true;
      if (stop.kind == LaneStop::Kind::Ended) return std::move(stop.slice);
      if (stop.kind == LaneStop::Kind::Done) {
        std::size_t index = static_cast<std::size_t>(lane.frames.front().iteration);
        const std::optional<StoredResult>& last = lane.frames.front().last;
        loop.results[index] = last ? last->data : plexus::Json();
        loop.lanes.erase(loop.lanes.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      ++i;  // Blocked
    }
    if (!ranOne) return handOverWaits(state);
  }
}

Slice ExecutionRunner::handOverWaits(const std::shared_ptr<RunState>& state) {
  RunState& run = *state;
  std::vector<Lane*> waiting;
  if (run.loop) {
    for (auto& lane : run.loop->lanes) waiting.push_back(lane.get());
  } else {
    waiting.push_back(&run.main);
  }
  Slice slice;
  for (Lane* lane : waiting)
    if (lane->wait == Lane::Wait::Http)
      slice.exchanges.push_back(Slice::Exchange{lane, std::move(lane->request), lane->httpDeadline});
  if (!slice.exchanges.empty()) {
    slice.end = Slice::End::AwaitingHttp;
    slice.state = state;
    return slice;
  }
  // Only timers: the execution waits, holding no thread, until the first.
  Lane* first = nullptr;
  for (Lane* lane : waiting)
    if (lane->wait == Lane::Wait::Timer && (!first || lane->wakeAt < first->wakeAt)) first = lane;
  slice.end = Slice::End::Suspended;
  slice.waitingStep = first->record;
  slice.pendingResult = first->pending;
  slice.wakeAt = first->wakeAt;
  const IntegrationSpec& integration = *run.request.integration;
  if (integration.timeoutMs)  // the deadline wakes it to fail it, not the end of its wait
    slice.wakeAt = std::min(slice.wakeAt, run.startedAt + std::chrono::milliseconds(*integration.timeoutMs));
  return slice;
}

Slice ExecutionRunner::conclude(RunState& run, Slice slice) {
  // A stop (shutdown, or a step given up on) records nothing here: the
  // execution resumes after the restart as it is in the store, and a given-
  // up step's thread must not touch the store at all.
  if (slice.end != Slice::End::Ended) return slice;
  const ExecutionOutcome& outcome = slice.outcome;
  std::string why = outcome.status == ExecutionStatus::Succeeded
                        ? "not finished: the execution ended first"
                        : std::string("ended with the execution (") + toString(outcome.status) + ")";
  auto close = [&](StepRecord record) {
    record.status = StepStatus::Failed;
    record.endedAt = clock_.now();
    record.error = why;
    record.wakeAt.reset();
    store_.recordStepFinished(run.request.executionId, record, std::nullopt);
  };
  auto closeContainers = [&](Lane& lane) {
    for (auto it = lane.containers.rbegin(); it != lane.containers.rend(); ++it) close(*it);
    lane.containers.clear();
  };
  if (run.loop) {
    // Other iterations still have a step in flight or waiting, and
    // branches open: their records say so instead of staying running.
    for (auto& lane : run.loop->lanes) {
      if (lane->wait != Lane::Wait::None) close(lane->record);
      closeContainers(*lane);
    }
    if (run.loop->recordOpen) close(run.loop->record);
    run.loop->recordOpen = false;
  }
  closeContainers(run.main);
  return slice;
}

StepRecord ExecutionRunner::recordFor(const RunState& run, const StepSpec& step) const {
  StepRecord record{step.name, step.component, step.action, StepStatus::Running, clock_.now(), {}, {}};
  if (step.kind == StepSpec::Kind::Branch) record.action = "branch";
  if (step.kind == StepSpec::Kind::Loop) record.action = "loop";
  record.iteration = run.iteration();
  record.parent = run.parent();
  return record;
}

std::optional<Slice> ExecutionRunner::enterBranch(RunState& run) {
  const StepSpec& step = run.step();
  StepRecord record = recordFor(run, step);
  store_.recordStepStarted(run.request.executionId, record);
  for (std::size_t i = 0; i < step.branches.size(); ++i) {
    const BranchCase& branch = step.branches[i];
    bool taken = true;
    if (branch.when) {
      try {
        taken = isTruthy(branch.when->render(run.scope));
      } catch (const TemplateError& error) {
        return failContainer(run, record, "step '" + step.name + "': 'when' of case " + std::to_string(i + 1) +
                                              ": " + error.what());
      }
    }
    if (!taken) continue;
    run.lane().containers.push_back(record);
    run.lane().frames.push_back(Frame{&branch.steps, 0, &step, run.iteration(), std::nullopt});
    return std::nullopt;
  }
  // No case taken: the branch's result is null.
  StoredResult none;
  record.status = StepStatus::Succeeded;
  record.endedAt = clock_.now();
  store_.recordStepFinished(run.request.executionId, record, none);
  run.scope["steps"][step.name]["results"] = nullptr;
  run.frame().last = std::move(none);
  ++run.frame().next;
  return std::nullopt;
}

std::optional<Slice> ExecutionRunner::enterLoop(RunState& run) {
  const StepSpec& step = run.step();
  LoopProgress progress;
  progress.step = &step;
  progress.record = recordFor(run, step);
  store_.recordStepStarted(run.request.executionId, progress.record);
  try {
    progress.items = step.loop.items->render(run.scope);
  } catch (const TemplateError& error) {
    return failContainer(run, progress.record, "step '" + step.name + "': 'items': " + error.what());
  }
  if (!progress.items.is_array())
    return failContainer(run, progress.record,
                         "step '" + step.name + "': 'items' must give an array, not " + describeShape(progress.items) +
                             " (items: " + step.loop.items->single().source() + ")");
  if (progress.items.size() > kMaxLoopItems)
    return failContainer(run, progress.record,
                         "step '" + step.name + "': 'items' gave " + std::to_string(progress.items.size()) +
                             " items; a loop takes at most " + std::to_string(kMaxLoopItems) +
                             " (split the work over several executions)");
  progress.results = plexus::Json::array();
  for (std::size_t i = 0; i < progress.items.size(); ++i) progress.results.push_back(nullptr);
  collectStepNames(step.loop.steps, progress.innerNames);
  run.loop = std::move(progress);
  return std::nullopt;
}

void ExecutionRunner::finishLoop(RunState& run) {
  LoopProgress& loop = *run.loop;
  StoredResult all;
  all.data = std::move(loop.results);
  StepRecord record = loop.record;
  record.status = StepStatus::Succeeded;
  record.endedAt = clock_.now();
  store_.recordStepFinished(run.request.executionId, record, all);
  run.current = &run.main;
  run.scope["steps"][loop.step->name]["results"] = all.data;
  run.loop.reset();
  run.frame().last = std::move(all);
  ++run.frame().next;
}

void ExecutionRunner::finishBranch(RunState& run) {
  // Its taken case has run: the branch's result is the case's last result.
  Lane& lane = run.lane();
  Frame done = std::move(lane.frames.back());
  lane.frames.pop_back();
  StoredResult result = done.last ? std::move(*done.last) : StoredResult{};
  StepRecord record = lane.containers.back();
  lane.containers.pop_back();
  record.status = StepStatus::Succeeded;
  record.endedAt = clock_.now();
  store_.recordStepFinished(run.request.executionId, record, result);
  run.scope["steps"][done.owner->name]["results"] = resultAsJson(result);
  run.frame().last = std::move(result);
  ++run.frame().next;
}

Slice ExecutionRunner::endWithStatus(RunState& run) {
  // A status result ends the execution wherever it comes from: the
  // branches and the loop around it end with it, so that the last top-level
  // step holds the execution's result.
  StoredResult status = *run.frame().last;
  auto close = [&](std::vector<StepRecord>& containers) {
    while (!containers.empty()) {
      StepRecord record = containers.back();
      containers.pop_back();
      record.status = StepStatus::Succeeded;
      record.endedAt = clock_.now();
      store_.recordStepFinished(run.request.executionId, record, status);
    }
  };
  close(run.lane().containers);
  if (run.current != &run.main && run.loop && run.loop->recordOpen) {
    std::vector<StepRecord> loopRecord{run.loop->record};
    close(loopRecord);
    run.loop->recordOpen = false;
  }
  close(run.main.containers);
  run.main.frames.front().last = std::move(status);
  return ended(run, ExecutionStatus::Succeeded, std::nullopt, std::nullopt, clock_);
}

Slice ExecutionRunner::failContainer(RunState& run, StepRecord record, const std::string& error) {
  std::string message = run.redactor.redact(error);
  record.status = StepStatus::Failed;
  record.endedAt = clock_.now();
  record.error = message;
  store_.recordStepFinished(run.request.executionId, record, std::nullopt);
  store_.appendLog(run.request.executionId, LogRecord{clock_.now(), plexus::LogLevel::Error, record.name, message});
  return ended(run, ExecutionStatus::Failed, message, record.name, clock_);
}

std::optional<Slice> ExecutionRunner::runAction(const std::shared_ptr<RunState>& state, ExecutionControl& control) {
  RunState& run = *state;
  const StepSpec& step = run.step();
  const std::string& executionId = run.request.executionId;
  Lane& lane = run.lane();
  store_.recordStepStarted(executionId, lane.record);
  run.context.setStep(step.name);
  lane.stepDeadline = step.timeoutMs ? clock_.steadyNow() + std::chrono::milliseconds(*step.timeoutMs)
                                    : std::chrono::steady_clock::time_point::max();
  try {
    lane.component = catalog_.find(step.component);
    if (!lane.component)
      throw StepError("step '" + step.name + "': component '" + step.component +
                      "' is not loaded (see `plexus components list`)");
    lane.action = lane.component->spec.action(step.action);
    if (!lane.action)
      throw StepError("step '" + step.name + "': component '" + step.component + "' has no action '" + step.action +
                      "'");
    run.keepAlive.push_back(lane.component);

    plexus::Inputs inputs;
    try {
      inputs = lane.action->prepareInputs(step.compiledInputs ? step.compiledInputs->render(run.scope)
                                                             : resolveInputs(step.inputs, run.scope));
    } catch (const std::exception& error) {
      throw StepError("step '" + step.name + "': " + error.what());
    }
    control.setStepDeadline(lane.stepDeadline);
    control.stepStarted(lane.record, step.timeoutMs);
    std::optional<plexus::Result> returned;
    std::exception_ptr thrown;
    try {
      returned = invokeAction(*lane.component, *lane.action, inputs, run.context, step.name);
    } catch (const StepError&) {
      thrown = std::current_exception();
    }
    return settle(state, std::move(returned), thrown, control);
  } catch (const std::exception& error) {
    return stepFailed(run, error.what(), control);
  }
}

Slice ExecutionRunner::resume(std::shared_ptr<RunState> state, std::vector<HttpAnswer> answers,
                              ExecutionControl& control) {
  RunState& run = *state;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    Lane& lane = *static_cast<Lane*>(answers[i].lane);
    lane.wait = Lane::Wait::None;
    activate(run, lane);
    std::optional<Slice> slice = answer(state, std::move(answers[i].response), control);
    deactivate(run, lane);
    if (!slice) {
      ++lane.frames.back().next;
      continue;
    }
    if (slice->end == Slice::End::Blocked) continue;
    // The others' answers are not taken: their steps end with the execution.
    for (std::size_t j = i + 1; j < answers.size(); ++j) static_cast<Lane*>(answers[j].lane)->wait = Lane::Wait::Http;
    return conclude(run, std::move(*slice));
  }
  return conclude(run, advance(state, control));
}

std::optional<Slice> ExecutionRunner::answer(const std::shared_ptr<RunState>& state, plexus::HttpResponse response,
                                             ExecutionControl& control) {
  RunState& run = *state;
  Lane& lane = run.lane();
  const StepSpec& step = run.step();
  run.context.setStep(step.name);  // its logs are its own, whichever lane ran last
  // Told to stop, or past a deadline, while the request was out (or while
  // its answer waited for a worker): the runtime's verdict, without running
  // the component's code for a step that is over.
  StopReason reason = control.stopReason();
  if (reason == StopReason::ShuttingDown) return stopped();  // not recorded: it runs again after the restart
  try {
    if (reason != StopReason::None)
      throw StepError("step '" + step.name + "': " + stopMessage(reason, *run.request.integration));
    const auto now = clock_.steadyNow();
    const bool pastDeadline = (step.timeoutMs && now >= lane.stepDeadline) || now >= control.executionDeadline();
    if (response.failure == plexus::HttpFailure::Deadline || pastDeadline) {
      // (libcurl's timer may fire a moment before the deadline as this
      // thread's clock sees it: the earlier deadline decides the message.)
      if (step.timeoutMs && lane.stepDeadline <= control.executionDeadline())
        throw StepError("step '" + step.name + "' timed out after " + std::to_string(*step.timeoutMs) +
                        " ms (its timeoutMs)");
      control.requestStop(StopReason::TimedOut, clock_.steadyNow());
      throw StepError("step '" + step.name + "': " + stopMessage(StopReason::TimedOut, *run.request.integration));
    }
    control.setStepDeadline(lane.stepDeadline);
    control.stepStarted(lane.record, step.timeoutMs);
    plexus::HttpContinuation then = std::move(lane.then);
    std::optional<plexus::Result> returned;
    std::exception_ptr thrown;
    try {
      returned = invokeContinuation(*lane.component, *lane.action, then, std::move(response), run.context, step.name);
    } catch (const StepError&) {
      thrown = std::current_exception();
    }
    return settle(state, std::move(returned), thrown, control);
  } catch (const std::exception& error) {
    return stepFailed(run, error.what(), control);
  }
}

std::optional<Slice> ExecutionRunner::settle(const std::shared_ptr<RunState>& state,
                                             std::optional<plexus::Result> returned, std::exception_ptr thrown,
                                             ExecutionControl& control) {
  RunState& run = *state;
  const IntegrationSpec& integration = *run.request.integration;
  const StepSpec& step = run.step();
  Lane& lane = run.lane();
  if (!control.stepReturned()) return stopped();  // the supervisor gave up on it and recorded its end
  control.setStepDeadline(std::chrono::steady_clock::time_point::max());
  if (StopReason reason = control.stopReason(); reason == StopReason::ShuttingDown)
    return stopped();  // not recorded: the step runs again after the restart
  else if (reason != StopReason::None)
    throw StepError("step '" + step.name + "': " + stopMessage(reason, integration));
  if (step.timeoutMs && clock_.steadyNow() >= lane.stepDeadline)
    throw StepError("step '" + step.name + "' timed out after " + std::to_string(*step.timeoutMs) +
                    " ms (its timeoutMs)");
  if (thrown) std::rethrow_exception(thrown);
  plexus::Result& result = *returned;

  if (result.isPendingHttp()) {
    plexus::PendingHttp& pending = result.pendingHttp();
    if (!pending.then)
      throw StepError("step '" + step.name + "': Result::afterHttp was given no continuation");
    lane.then = std::move(pending.then);
    lane.request = std::move(pending.request);
    lane.httpDeadline = std::min(lane.stepDeadline, control.executionDeadline());
    lane.wait = Lane::Wait::Http;
    return blocked();
  }
  StoredResult stored;
  if (result.isStatus()) {
    stored.isStatus = true;
    stored.status = result.status();
    if (stored.status.statusCode < 100 || stored.status.statusCode > 599)
      throw StepError("step '" + step.name + "': statusCode " + std::to_string(stored.status.statusCode) +
                      " is not between 100 and 599");
    run.scope["steps"][step.name]["results"] = statusAsJson(stored.status);
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
        throw StepError("step '" + step.name + "': asked to wait " + std::to_string(result.delayed().delay.count()) +
                        " ms; the longest wait is " + std::to_string(kMaxDelayMs) + " ms (30 days)");
      return suspend(run, std::move(stored), clock_.now() + result.delayed().delay);
    }
    run.scope["steps"][step.name]["results"] = stored.data;
  }
  lane.record.status = StepStatus::Succeeded;
  lane.record.endedAt = clock_.now();
  store_.recordStepFinished(run.request.executionId, lane.record, stored);
  run.frame().last = std::move(stored);
  if (run.frame().last->isStatus) return endWithStatus(run);  // A status-code result ends the execution here.
  return std::nullopt;
}

Slice ExecutionRunner::suspend(RunState& run, std::optional<StoredResult> pending, TimePoint wakeAt) {
  Lane& lane = run.lane();
  const StepSpec& step = run.step();
  lane.record.status = StepStatus::Waiting;
  lane.record.wakeAt = wakeAt;
  lane.wakeAt = wakeAt;
  // A delay is part of its attempt: the step's timeoutMs wakes it to fail it.
  if (pending && step.timeoutMs)
    lane.wakeAt = std::min(wakeAt, lane.record.startedAt + std::chrono::milliseconds(*step.timeoutMs));
  lane.pending = std::move(pending);
  lane.wait = Lane::Wait::Timer;
  if (&lane != &run.main) {
    // Recorded now, as a progress write: the other iterations go on, and if
    // the execution comes to wait as a whole, this is what it resumes from.
    store_.recordStepFinished(run.request.executionId, lane.record, lane.pending);
    RecordedStep waiting;
    waiting.name = lane.record.name;
    waiting.iteration = lane.record.iteration;
    waiting.status = StepStatus::Waiting;
    waiting.result = lane.pending;
    waiting.wakeAt = wakeAt;
    waiting.startedAt = lane.record.startedAt;
    waiting.attempts = lane.record.attempts;
    run.recorded.insert_or_assign(recordKey(waiting.name, waiting.iteration), std::move(waiting));
  }
  return blocked();
}

std::optional<Slice> ExecutionRunner::stepFailed(RunState& run, const std::string& error, ExecutionControl& control) {
  control.setStepDeadline(std::chrono::steady_clock::time_point::max());
  const StepSpec& step = run.step();
  Lane& lane = run.lane();
  std::string message = run.redactor.redact(error);
  lane.record.error = message;
  // A stop of the whole execution (cancel, its timeout) is not the step's
  // failure: no retry, no onError.
  bool executionStopped = control.stopReason() != StopReason::None;
  if (!executionStopped && lane.record.attempts < step.retry.maxAttempts) {
    std::chrono::milliseconds wait = retryDelay(step.retry, lane.record.attempts);
    run.context.log(plexus::LogLevel::Warn, "attempt " + std::to_string(lane.record.attempts) + " of " +
                                                std::to_string(step.retry.maxAttempts) + " failed: " + message +
                                                "; the next in " + std::to_string(wait.count()) + " ms");
    return suspend(run, std::nullopt, clock_.now() + wait);
  }
  if (step.retry.maxAttempts > 1) message += " (the last of " + std::to_string(lane.record.attempts) + " attempts)";
  lane.record.status = StepStatus::Failed;
  lane.record.endedAt = clock_.now();
  lane.record.error = message;
  store_.recordStepFinished(run.request.executionId, lane.record, std::nullopt);
  run.context.log(plexus::LogLevel::Error, message);
  if (!executionStopped && step.onError == OnError::Continue) {
    run.scope["steps"][step.name] = {{"results", nullptr}, {"error", message}};
    run.frame().last = StoredResult{};
    return std::nullopt;
  }
  return ended(run, statusFor(control.stopReason()), message, step.name, clock_);
}

}  // namespace plexus::core
