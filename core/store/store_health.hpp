// Whether the store can still keep what it is given. Internal to the store
// layer.
//
// Why: SQLite goes on "succeeding" after its database file was deleted (it
// writes to the unlinked inode, which vanishes at exit) or replaced, and a
// damaged page or a full disk shows up only as errors of single statements.
// Without this the server kept acknowledging webhooks that a restart lost.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace plexus::core {

class StoreHealth {
 public:
  /// Watches `databasePath` and its -wal and -shm files.
  explicit StoreHealth(std::string databasePath);
  /// Stops the watching thread.
  ~StoreHealth();
  StoreHealth(const StoreHealth&) = delete;
  StoreHealth& operator=(const StoreHealth&) = delete;

  /// Remembers the files' identities (device and inode) now and checks them
  /// every `period` on a thread of its own, off every request's path.
  void startWatching(std::chrono::milliseconds period = std::chrono::seconds(1));
  /// Compares the files with the identities remembered (also on errors).
  void checkFiles();

  /// Why the store cannot store, or nullopt. Lock-free when healthy.
  std::optional<std::string> problem() const;
  /// Throws StoreUnavailable when a lasting problem (not a full disk) was
  /// found: nothing may be written to a database that is gone or damaged.
  void requireWritable() const;

  /// Looks at a failure: a damaged database, an I/O error or a vanished file
  /// make the store unavailable until restart; a full disk until a write
  /// commits again. Returns the StoreUnavailable to throw instead of
  /// `error`, or nullptr when it is an ordinary failure (a constraint...).
  std::exception_ptr classify(const std::exception_ptr& error);
  /// A batch committed: a full disk has room again.
  void committed();

 private:
  struct Identity {
    dev_t device = 0;
    ino_t inode = 0;
    bool known = false;
  };
  void fail(const std::string& reason);        // lasting
  void diskFull(const std::string& sqliteMessage);
  void watch(std::chrono::milliseconds period);
  std::string whatToDo() const;

  const std::string databasePath_;
  Identity files_[3];  // db, -wal, -shm; watching thread and checkFiles, under mutex_

  std::atomic<bool> healthy_{true};  // no problem of either kind
  std::atomic<bool> full_{false};
  mutable std::mutex mutex_;  // guards the strings, files_ and stopping_
  std::string lasting_;
  std::string fullReason_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace plexus::core
