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
    Suspended,  ///< A step waits: record `waitingStep` with `pendingResult` (none: a retry's wait) until `wakeAt`.
    Stopped,    ///< Shutdown, or its step was abandoned: nothing more to record here.
    AwaitingHttp,  ///< A step sent `httpRequest`: resume `state` with the response.
  };
  End end = End::Ended;
  ExecutionOutcome outcome;
  StepRecord waitingStep;
  std::optional<StoredResult> pendingResult;
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
  /// Runs the steps from where the state is on, into branches and loops.
  Slice advance(const std::shared_ptr<RunState>& state, ExecutionControl& control);
  /// The slice that ends the run when it was told to stop or is past its
  /// deadline; nullopt to go on.
  std::optional<Slice> stopIfAsked(RunState& state, ExecutionControl& control);
  /// A new record for `step` where the state is (its iteration and parent).
  StepRecord recordFor(const RunState& state, const StepSpec& step) const;
  /// Runs the action step at the state's position (state.record set):
  /// nullopt once it is recorded and the run goes on after it.
  std::optional<Slice> runAction(const std::shared_ptr<RunState>& state, ExecutionControl& control);
  /// Takes the first case whose `when` holds (pushing its steps), or
  /// records the branch's null result; a `when` that fails fails it.
  std::optional<Slice> enterBranch(RunState& state);
  /// Evaluates the loop's items and starts its first iteration.
  std::optional<Slice> enterLoop(RunState& state);
  /// Pushes iteration `index` of the loop at the state's position, or ends
  /// the loop (recording its results) when there is none.
  void startIteration(RunState& state, std::size_t index);
  /// The current list of steps has run: ends its branch case or iteration.
  std::optional<Slice> finishList(RunState& state, ExecutionControl& control);
  /// Ends the execution with the status result just recorded.
  Slice endWithStatus(RunState& state);
  /// Records a branch or loop failed with `error` and ends the execution.
  Slice failContainer(RunState& state, StepRecord record, const std::string& error);
  /// Takes what a step's action (perform or a continuation) returned or
  /// threw: records the step, or hands back the slice it ends with (its
  /// wait, its exchange, the execution's end). nullopt: go on with the next
  /// step. Throws StepError when the step failed.
  std::optional<Slice> settle(const std::shared_ptr<RunState>& state, std::optional<plexus::Result> returned,
                              std::exception_ptr thrown, ExecutionControl& control);
  /// The slice in which the running step waits until `wakeAt` (with the
  /// result it then has, or none for a retry's wait).
  Slice suspend(RunState& state, std::optional<StoredResult> pending, TimePoint wakeAt);
  /// The running step's attempt failed with `error`: waits for its next
  /// attempt (retry), or records it failed and ends the execution — or,
  /// with onError: continue, returns nullopt and the run goes on.
  std::optional<Slice> stepFailed(RunState& state, const std::string& error, ExecutionControl& control);

  Store& store_;
  const ComponentCatalog& catalog_;
  const TimeSource& clock_;
  std::function<std::shared_ptr<void>(ExecutionRequest&)> prepare_;
};

/// The message an execution ends with when `reason` stopped it.
std::string stopMessage(StopReason reason, const IntegrationSpec& integration);

}  // namespace plexus::core
