// Group commit: one writer thread owns the write connection; callers hand it
// a write and wait until the transaction holding that write has committed.
//
// Why: a commit costs a WAL append (and an fsync with full sync) no matter
// how small the change, so committing each caller's write on its own caps
// throughput at a few thousand a second. The writer takes every write that
// queued up while the previous batch was committing and applies them all
// inside one BEGIN ... COMMIT, then wakes their callers. Under load batches
// grow by themselves, and a commit may wait up to kCommitDelay for more
// writes; when idle a lone write commits at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "store/sqlite_connection.hpp"

namespace plexus::core {

/// A non-owning reference to a callable `void(sqlite::Connection&)`; avoids
/// a std::function allocation per write. Valid while the callable lives,
/// which the blocking GroupCommitWriter::write guarantees.
class WriteRef {
 public:
  template <typename Fn, typename = std::enable_if_t<!std::is_same_v<std::decay_t<Fn>, WriteRef>>>
  WriteRef(Fn&& fn)  // NOLINT(google-explicit-constructor)
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(fn)))),
        call_([](void* object, sqlite::Connection& connection) {
          (*static_cast<std::remove_reference_t<Fn>*>(object))(connection);
        }) {}
  void operator()(sqlite::Connection& connection) const { call_(object_, connection); }

 private:
  void* object_;
  void (*call_)(void*, sqlite::Connection&);
};

/// Runs writes on its own thread, many per transaction.
///
/// Ownership: the writer owns the write connection from construction on;
/// only its thread touches it (and its prepared statements). A caller's
/// request lives on the caller's stack: the caller blocks in write() until
/// the writer marks it done, and the writer never touches a request after
/// marking it done.
/// Errors: a write that throws is rolled back to its own savepoint and its
/// exception is rethrown to its caller alone; the rest of the batch commits.
/// If COMMIT itself fails, every write of the batch gets that error.
class GroupCommitWriter {
 public:
  /// Told about each batch on the writer thread: nullptr once it committed,
  /// else the first error one of its writes got (the store's health looks at
  /// it: a full disk, a damaged file). Must be quick and must not throw.
  using BatchObserver = std::function<void(const std::exception_ptr& firstError)>;
  explicit GroupCommitWriter(std::unique_ptr<sqlite::Connection> connection, BatchObserver observer = nullptr);
  /// Finishes the writes already queued, then stops the thread.
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  /// How a write is undone alone when it fails inside a batch.
  enum class Undo {
    /// Several statements: wrapped in a SAVEPOINT and rolled back to it.
    Savepoint,
    /// One statement, whose failure SQLite already undoes by itself (the
    /// statement is aborted, the transaction goes on). Saves ~10% of the
    /// writer's time per write. Only for work that runs one modifying
    /// statement and may throw only before or after it without having
    /// changed anything (e.g. "no row was updated").
    Statement,
  };

  /// Applies `work` inside a write transaction and returns once that
  /// transaction has committed. Rethrows what `work` threw, or a StoreError
  /// when the commit failed or the writer is stopping. Any thread; blocks.
  void write(WriteRef work, Undo undo = Undo::Savepoint);
  /// Queues `work` and returns at once, without waiting for its commit. It
  /// is applied in queue order, so it is durable once any later write()
  /// from the same thread has returned. Its failure cannot reach the caller:
  /// it is logged (Poco logger "plexus.store") at error level and handed to
  /// `onFailure` (on the writer thread; it must be quick and not throw).
  /// `onDone`, when given, is called on the writer thread once the write's
  /// batch has committed (with nullptr) or once it failed (with the error),
  /// after `onFailure`. It must be quick and must never wait for a write
  /// (that would wait for this very thread); what it throws is logged.
  using FailureCallback = std::function<void(const std::string& message)>;
  using DoneCallback = std::function<void(std::exception_ptr failure)>;
  void post(std::function<void(sqlite::Connection&)> work, Undo undo = Undo::Savepoint,
            FailureCallback onFailure = nullptr, DoneCallback onDone = nullptr);

  /// Batches committed so far, and writes in them (for tests and metrics).
  std::uint64_t batchesCommitted() const;
  std::uint64_t writesCommitted() const;

 private:
  /// One caller's write. Lives on the caller's stack until `done`.
  ///
  /// Wake-up is chained: the writer wakes only the first request of a
  /// committed batch, and each woken caller wakes the next. Waking dozens
  /// of threads costs a syscall each; chaining moves that work off the
  /// writer thread, the one serial resource, so it can start the next batch.
  struct Request {
    Request(WriteRef work, Undo undo) : work(work), undo(undo) {}
    void wait();
    /// Marks done and wakes the caller. Touches nothing after the unlock:
    /// the caller may return and destroy the request at once.
    void finish();

    WriteRef work;
    Undo undo;
    std::exception_ptr error;  // set by the writer before finish()
    Request* next = nullptr;   // the next request of the batch to wake, set before finish()
    std::mutex mutex;          // guards done
    std::condition_variable doneChanged;
    bool done = false;
    // Set for post(): the request owns its work, nobody waits for it, and
    // the writer thread deletes it once applied.
    std::unique_ptr<std::function<void(sqlite::Connection&)>> owned;
    FailureCallback onFailure;
    DoneCallback onDone;
  };

  /// Under load, commits wait up to kCommitDelay for kFullBatch writes to
  /// gather. Why: each commit writes every page it touched in full (the
  /// newest rows of each table and index), whatever the batch size; tiny
  /// batches cost ~25 KB of WAL per execution and most of the writer's time.
  /// "Under load" means the previous batch held at least kBusyBatch writes,
  /// which a single caller's writes never reach: when idle, or with a few
  /// callers, a write commits at once.
  static constexpr std::size_t kBusyBatch = 64;
  static constexpr std::size_t kFullBatch = 1024;
  static constexpr std::chrono::microseconds kCommitDelay{2000};

  void run();
  void wakeWriterIfWanted();  // Requires mutex_.
  void applyBatch(std::vector<Request*>& batch);
  void applyOne(Request& request);
  void failAll(std::vector<Request*>& batch, const std::exception_ptr& error);
  void markDone(std::vector<Request*>& batch);
  void reportPostedFailure(const Request& request);
  void callDone(const Request& request);

  std::unique_ptr<sqlite::Connection> connection_;  // writer thread only
  BatchObserver observer_;
  bool batchCommitted_ = false;                     // writer thread only

  mutable std::mutex mutex_;            // guards everything below
  std::condition_variable wakeWriter_;  // a request arrived, or stop
  std::vector<Request*> pending_;
  bool writerIdle_ = false;             // lets write() skip a needless notify
  bool gathering_ = false;              // the writer waits for a fuller batch
  bool stopping_ = false;
  std::uint64_t batches_ = 0;
  std::uint64_t writes_ = 0;

  std::thread thread_;  // last: started once everything above exists
};

}  // namespace plexus::core
