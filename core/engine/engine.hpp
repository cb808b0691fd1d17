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
#include "util/clock.hpp"

namespace plexus::core {

/// A replay that cannot be made: status() is the HTTP status that says why
/// (404 no such execution, 409 not in a state to replay, 400 a bad fromStep).
class ReplayRefused : public std::runtime_error {
 public:
  ReplayRefused(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

/// What starts an execution.
struct ExecutionRequest {
  std::string executionId;      ///< From Engine::newExecutionId(), so the trigger results can name it.
  IntegrationPtr integration;
  InstanceRecord instance;
  std::string trigger;          ///< "webhook", "schedule" or "manual".
  plexus::Json triggerResults;  ///< Becomes `trigger.results`.
  /// When it first started, for one that ran before (execution.timeoutMs
  /// counts from then); nullopt for a new one.
  std::optional<TimePoint> startedAt;
};

/// How an execution comes to run.
enum class RunStart {
  First,      ///< Never ran: nothing recorded (no read of recorded steps).
  Due,        ///< Never ran, recorded waiting for its start time (NewExecution::startsAt): nothing recorded.
  Again,      ///< Ran before (a restart, a store failure): resumes after its recorded steps; counts an attempt.
  AfterWait,  ///< Its wait is over: resumes after its recorded steps.
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
  /// Not an end: the server stopped first (status is not meaningful). The
  /// execution resumes after the restart.
  bool interrupted = false;
};

class ExecutionControl;
class HttpLoop;
class Timers;
class WorkerPool;
struct HttpAnswer;
struct RunState;
struct Slice;

/// Runs executions (docs/execution-model.md): a worker runs an execution's
/// steps until it ends or a step waits; a waiting execution holds no thread,
/// only a timer entry, and resumes from the store when it is due. A step
/// that returned Result::afterHttp holds no thread either: the HTTP event
/// loop sends its request and a worker takes the execution on with the
/// answer. Owns its worker pool, its timer thread, its HTTP loop and its
/// queue; borrows the store, catalog and registry, which must outlive it.
///
/// Threads: every public method is safe from any thread. Completion
/// callbacks run on the store's writer thread once the end is durable (or
/// on a worker, the timer thread or the caller's thread): they must be quick
/// and must never wait for a store write, which would wait for the writer
/// thread itself.
class Engine {
 public:
  struct Options {
    int workers = 8;  ///< Threads that always run executions (the pool grows past it when they block).
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
    int maxWorkers = 256;  ///< The most threads the pool grows to.
    /// How long a step may run past its deadline (or a cancel) before it is
    /// given up: its thread is replaced and what it returns is dropped.
    std::chrono::milliseconds abandonGrace{1000};
    std::chrono::milliseconds idleWorkerLifetime{30000};
    /// How often deadlines and the pool are checked.
    std::chrono::milliseconds tick{100};
    const TimeSource* clock = &TimeSource::real();
    /// Connections the HTTP event loop keeps open at once (Result::afterHttp).
    long maxHttpConnections = 4096;
  };
  using Completion = std::function<void(const ExecutionOutcome&)>;

  Engine(Store& store, const ComponentCatalog& catalog, const IntegrationRegistry& integrations,
         Options options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start();
  /// Shuts down: no execution starts any more (queued ones stay queued in
  /// the store); running ones go on for up to `grace`, and end or reach a
  /// wait if they can; then their steps are told to stop (cancelled()) and
  /// given abandonGrace more. What still runs then is left as it is in the
  /// store and resumes after the restart, from its first unrecorded step;
  /// its waiters are told it was interrupted. Returns how many threads are
  /// still inside a step (they are left to end on their own: the process
  /// should exit without unloading components).
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

  /// A new execution id: time-ordered, with 96 random bits (timeOrderedId).
  static std::string newExecutionId();

  /// Records the execution durably, then queues it. Throws StoreError (and
  /// queues nothing) when it cannot be recorded.
  /// With `idempotencyKey`, the key is recorded in the same transaction;
  /// IdempotencyKeyTaken (store.hpp) when it already was, and nothing is.
  void submit(ExecutionRequest request, std::optional<IdempotencyKeyRecord> idempotencyKey = std::nullopt);
  /// Queues an execution the caller already recorded in the store (with
  /// its schedule fire, in one transaction: Store::recordScheduledFires).
  void submitRecorded(ExecutionRequest request);
  /// As submitRecorded, for executions recorded waiting until `startsAt`
  /// (NewExecution::startsAt: schedule fires recorded ahead of their due
  /// time): they cost one timer, not a worker, until then, and are queued
  /// together at `startsAt` (at once if that has passed). `onQueued(n)`,
  /// when given, is called on the timer thread once the `n` of them were
  /// queued (quick work only). One cancelled before then is queued too, and
  /// skipped without running when a worker takes it.
  void submitRecordedAt(std::vector<ExecutionRequest> requests, TimePoint startsAt,
                        std::function<void(std::size_t queued)> onQueued = nullptr);

  enum class CancelOutcome {
    Cancelling,  ///< It ends cancelled (at once when queued or waiting; its running step is told to stop).
    Ended,       ///< It had ended already.
    Unknown,     ///< No such execution.
  };
  /// POST /api/executions/ID/cancel. Throws StoreError when the store fails.
  CancelOutcome cancel(const std::string& executionId);

  /// POST /api/executions/ID/replay: records a new execution with the
  /// ended execution's trigger results (and, with `fromStep`, a top-level
  /// step it reached, the results of its steps before that one), queues it
  /// and returns its id. Throws ReplayRefused, or StoreError.
  std::string replay(const std::string& executionId, const std::optional<std::string>& fromStep);

  /// Calls `done` once the execution has ended (at once if it already has).
  void whenFinished(const std::string& executionId, Completion done);

  /// Blocks until the execution ends or `timeout` passes.
  std::optional<ExecutionOutcome> waitFor(const std::string& executionId,
                                          std::chrono::milliseconds timeout);

  /// At start, before start(): queues again every execution the store has
  /// as queued or running (each resumes after its recorded steps), arms the
  /// wake-up of every waiting one, and ends failed those that were running
  /// during `policy.maxCrashRestarts` unclean stops (Store::recoverUnfinished:
  /// one transaction). Each abandoned one is logged at warning level.
  /// Throws StoreError when the store cannot do it.
  RecoveryReport recoverUnfinished(const RecoveryPolicy& policy = RecoveryPolicy{});

  /// Executions queued but not yet started.
  std::size_t queuedCount() const;
  /// Of those, the ones waiting as ids only (past maxQueued, or read back
  /// from the store: recovered, woken).
  std::size_t deferredCount() const;
  /// Executions waiting for their wake-up.
  std::size_t waitingCount() const;
  /// Executions running a step now.
  std::size_t runningCount() const;
  /// The worker pool's threads (busy or not).
  int workerThreads() const;

 private:
  using Start = RunStart;
  struct Parked {
    std::string executionId;
    std::chrono::milliseconds backoff;
    std::string cause;
  };
  static constexpr std::chrono::milliseconds kFirstRetry{500};
  static constexpr std::chrono::milliseconds kLongestRetry{30000};

  /// Queues a task that runs the execution (in memory) or reads it back.
  void enqueue(ExecutionRequest request, Start start = Start::First);
  /// The pool task that runs a queued execution held in memory.
  std::function<void()> runInMemory(ExecutionRequest request, Start start);
  void enqueueStored(const std::string& executionId, std::string note, Start start);
  /// A worker took a queued execution (`deferred`: one queued as its id).
  void countTaken(bool deferred);
  /// Runs one slice of an execution on a worker and records how it ended.
  void runExecution(ExecutionRequest request, Start start, const std::string& note);
  /// Runs `produce` (a slice of the execution `control` belongs to) and
  /// acts on how it ended: records the end or the wait, or sends its HTTP
  /// request (the execution stays running).
  void runSlice(const std::shared_ptr<ExecutionControl>& control, const std::function<Slice()>& produce);
  /// Sends the request of a slice that ended AwaitingHttp; the answer goes
  /// on on a worker (continueAfterHttp).
  void awaitHttp(const std::shared_ptr<ExecutionControl>& control, Slice slice);
  void continueAfterHttp(const std::shared_ptr<ExecutionControl>& control, const std::shared_ptr<RunState>& state,
                         std::vector<HttpAnswer> answers);
  /// Reads an execution back from the store and runs it; ends it failed
  /// when it cannot be read or its integration or instance is gone.
  void runStored(const std::string& executionId, const std::string& note, Start start);
  /// Parks an execution the store failed (from any thread, the writer's too).
  void park(const std::string& executionId, const std::exception_ptr& failure,
            std::chrono::milliseconds backoff = kFirstRetry);
  void retryParked(const Parked& parked);
  /// Posts the end state; parks the execution if the store refuses it.
  void recordEnd(const std::shared_ptr<ExecutionOutcome>& outcome);
  /// Posts the wait; arms the wake-up once it is durable.
  void recordSuspend(const std::string& executionId, const StepRecord& step,
                     const std::optional<StoredResult>& result,
                     TimePoint wakeAt);
  void wakeUp(const std::string& executionId);
  void finish(const ExecutionOutcome& outcome);
  /// Ends an execution that did not run (cancelled, unreadable...) and tells its waiters.
  void endWithout(const std::string& executionId, ExecutionStatus status, const std::string& message);
  std::optional<ExecutionOutcome> outcomeFromStore(const std::string& executionId);
  /// execution.concurrency: true when the execution may run now (it holds,
  /// or now takes, one of its instance's slots). Otherwise it is queued
  /// behind the instance's others (and runs when one ends), or ended
  /// cancelled or failed, as the integration says.
  bool admit(const ExecutionRequest& request, Start start, const std::string& note);
  /// The execution ended (or will not run here): frees its slot, or takes
  /// it out of its instance's queue, and starts the next one queued.
  void releaseSlot(const std::string& executionId);
  /// The tick: gives up on steps past their deadline, grows the pool.
  void superviseRunning();
  void abandon(const std::shared_ptr<ExecutionControl>& control, const StepRecord& step);

  Store& store_;
  const ComponentCatalog& catalog_;
  const IntegrationRegistry& integrations_;
  const Options options_;
  const TimeSource& clock_;

  // Guarded by mutex_: the execution sets below and the flags. Workers own
  // an execution's request while they run it; its control is shared with
  // the supervisor (the tick) through running_.
  mutable std::mutex mutex_;
  std::condition_variable runningChanged_;  // stop() waits on it
  std::unordered_map<std::string, std::shared_ptr<ExecutionControl>> running_;
  std::unordered_map<std::string, std::vector<Completion>> waiting_;  // every unfinished execution here
  std::unordered_map<std::string, bool> cancelRequested_;  // queued or waiting ones to end cancelled when taken
  /// execution.concurrency, per instance id: the executions holding a slot
  /// (running, waiting, awaiting an answer), and those queued for one, in
  /// order (an id and how it starts; read back from the store when admitted).
  struct Queued {
    std::string executionId;
    Start start;
    std::string note;
  };
  struct InstanceSlots {
    std::unordered_map<std::string, bool> admitted;
    std::deque<Queued> queued;
  };
  std::unordered_map<std::string, InstanceSlots> slots_;
  std::unordered_map<std::string, std::string> slotOwner_;  // execution id -> instance id, for those in slots_
  std::size_t queued_ = 0;
  std::size_t deferred_ = 0;  // of queued_, those queued as ids
  std::size_t sleeping_ = 0;  // executions waiting for their wake-up
  bool draining_ = false;     // stop() began: nothing new starts
  bool started_ = false;

  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<Timers> timers_;
  std::unique_ptr<HttpLoop> http_;
};

}  // namespace plexus::core
