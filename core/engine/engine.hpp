// The engine: runs executions, step by step, on a bounded worker pool.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/integration_registry.hpp"
#include "loader/component_catalog.hpp"
#include "store/store.hpp"

namespace plexus::core {

/// What starts an execution.
struct ExecutionRequest {
  std::string executionId;      ///< From Engine::newExecutionId(), so the trigger results can name it.
  IntegrationPtr integration;
  InstanceRecord instance;
  std::string trigger;          ///< "webhook", "schedule" or "manual".
  plexus::Json triggerResults;  ///< Becomes `trigger.results`.
};

/// How an execution ended.
struct ExecutionOutcome {
  std::string executionId;
  ExecutionStatus status = ExecutionStatus::Failed;
  std::optional<StoredResult> result;  ///< The final step's output, when it succeeded.
  std::optional<std::string> error;
  std::optional<std::string> errorStep;
  /// Keeps loaded the component libraries whose objects `result` may hold.
  std::vector<LoadedComponentPtr> keepAlive;
};

/// Runs executions. Owns its worker threads and its queue; borrows the
/// store, catalog and registry, which must outlive it.
///
/// Threads: submit/whenFinished/recoverUnfinished are safe from any thread.
/// Completion callbacks run on a worker thread (or the caller's, when the
/// execution had already ended) and must not block.
class Engine {
 public:
  struct Options {
    int workers = 8;  ///< Executions that run at once.
  };
  using Completion = std::function<void(const ExecutionOutcome&)>;

  Engine(Store& store, const ComponentCatalog& catalog, const IntegrationRegistry& integrations,
         Options options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start();
  /// Lets running executions finish their current step sequence, then joins
  /// the workers. Queued executions stay queued in the store and run after
  /// the next start (recoverUnfinished).
  void stop();

  /// A new random execution id (128 bits, URL-safe).
  static std::string newExecutionId();

  /// Records the execution durably, then queues it. Throws StoreError (and
  /// queues nothing) when it cannot be recorded.
  void submit(ExecutionRequest request);

  /// Calls `done` once the execution has ended (at once if it already has).
  void whenFinished(const std::string& executionId, Completion done);

  /// Blocks until the execution ends or `timeout` passes.
  std::optional<ExecutionOutcome> waitFor(const std::string& executionId,
                                          std::chrono::milliseconds timeout);

  /// Queues again every execution the store has as queued or running (after
  /// a crash). Returns how many.
  std::size_t recoverUnfinished();

  /// Executions queued but not yet started.
  std::size_t queuedCount() const;

 private:
  struct Job {
    ExecutionRequest request;
    bool recovered = false;
  };

  void workerLoop();
  void runJob(Job job);
  void finish(const ExecutionOutcome& outcome);
  std::optional<ExecutionOutcome> outcomeFromStore(const std::string& executionId);
  void enqueue(Job job);

  Store& store_;
  const ComponentCatalog& catalog_;
  const IntegrationRegistry& integrations_;
  Options options_;

  // Guarded by mutex_: the queue, the stop flag and, per in-flight
  // execution, the callbacks waiting for it. Workers own a Job once popped.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::map<std::string, std::vector<Completion>> waiting_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace plexus::core
