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
    AwaitingHttp,  ///< Steps wait for `exchanges`: resume `state` with their answers, all of them.
    Blocked,       ///< Inside the runner only: a lane waits, the others may run.
  };
  /// An HTTP request a step waits on: `lane` says whose it is (opaque).
  struct Exchange {
    void* lane = nullptr;
    plexus::HttpRequest request;
    /// The earlier of the step's and the execution's deadline, as the
    /// steady clock sees it: the exchange must not wait past it.
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  };
  End end = End::Ended;
  ExecutionOutcome outcome;
  StepRecord waitingStep;
  std::optional<StoredResult> pendingResult;
  TimePoint wakeAt{};
  std::shared_ptr<RunState> state;
  std::vector<Exchange> exchanges;
};

/// The answer to one Slice::Exchange.
struct HttpAnswer {
  void* lane = nullptr;  ///< The exchange's.
  plexus::HttpResponse response;
};

struct Lane;

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

  /// Goes on with a slice that ended AwaitingHttp, once all its exchanges
  /// have ended: calls each step's continuation with its answer (supervised
  /// like perform), then runs on as run() does. `control` must be the one
  /// the slice ran with.
  Slice resume(std::shared_ptr<RunState> state, std::vector<HttpAnswer> answers, ExecutionControl& control);

 private:
  /// How a lane's run stopped.
  struct LaneStop {
    enum class Kind {
      Ended,    ///< `slice` ends the slice (the execution's end, or a stop).
      Blocked,  ///< Its step waits (an HTTP answer, a delay, a retry).
      Done,     ///< Its steps have all run.
      AtLoop,   ///< The main lane reached a loop: its iterations run now.
    } kind;
    Slice slice;
  };
  /// Runs the main lane, and a loop's iteration lanes when it reaches one,
  /// until the execution ends or every lane waits.
  Slice advance(const std::shared_ptr<RunState>& state, ExecutionControl& control);
  /// Runs the current lane's steps, into branches, until it stops.
  LaneStop runLane(const std::shared_ptr<RunState>& state, ExecutionControl& control);
  /// Runs the loop's iterations, up to its concurrency at once, each until
  /// it waits or ends: nullopt once the loop has ended (its result recorded).
  std::optional<Slice> driveLoop(const std::shared_ptr<RunState>& state, ExecutionControl& control);
  /// The slice in which every lane waits: their exchanges, or (only
  /// timers) the execution suspended until the first.
  Slice handOverWaits(const std::shared_ptr<RunState>& state);
  /// Makes `lane` the current one: its steps' results and loop.item in scope.
  void activate(RunState& state, Lane& lane);
  /// Puts the lane's scope entries away again.
  void deactivate(RunState& state, Lane& lane);
  /// When `slice` ends the execution: records every step still open (other
  /// iterations' waits and exchanges, branches and the loop around them)
  /// as failed, saying the execution ended first. Returns the slice.
  Slice conclude(RunState& state, Slice slice);
  /// Takes one exchange's answer for the current lane's step.
  std::optional<Slice> answer(const std::shared_ptr<RunState>& state, plexus::HttpResponse response,
                              ExecutionControl& control);
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
  /// Records the loop's results; the main lane goes on after it.
  void finishLoop(RunState& state);
  /// The current lane's branch case has run: records the branch's result.
  void finishBranch(RunState& state);
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
