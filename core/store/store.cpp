#include "store/store.hpp"

namespace plexus::core {

const char* toString(ExecutionStatus status) {
  switch (status) {
    case ExecutionStatus::Queued: return "queued";
    case ExecutionStatus::Running: return "running";
    case ExecutionStatus::Succeeded: return "succeeded";
    case ExecutionStatus::Failed: return "failed";
  }
  return "queued";
}

std::optional<ExecutionStatus> executionStatusFromString(const std::string& text) {
  for (auto status : {ExecutionStatus::Queued, ExecutionStatus::Running, ExecutionStatus::Succeeded,
                      ExecutionStatus::Failed}) {
    if (text == toString(status)) return status;
  }
  return std::nullopt;
}

const char* toString(StepStatus status) {
  switch (status) {
    case StepStatus::Running: return "running";
    case StepStatus::Succeeded: return "succeeded";
    case StepStatus::Failed: return "failed";
  }
  return "running";
}

std::optional<StepStatus> stepStatusFromString(const std::string& text) {
  for (auto status : {StepStatus::Running, StepStatus::Succeeded, StepStatus::Failed}) {
    if (text == toString(status)) return status;
  }
  return std::nullopt;
}

}  // namespace plexus::core
