// The durable store: instances, executions, step results, logs, schedule
// fires. One interface, so the embedded SQLite store can later be joined by
// a PostgreSQL one shared by several nodes.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <plexus/context.hpp>
#include <plexus/result.hpp>
#include <plexus/value.hpp>

#include "trigger/schedule/fire_ledger.hpp"
#include "util/time.hpp"

namespace plexus::core {

/// A store operation failed; the message names the operation, the path or
/// record involved and, where there is one, what to do about it.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The store cannot keep what it is given: its database file was deleted or
/// replaced, it is damaged, or its disk is full. Nothing new may be
/// acknowledged (the HTTP layer answers 503); the message says what happened
/// and what to do. A full disk clears once a write succeeds again; the
/// others last until the server is restarted on a sound database.
class StoreUnavailable : public StoreError {
 public:
  using StoreError::StoreError;
};

/// What the fatal-signal handler recorded about the step that was running
/// on the crashing thread (empty fields when it was no step).
struct CrashRecord {
  std::string signal;       ///< "SIGSEGV"
  std::string executionId;
  std::string step;
  std::string action;       ///< "component.action"
};

/// How the previous process that used the store ended.
struct LastStop {
  enum class Kind {
    FirstStart,  ///< No process used this store before.
    Clean,       ///< It closed the store (SIGTERM/SIGINT, or `plexus run` ending).
    Crash,       ///< It died without closing the store (a crash, kill -9, power loss).
    Unknown,     ///< Not recorded (a data folder from before this was recorded): treated as a crash.
  };
  Kind kind = Kind::FirstStart;
  std::optional<CrashRecord> crash;  ///< When a fatal signal handler recorded one.

