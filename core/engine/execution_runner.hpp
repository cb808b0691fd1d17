// Runs an execution's steps on the calling thread, from its first step
// without a recorded result, until it ends, waits or is told to stop.
#pragma once

#include "engine/engine.hpp"
#include "engine/execution_control.hpp"
#include "util/clock.hpp"

namespace plexus::core {

/// How a run of an execution's steps (a slice of its life) ended.
struct Slice {
  enum class End {
    Ended,      ///< `outcome` holds its end state, for the caller to record.
    Suspended,  ///< A step waits: record `waitingStep` with `pendingResult` until `wakeAt`.
    Stopped,    ///< Shutdown, or its step was abandoned: nothing more to record here.
  };
  End end = End::Ended;
  ExecutionOutcome outcome;
  StepRecord waitingStep;
  StoredResult pendingResult;
  TimePoint wakeAt{};
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

 private:
  Store& store_;
  const ComponentCatalog& catalog_;
  const TimeSource& clock_;
  std::function<std::shared_ptr<void>(ExecutionRequest&)> prepare_;
};

/// The message an execution ends with when `reason` stopped it.
std::string stopMessage(StopReason reason, const IntegrationSpec& integration);

}  // namespace plexus::core
