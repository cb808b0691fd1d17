// Runs an execution's steps on the calling thread, from its first step
// without a recorded result, until it ends, waits, awaits an HTTP answer or
// is told to stop.
#pragma once

#include "engine/engine.hpp"
#include "engine/execution_control.hpp"
#include "util/clock.hpp"

namespace plexus::core {

/// What a slice had in scope when a step began waiting on an HTTP exchange:
/// its request, scope, context and the step's continuation. Opaque outside
/// the runner; held by the engine until the answer comes (ExecutionRunner::resume).
struct RunState;

/// How a run of an execution's steps (a slice of its life) ended.
struct Slice {
  enum class End {
    Ended,      ///< `outcome` holds its end state, for the caller to record.
    Suspended,  ///< A step waits: record `waitingStep` with `pendingResult` until `wakeAt`.
    Stopped,    ///< Shutdown, or its step was abandoned: nothing more to record here.
    AwaitingHttp,  ///< A step sent `httpRequest`: resume `state` with the response.
  };
  End end = End::Ended;
  ExecutionOutcome outcome;
  StepRecord waitingStep;
  StoredResult pendingResult;
  TimePoint wakeAt{};
  std::shared_ptr<RunState> state;
  plexus::HttpRequest httpRequest;
  /// The earlier of the step's and the execution's deadline, as the steady
  /// clock sees it: the exchange must not wait past it.
  std::chrono::steady_clock::time_point httpDeadline = std::chrono::steady_clock::time_point::max();
};

/// Runs the steps of one execution. Stateless between runs.
class ExecutionRunner {
 public:
  using Start = RunStart;

  ExecutionRunner(Store& store, const ComponentCatalog& catalog, const TimeSource& clock,
                  std::function<std::shared_ptr<void>(ExecutionRequest&)> prepare = nullptr)
      : store_(store), catalog_(catalog), clock_(clock), prepare_(std::move(prepare)) {}

  /// Marks the execution running and runs each step not yet recorded,
  /// recording each; a recorded step's result goes into scope instead (the
  /// request's trigger results move into the scope). Stops at the first
  /// step that waits (Suspended), when `control` says to stop between steps
  /// or its step was abandoned (Stopped), or at the end (Ended). Never
  /// throws for a failing step (that is a failed outcome); a store failure
  /// propagates. `note`, when not empty, is logged first (why it runs again).
  Slice run(ExecutionRequest request, Start start, const std::string& note, ExecutionControl& control);

  /// Goes on with a slice that ended AwaitingHttp, once the exchange has
  /// ended with `response`: calls the step's continuation (supervised like
  /// perform), then runs the steps after it as run() does. `control` must
  /// be the one the slice ran with.
  Slice resume(std::shared_ptr<RunState> state, plexus::HttpResponse response, ExecutionControl& control);

 private:
  /// Runs the steps from state.next on.
  Slice advance(const std::shared_ptr<RunState>& state, ExecutionControl& control);
  /// Takes what a step's action (perform or a continuation) returned or
  /// threw: records the step, or hands back the slice it ends with (its
  /// wait, its exchange, the execution's end). nullopt: go on with the next
  /// step. Throws StepError when the step failed.
  std::optional<Slice> settle(const std::shared_ptr<RunState>& state, std::optional<plexus::Result> returned,
                              std::exception_ptr thrown, ExecutionControl& control);
  /// Records the running step failed with `error` and ends the execution.
  Slice failStep(RunState& state, const std::string& error, ExecutionControl& control);

  Store& store_;
  const ComponentCatalog& catalog_;
  const TimeSource& clock_;
  std::function<std::shared_ptr<void>(ExecutionRequest&)> prepare_;
};

/// The message an execution ends with when `reason` stopped it.
std::string stopMessage(StopReason reason, const IntegrationSpec& integration);

}  // namespace plexus::core