  bool crashed() const { return kind == Kind::Crash || kind == Kind::Unknown; }
  /// "the last stop was clean", "the last stop was a crash (SIGSEGV while
  /// running step s (c.a) of execution ID)", ...
  std::string describe() const;
  /// "after a crash" or "after the last stop", for recovery messages.
  const char* after() const { return crashed() ? "after a crash" : "after the last stop"; }
};

struct RecoveryPolicy {
  /// An execution that was running during this many unclean stops is ended
  /// failed instead of run again (a step that crashes the server must not
  /// keep it from coming up).
  int maxCrashRestarts = 3;
};

/// An execution recovery ended instead of running again.
struct AbandonedExecution {
  std::string id;
  std::string integrationKey;
  std::string instanceName;
  std::string step;   ///< The step that ran at the last crash; empty if unknown.
  int crashes = 0;
  std::string error;  ///< "the server stopped while step STEP ran, 3 times; not retried"
};

struct RecoveredExecution {
  std::string id;
  int crashes = 0;    ///< Unclean stops it was running during, so far.
};

/// An execution that waits (a step's delay) and when it resumes.
struct Wakeup {
  std::string executionId;
  TimePoint wakeAt{};
};

struct RecoveryReport {
  LastStop lastStop;
  std::vector<RecoveredExecution> requeued;  ///< Oldest first; queued again, to run.
  std::vector<AbandonedExecution> abandoned;  ///< Ended failed.
  std::vector<Wakeup> waiting;  ///< Still waiting: resume each at its time.
};

/// A deployed instance of an integration.
struct InstanceRecord {
  std::string id;              ///< Random, URL-safe.
  std::string integrationKey;
  std::string name;            ///< Unique per integration.
  bool enabled = true;
  plexus::Json configVars = plexus::Json::object();  ///< Values set for this instance.
  std::string webhookToken;    ///< Random (>= 128 bits); empty for schedule-triggered integrations.
  TimePoint createdAt{};
};

/// queued -> running -> (waiting -> running)* -> succeeded | failed | cancelled
/// (docs/execution-model.md).
enum class ExecutionStatus { Queued, Running, Waiting, Succeeded, Failed, Cancelled };
/// Succeeded, failed or cancelled: nothing changes it any more.
bool hasEnded(ExecutionStatus status);
const char* toString(ExecutionStatus status);          ///< "queued", "running", ...
std::optional<ExecutionStatus> executionStatusFromString(const std::string& text);

/// Waiting: the step has its result, but the execution waits (its delay)
/// before it counts; or, with no result, it waits for its next attempt
/// (retry).
enum class StepStatus { Running, Waiting, Succeeded, Failed };
const char* toString(StepStatus status);            ///< "running", "waiting", "succeeded", "failed".
std::optional<StepStatus> stepStatusFromString(const std::string& text);

struct StepRecord {
  std::string name;
  std::string component;  ///< "" for a branch or a loop.
  std::string action;     ///< "branch" or "loop" for those.
  StepStatus status = StepStatus::Running;
  TimePoint startedAt{};
  std::optional<TimePoint> endedAt;
  std::optional<std::string> error;
  int iteration = -1;     ///< Inside a loop: which iteration (from 0); -1 outside loops.
  std::string parent;     ///< The branch or loop it runs in; "" at the top level.
  int attempts = 1;       ///< Tries so far (retry).
  std::optional<TimePoint> wakeAt;  ///< Waiting: when its wait ends.
};

struct LogRecord {
  TimePoint time{};
  plexus::LogLevel level = plexus::LogLevel::Info;
  std::string step;  ///< Empty for runtime lines not tied to a step.
  std::string message;
};

/// What a step produced: data or a status-code result.
struct StoredResult {
  bool isStatus = false;
  plexus::Json data;           ///< When !isStatus (may hold binary leaves).
  plexus::StatusResult status; ///< When isStatus.
};

/// An execution as the API shows it.
struct ExecutionRecord {
  std::string id;
  std::string integrationKey;
  std::string instanceId;
  std::string instanceName;
  std::string trigger;         ///< "webhook", "schedule" or "manual".
  ExecutionStatus status = ExecutionStatus::Queued;
  TimePoint queuedAt{};
  std::optional<TimePoint> startedAt;
  std::optional<TimePoint> endedAt;
  std::optional<std::string> error;
  std::optional<std::string> errorStep;
  int attempts = 0;            ///< How many times it was started (> 1 after a crash).
  int crashes = 0;             ///< Unclean stops of the server while it ran.
  std::optional<std::string> replayOf;  ///< The execution this one replays.
  std::vector<StepRecord> steps;  ///< Filled by execution(), empty in listings.
  std::vector<LogRecord> logs;    ///< Filled by execution(), empty in listings.
};

/// A step as resuming an execution needs it: a succeeded step's result goes
/// into scope instead of running the step again; a waiting one's too, once
/// `wakeAt` has passed (nullopt: it has already).
struct RecordedStep {
  std::string name;
  int iteration = -1;
  /// Succeeded; Waiting (with a result: a delay; without: a retry's wait);
  /// Failed (a step that failed with onError: continue, or before its
  /// execution ended).
  StepStatus status = StepStatus::Succeeded;
  std::optional<StoredResult> result;
  std::optional<std::string> error;
  std::optional<TimePoint> wakeAt;
  TimePoint startedAt{};
  int attempts = 1;
};

/// A webhook's idempotency key, recorded with the execution it started
/// (CONTRACT §8): a repeat of (instanceId, key) before expiresAt replays
/// that execution instead of starting another.
struct IdempotencyKeyRecord {
  std::string instanceId;
  std::string key;
  std::string bodySha256;   ///< Hex SHA-256 of the first request's raw body.
  std::string executionId;  ///< The execution the first request started.
  TimePoint expiresAt{};
  /// When it was admitted: a recorded key that expired by then is replaced
  /// (the guard's clock, the same that its lookup used).
  TimePoint admittedAt{};
};

struct NewExecution {
  std::string id;
  std::string integrationKey;
  std::string instanceId;
  std::string instanceName;
  std::string trigger;
  plexus::Json triggerResults;  ///< May hold binary leaves (webhook bodies).
  TimePoint queuedAt{};
  /// Read back by executionToRun (createExecution ignores them).
  ExecutionStatus status = ExecutionStatus::Queued;
  std::optional<TimePoint> startedAt;
  /// Recorded waiting for this time instead of queued (a schedule fire
  /// recorded ahead of its due time), with a wake-up at it; honoured by
  /// recordScheduledFires.
  std::optional<TimePoint> startsAt;
  /// Recorded in the same transaction (createExecution only). If the key
  /// is already recorded and unexpired, createExecution throws
  /// IdempotencyKeyTaken and records nothing.
  std::optional<IdempotencyKeyRecord> idempotencyKey;
};

/// createExecution was given an idempotency key that another execution
/// recorded first (and that has not expired): nothing was recorded.
class IdempotencyKeyTaken : public StoreError {
 public:
  using StoreError::StoreError;
};

/// A schedule fire and the execution it starts, recorded together.
struct ScheduledFire {
  std::string instanceId;
  TimePoint dueAt{};
  /// Absent when the fire starts nothing (the instance is disabled or gone);
  /// it is still recorded, so it is not fired again.
  std::optional<NewExecution> execution;
};

struct ExecutionQuery {
  std::optional<std::string> instanceId;
  std::optional<ExecutionStatus> status;
  int limit = 50;
};

/// Persistence for everything the runtime must not lose.
///
/// Durability: every mutating call returns only once its change is durable
/// against a crash of the process (implementations may batch concurrent
/// calls into one commit) — except the progress writes markRunning,
/// recordStepStarted, recordStepFinished and appendLog, which may return
/// before: they are applied in call order and are durable once a later
/// waited call from the same thread (finishExecution, flush) returns. The
/// engine relies on that: an execution's progress costs no commit waits,
/// and nothing about it is reported before finishExecution. A crash before
/// then loses nothing that was promised: the execution runs again.
/// Reads see every change whose durability has been reached.
/// Threads: all methods are safe to call from any thread.
/// Errors: throws StoreError with a message naming the operation.
class Store : public FireLedger {
 public:
  ~Store() override = default;

