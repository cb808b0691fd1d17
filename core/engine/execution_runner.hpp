// Runs one execution's steps in order, recording each in the store.
#pragma once

#include <atomic>

#include "engine/engine.hpp"

namespace plexus::core {

/// Runs the steps of one execution on the calling thread. Stateless between
/// runs; one per worker is fine.
class ExecutionRunner {
 public:
  ExecutionRunner(Store& store, const ComponentCatalog& catalog, const std::atomic<bool>& cancelled,
                  std::function<std::shared_ptr<void>(ExecutionRequest&)> prepare = nullptr)
      : store_(store), catalog_(catalog), cancelled_(cancelled), prepare_(std::move(prepare)) {}

  /// Marks the execution running and runs each step, recording each (the
  /// request's trigger results move into the steps' scope). The
  /// end state is the caller's to record (Engine posts it without waiting).
  /// Never throws for a failing step (that is a failed outcome); a store
  /// failure propagates. `recoveryNote`, when not empty, is logged first
  /// (why it runs again: "the server crashed before this execution ended...").
  ExecutionOutcome run(ExecutionRequest request, const std::string& recoveryNote);

 private:
  Store& store_;
  const ComponentCatalog& catalog_;
  const std::atomic<bool>& cancelled_;
  std::function<std::shared_ptr<void>(ExecutionRequest&)> prepare_;
};

}  // namespace plexus::core
