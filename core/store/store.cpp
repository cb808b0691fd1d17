#include "store/store.hpp"

namespace plexus::core {

const char* toString(ExecutionStatus status) {
  switch (status) {
    case ExecutionStatus::Queued: return "queued";
    case ExecutionStatus::Running: return "running";
    case ExecutionStatus::Waiting: return "waiting";
    case ExecutionStatus::Succeeded: return "succeeded";
    case ExecutionStatus::Failed: return "failed";
    case ExecutionStatus::Cancelled: return "cancelled";
  }
  return "queued";
}

bool hasEnded(ExecutionStatus status) {
  return status == ExecutionStatus::Succeeded || status == ExecutionStatus::Failed ||
         status == ExecutionStatus::Cancelled;
}

std::optional<ExecutionStatus> executionStatusFromString(const std::string& text) {
  for (auto status : {ExecutionStatus::Queued, ExecutionStatus::Running, ExecutionStatus::Waiting,
                      ExecutionStatus::Succeeded, ExecutionStatus::Failed, ExecutionStatus::Cancelled}) {
    if (text == toString(status)) return status;
  }
  return std::nullopt;
}

const char* toString(StepStatus status) {
  switch (status) {
    case StepStatus::Running: return "running";
    case StepStatus::Waiting: return "waiting";
    case StepStatus::Succeeded: return "succeeded";
    case StepStatus::Failed: return "failed";
  }
  return "running";
}

std::string LastStop::describe() const {
  switch (kind) {
    case Kind::FirstStart: return "this is the first start on this data folder";
    case Kind::Clean: return "the last stop was clean";
    case Kind::Unknown: return "the last stop was not recorded (a data folder from an older Plexus); treated as a crash";
    case Kind::Crash: break;
  }
  if (!crash) return "the last stop was a crash (the process ended without closing the store)";
  std::string text = "the last stop was a crash (" + crash->signal;
  if (!crash->executionId.empty())
    text += " while running step " + crash->step + " (" + crash->action + ") of execution " + crash->executionId;
  return text + ")";
}

std::optional<StepStatus> stepStatusFromString(const std::string& text) {
  for (auto status : {StepStatus::Running, StepStatus::Waiting, StepStatus::Succeeded, StepStatus::Failed}) {
    if (text == toString(status)) return status;
  }
  return std::nullopt;
}

}  // namespace plexus::core