  // Instances.
  virtual void saveInstance(const InstanceRecord& instance) = 0;  ///< Insert or replace by id.
  virtual std::optional<InstanceRecord> instance(const std::string& id) = 0;
  virtual std::optional<InstanceRecord> instanceByToken(const std::string& token) = 0;
  virtual std::optional<InstanceRecord> instanceByName(const std::string& integrationKey,
                                                       const std::string& name) = 0;
  virtual std::vector<InstanceRecord> instances() = 0;  ///< Sorted by integration, then name.
  virtual bool deleteInstance(const std::string& id) = 0;  ///< False if there was none.

  // Executions.
  virtual void createExecution(const NewExecution& execution) = 0;
  virtual void markRunning(const std::string& executionId, TimePoint startedAt) = 0;
  virtual void recordStepStarted(const std::string& executionId, const StepRecord& step) = 0;
  /// Sets the step's status, end time and error, and stores its result if any.
  virtual void recordStepFinished(const std::string& executionId, const StepRecord& step,
                                  const std::optional<StoredResult>& result) = 0;
  virtual void appendLog(const std::string& executionId, const LogRecord& line) = 0;
  virtual void finishExecution(const std::string& executionId, ExecutionStatus status,
                               TimePoint endedAt, const std::optional<std::string>& error,
                               const std::optional<std::string>& errorStep) = 0;
  /// As finishExecution, without waiting: `whenDone` is called once the end
  /// state is durable (with nullptr), or could not be recorded (with the
  /// error; the execution then stays unfinished and runs again after a
  /// restart). It runs on a store thread: it must be quick, must not throw
  /// and must not wait for another store write. Why: a worker that waited
  /// for each execution's commit would hand the store one execution per
  /// commit; not waiting lets one commit carry many.
  using Done = std::function<void(std::exception_ptr failure)>;
  virtual void finishExecutionLater(const std::string& executionId, ExecutionStatus status, TimePoint endedAt,
                                    const std::optional<std::string>& error,
                                    const std::optional<std::string>& errorStep, Done whenDone) = 0;
  /// Suspends a running execution: `step` becomes waiting with `result`
  /// (the result it has once the wait is over; none when it waits for its
  /// next attempt), the execution waiting, and
  /// a wake-up at `wakeAt` is recorded, all in one transaction. Does not
  /// wait: `whenDone` is called as for finishExecutionLater (arm the timer
  /// then: a wake-up before the commit would read the execution as running).
  virtual void suspendExecutionLater(const std::string& executionId, const StepRecord& step,
                                     const std::optional<StoredResult>& result, TimePoint wakeAt,
                                     Done whenDone) = 0;
  /// A progress write: the waiting execution runs again (its wake-up goes).
  /// Unlike markRunning, it does not count an attempt.
  virtual void resumeExecution(const std::string& executionId) = 0;
  /// A progress write: an execution recorded waiting for its start time
  /// (NewExecution::startsAt) starts, as markRunning (it counts an
  /// attempt), and its wake-up goes.
  virtual void startWhenDue(const std::string& executionId, TimePoint startedAt) = 0;
  /// Records `newId`, queued at `queuedAt`, as a replay of `originalId`:
  /// its integration, instance, trigger and trigger results, and the link
  /// (ExecutionRecord::replayOf, and `fromStep` where it starts). The
  /// original's succeeded and failed steps named in `keep` (the steps
  /// before fromStep, nested ones included) are copied with their results:
  /// running the replay resumes after them. One transaction. Throws
  /// StoreError when the original is missing.
  virtual void createReplay(const std::string& originalId, const std::string& newId,
                            const std::optional<std::string>& fromStep, const std::vector<std::string>& keep,
                            TimePoint queuedAt) = 0;
  /// Returns once every progress write made before it is durable.
  virtual void flush() = 0;
  /// Forgets the steps, results and end state of an execution that must run
  /// again after a crash (its logs stay) and sets it back to queued.
  virtual void resetForRetry(const std::string& executionId) = 0;

