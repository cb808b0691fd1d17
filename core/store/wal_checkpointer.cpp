#include "store/wal_checkpointer.hpp"

#include <sqlite3.h>

#include <Poco/Logger.h>

namespace plexus::core {

namespace {
Poco::Logger& logger() { return Poco::Logger::get("plexus.store"); }

/// Runs a passive checkpoint on `db`; returns the frames now in the
/// database, or -1 when it could not run (another checkpoint holds the lock).
int passiveCheckpoint(sqlite3* db) {
  int logFrames = 0;
  int copied = 0;
  int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &logFrames, &copied);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return -1;
  if (rc != SQLITE_OK) {
    // Not fatal: the WAL keeps the data; the next commit tries again.
    logger().warning("WAL checkpoint failed: %s", std::string(sqlite3_errstr(rc)));
    return -1;
  }
  return copied;  // -1 when the connection does not see a WAL
}
}  // namespace

WalCheckpointer::WalCheckpointer(const std::string& databasePath, int busyTimeoutMs, Options options)
    : options_(options),
      connection_(std::make_unique<sqlite::Connection>(databasePath, sqlite::Connection::Mode::ReadWriteCreate,
                                                       busyTimeoutMs)),
      thread_() {
  // A fresh connection has not read the file yet and does not know it is in
  // WAL mode: its checkpoints would do nothing.
  if (connection_->queryText("PRAGMA journal_mode") != "wal")
    throw StoreError("the database '" + databasePath + "' is not in WAL mode; it cannot be checkpointed beside the writer");
  thread_ = std::thread([this] { run(); });
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void WalCheckpointer::attach(sqlite::Connection& writer) {
  writer.exec("PRAGMA wal_autocheckpoint = 0");
  // Replaces SQLite's own hook (the automatic checkpoint is one).
  sqlite3_wal_hook(writer.handle(), &WalCheckpointer::onCommit, this);
}

int WalCheckpointer::onCommit(void* self, sqlite3* writer, const char* /*database*/, int frames) {
  // Called from SQLite's C code: nothing may unwind through it. The commit
  // itself has succeeded whatever happens here; a missed checkpoint is
  // tried again at the next commit.
  try {
    static_cast<WalCheckpointer*>(self)->afterCommit(writer, frames);
  } catch (const std::exception& error) {
    logger().warning("WAL checkpoint skipped: %s", std::string(error.what()));
  } catch (...) {
    logger().warning("WAL checkpoint skipped: a non-standard exception");
  }
  return SQLITE_OK;
}

void WalCheckpointer::afterCommit(sqlite3* writer, int frames) {
  if (frames < lastFrames_) backfilled_.store(0);  // The WAL started over.
  lastFrames_ = frames;
  if (frames < options_.backgroundFrames) return;
  if (frames >= options_.forceFrames) {
    checkpointOnWriter(writer);
    return;
  }
  // A background checkpoint of the WAL before it started over may report
  // after the reset above: a count past the WAL's end is such a stale one.
  int backfilled = backfilled_.load();
  if (backfilled > frames) backfilled = 0;
  if (frames - backfilled <= options_.finishFrames) {
    int copied = passiveCheckpoint(writer);  // busy only while the background runs: it finishes the job then
    if (copied >= 0) {
      backfilled_.store(copied);
      ++writerRuns_;
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (requested_) return;
    requested_ = true;
  }
  wake_.notify_one();
}

void WalCheckpointer::checkpointOnWriter(sqlite3* writer) {
  // SQLite never waits for the checkpoint lock (not even with a busy
  // handler): while the background holds it, the writer's checkpoint would
  // be refused and the WAL would go on growing for as long as the background
  // takes. So the writer waits for the background to finish and keeps it
  // from starting again until its own checkpoint is done; no commit happens
  // meanwhile, which is what bounds the WAL to forceFrames plus one commit.
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [this] { return !running_; });
  int copied = passiveCheckpoint(writer);
  if (copied >= 0) {
    backfilled_.store(copied);
    ++writerRuns_;
  }
}

void WalCheckpointer::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || requested_; });
    if (stopping_) return;
    running_ = true;
    lock.unlock();
    int copied = passiveCheckpoint(connection_->handle());
    if (copied >= 0) {
      backfilled_.store(copied);
      ++backgroundRuns_;
    }
    lock.lock();
    requested_ = false;
    running_ = false;
    idle_.notify_all();
  }
}

}  // namespace plexus::core
