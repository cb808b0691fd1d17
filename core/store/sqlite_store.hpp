// The embedded default store: one SQLite database file plus a folder of
// large binaries, under the --data directory.
//
//   DATA/plexus.db        (+ plexus.db-wal, plexus.db-shm while open)
//   DATA/blobs/ab/ab...   binaries of kInlineBinaryLimit bytes or more
//
// Durability: WAL journal. By default synchronous=NORMAL: a call returns
// once its transaction is in the WAL file, which survives a crash or kill
// of the process (the contract: "never lost, even if the process is
// killed"); a power cut or OS crash may lose the last transactions before
// a checkpoint. Options::fullSync fsyncs every commit (and every blob
// file) to survive those too, at the cost of one fsync per batch.
//
// Threads: every method may be called from any thread. Writes go through
// one writer thread that commits concurrent calls together (group commit,
// see group_commit.hpp); reads use a pool of read-only connections and run
// in parallel with each other and with the writer.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <functional>
#include <optional>
#include <unordered_map>
#include <mutex>
#include <string>

#include "store/payload_codec.hpp"
#include "store/store.hpp"

namespace plexus::core {

namespace sqlite {
class Connection;
}  // namespace sqlite

class DataFolder;
class GroupCommitWriter;
class StoreHealth;
class ReaderPool;
class WalCheckpointer;

class SqliteStore final : public Store {
 public:
  struct Options {
    /// fsync each commit and each blob file: survives power loss and OS
    /// crashes, not just the process dying. Slower (one fsync per batch).
    bool fullSync = false;
    /// How long a connection waits for a lock held by another process
    /// (e.g. `plexus run` on the same data directory) before failing.
    int busyTimeoutMs = 10000;
    /// Read connections kept open between queries.
    std::size_t maxIdleReaders = 8;
    /// Open even though the data folder had a database that is now missing
    /// or was replaced by another one (else open refuses: a silently empty
    /// database loses every execution and webhook URL).
    bool allowNewDatabase = false;
    /// PRAGMA quick_check at open: a damaged database is refused at start
    /// instead of failing requests at random (see docs/operating.md for its cost).
    bool checkIntegrity = true;
  };

  /// Opens the store in `dataDirectory`, creating the directory, plexus.db
  /// and blobs/ as needed, and migrating an older schema. Takes the data
  /// folder's lock for the store's life (data_folder.hpp) and checks the
  /// database's integrity. Throws DataFolderInUse when another process uses
  /// the folder, StoreError naming the path when the directory cannot be
  /// created or written, the database cannot be opened, is damaged, or is
  /// missing or replaced where the folder had one (Options::allowNewDatabase).
  static std::unique_ptr<SqliteStore> open(const std::string& dataDirectory);
  static std::unique_ptr<SqliteStore> open(const std::string& dataDirectory, const Options& options);

  /// Waits for queued writes to commit, closes the database and records a
  /// clean stop in the data folder. Every
  /// other thread must have stopped calling the store (the server and the
  /// engine are stopped first).
  ~SqliteStore() override;

  /// DATA/blobs: where large binaries live.
  std::string blobDirectory() const;
  /// The blob folder, e.g. to stream a webhook body into it:
  /// `BlobWriter writer = store.blobs().writer();` (see payload_codec.hpp).
  const BlobDirectory& blobs() const { return blobs_; }
  /// DATA/plexus.db.
  const std::string& databasePath() const { return databasePath_; }

  // Store.
  void saveInstance(const InstanceRecord& instance) override;
  std::optional<InstanceRecord> instance(const std::string& id) override;
  std::optional<InstanceRecord> instanceByToken(const std::string& token) override;
  std::optional<InstanceRecord> instanceByName(const std::string& integrationKey,
                                               const std::string& name) override;
  std::vector<InstanceRecord> instances() override;
  bool deleteInstance(const std::string& id) override;

