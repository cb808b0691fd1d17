// The --data folder as a whole: who uses it, how the last process using it
// stopped, and which database it holds. Internal to the store layer.
//
//   DATA/plexus.lock    flock(2)ed for the life of the process that uses the
//                       folder; holds that process's pid (for the message
//                       another one gets)
//   DATA/plexus.state   "database-id=…" and "state=running|stopped": written
//                       at open (running) and at a clean close (stopped), so a
//                       start after a crash knows it, and a database that
//                       vanished is not silently replaced by an empty one
//   DATA/plexus.crash   written by the fatal-signal handler (crash_handler.hpp):
//                       which signal, in which step of which execution
//
// Why files beside the database and not rows in it: they must tell the
// truth when the database itself is gone, replaced or damaged.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "store/store.hpp"

namespace plexus::core {

/// Another process holds the data folder's lock.
class DataFolderInUse : public StoreError {
 public:
  using StoreError::StoreError;
};

class DataFolder {
 public:
  /// Takes the folder's exclusive lock (the folder must exist) and reads its
  /// state. Throws DataFolderInUse ("data folder X is in use by another
  /// plexus (pid N); stop it or choose another --data") when another process
  /// holds it, StoreError when the lock file cannot be created.
  static std::unique_ptr<DataFolder> claim(const std::string& directory);
  /// Releases the lock (closing the file releases it).
  ~DataFolder();
  DataFolder(const DataFolder&) = delete;
  DataFolder& operator=(const DataFolder&) = delete;

  const std::string& directory() const { return directory_; }
  /// The database id recorded the last time a database was opened here;
  /// empty when none ever was (or by a Plexus before this file existed).
  const std::string& recordedDatabaseId() const { return recordedDatabaseId_; }
  /// How the previous process ended, from the state file and crash record.
  const LastStop& lastStop() const { return lastStop_; }

  /// Records that a process runs on `databaseId` (durably: written to a
  /// temporary file, fsynced and renamed). Throws StoreError.
  void markRunning(const std::string& databaseId);
  /// Records a clean stop. Never throws (called from a destructor); a
  /// failure is logged and the next start says "crash".
  void markStopped() noexcept;
  /// Empties the crash record once recovery has used it.
  void clearCrashRecord() noexcept;

  /// DATA/plexus.crash, for installCrashRecord (engine/crash_handler.hpp).
  static std::string crashRecordPath(const std::string& directory);

 private:
  DataFolder(std::string directory, int lockFd);
  void readState();
  void writeState(const std::string& state);

  const std::string directory_;
  int lockFd_ = -1;
  std::string recordedDatabaseId_;
  std::string databaseId_;
  LastStop lastStop_;
};

}  // namespace plexus::core
