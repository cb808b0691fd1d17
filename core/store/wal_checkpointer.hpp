// Moves WAL checkpoints off the writer thread.
//
// Why: in WAL mode every commit appends pages to plexus.db-wal, and a
// checkpoint copies them back into plexus.db (and fsyncs both). SQLite's
// automatic checkpoint runs on the committing connection — here the one
// writer thread every execution waits on — and a checkpoint of 8192 pages
// stalled it for 30–40 ms, which set the intake p99.
//
// How: the writer connection's automatic checkpoint is off. After each
// commit SQLite calls our WAL hook on the writer thread with the WAL's size:
// - past `backgroundFrames`, a checkpointer thread with its own connection
//   runs a PASSIVE checkpoint: it copies what it can while the writer goes
//   on committing (a passive checkpoint never waits for, nor blocks, the
//   writer or readers);
// - once that has copied all but `finishFrames` of the WAL, the writer runs
//   a passive checkpoint of that small rest itself, so the WAL is complete
//   in the database and the next transaction starts the WAL over from its
//   beginning (which only a fully checkpointed WAL allows);
// - past `forceFrames` (the background cannot keep up) the writer
//   checkpoints itself, whatever it costs: it waits for a background
//   checkpoint under way to end, then copies the rest. That bounds the WAL
//   to forceFrames plus one commit unless a reader holds an old snapshot
//   for long: a passive checkpoint copies only what no reader still needs,
//   and the WAL cannot start over until then.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "store/sqlite_connection.hpp"

namespace plexus::core {

class WalCheckpointer {
 public:
  struct Options {
    int backgroundFrames = 4096;  ///< 16 MiB of 4 KiB pages.
    int finishFrames = 512;
    int forceFrames = 65536;      ///< 256 MiB.
  };

  /// Opens its own connection to `databasePath` (already in WAL mode) and
  /// starts its thread. Throws StoreError when the database cannot be opened.
  WalCheckpointer(const std::string& databasePath, int busyTimeoutMs, Options options);
  /// Stops the thread. The writer must be closed first (it calls us).
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  /// Turns off the writer connection's automatic checkpoint and installs the
  /// commit hook. Call before the writer connection commits on another thread.
  void attach(sqlite::Connection& writer);

  /// Checkpoints run so far on each side (for tests and metrics).
  std::uint64_t backgroundCheckpoints() const { return backgroundRuns_.load(); }
  std::uint64_t writerCheckpoints() const { return writerRuns_.load(); }

 private:
  static int onCommit(void* self, sqlite3* writer, const char* database, int frames);
  void afterCommit(sqlite3* writer, int frames);  // writer thread
  void checkpointOnWriter(sqlite3* writer);       // writer thread; waits for the background
  void run();                                     // checkpointer thread

  const Options options_;
  std::unique_ptr<sqlite::Connection> connection_;  // checkpointer thread only (after construction)
  int lastFrames_ = 0;                              // writer thread only
  std::atomic<int> backfilled_{0};  // frames of the current WAL the background copied
  std::atomic<std::uint64_t> backgroundRuns_{0};
  std::atomic<std::uint64_t> writerRuns_{0};

  std::mutex mutex_;  // guards requested_, running_ and stopping_
  std::condition_variable wake_;  // the checkpointer thread waits on it for a request
  std::condition_variable idle_;  // the writer waits on it for the background to end
  bool requested_ = false;
  bool running_ = false;  // a background checkpoint is under way
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace plexus::core