  virtual std::optional<ExecutionRecord> execution(const std::string& id) = 0;
  virtual std::vector<ExecutionRecord> executions(const ExecutionQuery& query) = 0;  ///< Newest first.
  /// The execution as createExecution was given it, trigger results
  /// included: what running it needs, in one read (no steps or logs).
  virtual std::optional<NewExecution> executionToRun(const std::string& executionId) = 0;
  /// The result of a step (of one iteration, for a step in a loop; -1: a
  /// step outside loops), or nullopt.
  virtual std::optional<StoredResult> stepResult(const std::string& executionId, const std::string& stepName,
                                                 int iteration = -1) = 0;
  /// Each recorded iteration of a step inside a loop, by iteration, with
  /// its result if it has one (a step outside loops: its one record, -1).
  virtual std::vector<std::pair<int, std::optional<StoredResult>>> stepIterations(const std::string& executionId,
                                                                                  const std::string& stepName) = 0;
  /// The result of the execution: its last top-level step's, or nullopt.
  virtual std::optional<StoredResult> finalResult(const std::string& executionId) = 0;
  /// The execution's succeeded, waiting and failed steps with their
  /// results, in the order they started: what resuming it puts in scope.
  virtual std::vector<RecordedStep> recordedSteps(const std::string& executionId) = 0;
  /// Ids of executions that are queued or running, oldest first (waiting
  /// ones are not: they resume by their wake-up).
  virtual std::vector<std::string> unfinishedExecutions() = 0;

  // Idempotency keys (NewExecution::idempotencyKey records them).
  /// The key recorded for (instanceId, key) that expires after `now`, if any.
  virtual std::optional<IdempotencyKeyRecord> idempotencyKey(const std::string& instanceId, const std::string& key,
                                                             TimePoint now) = 0;
  /// Forgets up to `limit` keys that expired at or before `now`; returns how many.
  virtual std::size_t purgeIdempotencyKeys(TimePoint now, std::size_t limit) = 0;

  // Recovery and health.
  /// How the previous process that used this store ended.
  virtual LastStop lastStop() const = 0;
  /// At start, before anything runs: after an unclean stop, counts a crash
  /// for the execution the crash record names (or, without one, for every
  /// execution that was running); ends failed those that reached
  /// policy.maxCrashRestarts, with a log line saying so; sets every other
  /// queued or running execution back to queued, forgetting only the steps
  /// that were running (recorded results stay: it resumes after them), and
  /// lists the waiting ones with their wake-ups. All in one transaction: a
  /// backlog of any size costs one commit.
  /// Reads no payload: an execution that cannot be read fails when a worker
  /// reads it back, and the others still run.
  virtual RecoveryReport recoverUnfinished(const RecoveryPolicy& policy) = 0;
  /// Why the store cannot store now (deleted, replaced or damaged database,
  /// full disk), or nullopt when it can. Cheap: read on every /readyz.
  virtual std::optional<std::string> unavailableReason() const = 0;

  // Schedules: recordFire and lastFire, from FireLedger, and:
  /// Records each fire with its execution in one transaction: a fire is
  /// never recorded without the execution it starts, nor the other way
  /// round, even across a crash. result[i] is true when fires[i] was
  /// recorded now (and its execution created), false when it had fired
  /// already (recordFire's rule). Throws StoreError and records nothing
  /// when the transaction fails.
  virtual std::vector<bool> recordScheduledFires(const std::vector<ScheduledFire>& fires) = 0;
};

}  // namespace plexus::core