  std::optional<IdempotencyKeyRecord> idempotencyKey(const std::string& instanceId, const std::string& key,
                                                     TimePoint now) override;
  std::size_t purgeIdempotencyKeys(TimePoint now, std::size_t limit) override;
  void createExecution(const NewExecution& execution) override;
  void markRunning(const std::string& executionId, TimePoint startedAt) override;
  void recordStepStarted(const std::string& executionId, const StepRecord& step) override;
  void recordStepFinished(const std::string& executionId, const StepRecord& step,
                          const std::optional<StoredResult>& result) override;
  void appendLog(const std::string& executionId, const LogRecord& line) override;
  void finishExecution(const std::string& executionId, ExecutionStatus status, TimePoint endedAt,
                       const std::optional<std::string>& error,
                       const std::optional<std::string>& errorStep) override;
  void finishExecutionLater(const std::string& executionId, ExecutionStatus status, TimePoint endedAt,
                            const std::optional<std::string>& error, const std::optional<std::string>& errorStep,
                            Done whenDone) override;
  void suspendExecutionLater(const std::string& executionId, const StepRecord& step,
                             const std::optional<StoredResult>& result,
                             TimePoint wakeAt, Done whenDone) override;
  void resumeExecution(const std::string& executionId) override;
  void startWhenDue(const std::string& executionId, TimePoint startedAt) override;
  void createReplay(const std::string& originalId, const std::string& newId,
                    const std::optional<std::string>& fromStep, const std::vector<std::string>& keep,
                    TimePoint queuedAt) override;
  void flush() override;
  void resetForRetry(const std::string& executionId) override;

  std::optional<ExecutionRecord> execution(const std::string& id) override;
  std::vector<ExecutionRecord> executions(const ExecutionQuery& query) override;
  std::optional<NewExecution> executionToRun(const std::string& executionId) override;
  std::optional<StoredResult> stepResult(const std::string& executionId, const std::string& stepName,
                                         int iteration = -1) override;
  std::vector<std::pair<int, std::optional<StoredResult>>> stepIterations(const std::string& executionId,
                                                                          const std::string& stepName) override;
  std::optional<StoredResult> finalResult(const std::string& executionId) override;
  std::vector<RecordedStep> recordedSteps(const std::string& executionId) override;
  std::vector<std::string> unfinishedExecutions() override;
  LastStop lastStop() const override;
  RecoveryReport recoverUnfinished(const RecoveryPolicy& policy) override;
  std::optional<std::string> unavailableReason() const override;
  /// How long opening took, WAL recovery and the integrity check included.
  std::chrono::milliseconds openTime() const { return openTime_; }
  /// Checks the database files now instead of at the next periodic check.
  void checkFiles();

  bool recordFire(const std::string& instanceId, TimePoint dueAt) override;
  std::vector<bool> recordScheduledFires(const std::vector<ScheduledFire>& fires) override;
  std::optional<TimePoint> lastFire(const std::string& instanceId) override;

  /// Commit batches so far and the writes they held: how well group commit
  /// is batching (writes / batches). For tests and metrics.
  std::uint64_t commitBatches() const;
  std::uint64_t committedWrites() const;

 private:
  SqliteStore(std::string databasePath, std::string blobDirectory, const Options& options,
              std::unique_ptr<WalCheckpointer> checkpointer, std::unique_ptr<GroupCommitWriter> writer);

  /// Queues a progress write of `executionId`; a failure is remembered so
  /// that finishExecution refuses to end that execution as if it were whole.
  void postProgress(const std::string& executionId, std::function<void(sqlite::Connection&)> work);
  std::optional<std::string> takeProgressFailure(const std::string& executionId);
  /// finishExecution's statement, on the writer thread.
  void applyFinish(sqlite::Connection& db, const std::string& executionId, ExecutionStatus status,
                   TimePoint endedAt, const std::optional<std::string>& error,
                   const std::optional<std::string>& errorStep);

  std::string encodeResult(const StoredResult& result) const;
  StoredResult decodeResult(const std::string& kind, const std::string& text) const;

  std::unique_ptr<DataFolder> folder_;  // the lock: released last
  std::chrono::milliseconds openTime_{0};
  const std::string databasePath_;
  const BlobDirectory blobs_;
  std::unique_ptr<ReaderPool> readers_;
  // Executions whose queued progress failed, with why. Written by the writer
  // thread, read by finishExecution's caller; guarded by failuresMutex_.
  std::mutex failuresMutex_;
  std::unordered_map<std::string, std::string> progressFailures_;
  std::unique_ptr<WalCheckpointer> checkpointer_;  // called by the writer: outlives it
  std::unique_ptr<StoreHealth> health_;  // told by the writer: outlives it
  std::unique_ptr<GroupCommitWriter> writer_;  // destroyed first: drains writes
};

}  // namespace plexus::core
