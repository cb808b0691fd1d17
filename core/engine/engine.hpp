// The engine: runs executions, step by step, on a bounded worker pool.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <unordered_map>
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
  TimePoint endedAt{};
  /// Keeps loaded the component libraries whose objects `result` may hold.
  std::vector<LoadedComponentPtr> keepAlive;
};

/// Runs executions. Owns its worker threads and its queue; borrows the
/// store, catalog and registry, which must outlive it.
///
/// Threads: submit/whenFinished/recoverUnfinished are safe from any thread.
/// Completion callbacks run on the store's writer thread once the end is
/// durable (or on a worker, or the caller's thread when the execution had
/// already ended): they must be quick and must never wait for a store write,
/// which would wait for the writer thread itself.
class Engine {
 public:
  struct Options {
    int workers = 8;  ///< Executions that run at once.
    /// Executions kept in memory, ready to run. Beyond this, a submitted
    /// execution waits as just its id (its trigger results, instance and
    /// everything else stay in the store, where submit put them) and is
    /// read back when a worker gets to it: a burst costs a few dozen bytes
    /// per waiting execution, not its whole payload.
    std::size_t maxQueued = 4096;
    /// Called on the worker before an execution's first step: may change
    /// its request (a deferred JSON body is parsed here, at most `workers`
    /// at a time); what it returns is held until the execution ends. A throw
    /// fails the execution with the exception's message.
    std::function<std::shared_ptr<void>(ExecutionRequest&)> prepare;
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

  /// A new execution id: time-ordered, with 96 random bits (timeOrderedId).
  static std::string newExecutionId();

  /// Records the execution durably, then queues it. Throws StoreError (and
  /// queues nothing) when it cannot be recorded.
  void submit(ExecutionRequest request);
  /// Queues an execution the caller already recorded in the store (with
  /// its schedule fire, in one transaction: Store::recordScheduledFires).
  void submitRecorded(ExecutionRequest request);

  /// Calls `done` once the execution has ended (at once if it already has).
  void whenFinished(const std::string& executionId, Completion done);

  /// Blocks until the execution ends or `timeout` passes.
  std::optional<ExecutionOutcome> waitFor(const std::string& executionId,
                                          std::chrono::milliseconds timeout);

  /// At start, before start(): queues again every execution the store has
  /// as queued or running, and ends failed those that were running during
  /// `policy.maxCrashRestarts` unclean stops (Store::recoverUnfinished: one
  /// transaction). Each abandoned one is logged at warning level. Throws
  /// StoreError when the store cannot do it.
  RecoveryReport recoverUnfinished(const RecoveryPolicy& policy = RecoveryPolicy{});

  /// Executions queued but not yet started (in memory or to read back).
  std::size_t queuedCount() const;
  /// Of those, the ones waiting as ids only (past maxQueued).
  std::size_t deferredCount() const;

 private:
  struct Job {
    ExecutionRequest request;
    std::string recoveryNote;  ///< Why it runs again (logged first); empty for a first run.
  };
  /// An execution past maxQueued: all it needs is in the store.
  struct Deferred {
    std::string executionId;
    std::string recoveryNote;
  };
  /// An execution whose progress or end the store could not record (a full
  /// disk...): it runs again from its first step once `due`, without a
  /// restart. Its waiters keep waiting for its real end.
  struct Parked {
    std::string executionId;
    std::chrono::steady_clock::time_point due;
    std::chrono::milliseconds backoff;
    std::string cause;
  };
  static constexpr std::chrono::milliseconds kFirstRetry{500};
  static constexpr std::chrono::milliseconds kLongestRetry{30000};

  void workerLoop();
  /// A parked execution that is due, taken off parked_. Requires mutex_.
  std::optional<Parked> takeDueParked(std::chrono::steady_clock::time_point now);
  void retryParked(Parked parked);
  /// Parks an execution the store failed (from any thread, the writer's too).
  void park(const std::string& executionId, const std::exception_ptr& failure,
            std::chrono::milliseconds backoff = kFirstRetry);
  void runJob(Job job);
  /// Posts the end state; parks the execution if the store refuses it.
  void recordEnd(const std::shared_ptr<ExecutionOutcome>& outcome);
  void finish(const ExecutionOutcome& outcome);
  std::optional<ExecutionOutcome> outcomeFromStore(const std::string& executionId);
  void enqueue(Job job);
  /// Reads a deferred execution back from the store; nullopt (and the
  /// execution ended as failed) when its integration or instance is gone.
  std::optional<Job> loadJob(const std::string& executionId, const std::string& recoveryNote);
  /// Ends an execution that cannot be read back as failed, and tells its waiters.
  void failUnreadable(const std::string& executionId, const std::string& cause);

  Store& store_;
  const ComponentCatalog& catalog_;
  const IntegrationRegistry& integrations_;
  Options options_;

  // Guarded by mutex_: the queues, the stop flag and, per in-flight
  // execution, the callbacks waiting for it. Workers own a Job once popped.
  // `deferred_` is drained only once `queue_` is empty, and nothing joins
  // `queue_` while `deferred_` holds any, so executions start in the order
  // they were submitted.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::deque<Deferred> deferred_;
  std::vector<Parked> parked_;  // few, and only while the store fails
  std::unordered_map<std::string, std::vector<Completion>> waiting_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace plexus::core
