#include "store/data_folder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <Poco/Logger.h>

namespace plexus::core {

namespace {

constexpr const char* kLockFile = "plexus.lock";
constexpr const char* kStateFile = "plexus.state";
constexpr const char* kCrashFile = "plexus.crash";

Poco::Logger& logger() { return Poco::Logger::get("plexus.store"); }

std::string pathIn(const std::string& directory, const char* name) { return directory + "/" + name; }

/// "key=value" lines; other lines are ignored (a newer Plexus may add some).
std::map<std::string, std::string> readKeyValues(const std::string& path) {
  std::map<std::string, std::string> values;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto equals = line.find('=');
    if (equals != std::string::npos) values[line.substr(0, equals)] = line.substr(equals + 1);
  }
  return values;
}

std::string readSmallFile(int fd) {
  std::string text;
  char buffer[64];
  for (off_t offset = 0;;) {
    ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    offset += n;
  }
  return text;
}

void writeAll(int fd, const std::string& text, const std::string& path) {
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    throw StoreError("cannot write '" + path + "': " + std::strerror(errno));
}

}  // namespace

std::string DataFolder::crashRecordPath(const std::string& directory) { return pathIn(directory, kCrashFile); }

std::unique_ptr<DataFolder> DataFolder::claim(const std::string& directory) {
  std::string path = pathIn(directory, kLockFile);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    throw StoreError("cannot create the lock file '" + path + "': " + std::strerror(errno) +
                     "; pass --data a directory Plexus may write to");
  // flock, not fcntl locks: it belongs to this open file, so it is released
  // when the process dies however it dies, and a second open in this same
  // process conflicts too (fcntl locks would let it through).
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int error = errno;
    std::string pid = readSmallFile(fd);
    ::close(fd);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    if (error == EWOULDBLOCK)
      throw DataFolderInUse("data folder " + directory + " is in use by another plexus (pid " +
                            (pid.empty() ? std::string("unknown") : pid) +
                            "); stop it or choose another --data");
    throw StoreError("cannot lock '" + path + "': " + std::strerror(error));
  }
  std::unique_ptr<DataFolder> folder(new DataFolder(directory, fd));
  try {
    writeAll(fd, std::to_string(::getpid()) + "\n", path);
  } catch (const StoreError& error) {
    logger().warning("%s (another plexus will not see who holds the folder)", std::string(error.what()));
  }
  folder->readState();
  return folder;
}

DataFolder::DataFolder(std::string directory, int lockFd) : directory_(std::move(directory)), lockFd_(lockFd) {}

DataFolder::~DataFolder() {
  if (lockFd_ >= 0) ::close(lockFd_);  // releases the lock; the file stays (deleting it would race a new claimant)
}

void DataFolder::readState() {
  std::string statePath = pathIn(directory_, kStateFile);
  auto state = readKeyValues(statePath);
  recordedDatabaseId_ = state.count("database-id") ? state["database-id"] : "";
  if (state.empty()) {
    // No state file: a new folder, or one from before it existed (a
    // database there says which).
    bool hadDatabase = ::access(pathIn(directory_, "plexus.db").c_str(), F_OK) == 0;
    lastStop_.kind = hadDatabase ? LastStop::Kind::Unknown : LastStop::Kind::FirstStart;
  } else {
    lastStop_.kind = state["state"] == "stopped" ? LastStop::Kind::Clean : LastStop::Kind::Crash;
  }
  auto crash = readKeyValues(pathIn(directory_, kCrashFile));
  if (lastStop_.crashed() && crash.count("signal")) {
    lastStop_.crash = CrashRecord{crash["signal"], crash["execution"], crash["step"], crash["action"]};
  }
}

void DataFolder::writeState(const std::string& state) {
  std::string path = pathIn(directory_, kStateFile);
  std::string temporary = path + ".tmp";
  std::string text = "database-id=" + databaseId_ + "\nstate=" + state + "\n";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw StoreError("cannot write '" + temporary + "': " + std::strerror(errno));
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  int error = errno;
  ::close(fd);
  if (!written) throw StoreError("cannot write '" + temporary + "': " + std::strerror(error));
  // Renamed into place: a crash while writing leaves the old state whole.
  if (::rename(temporary.c_str(), path.c_str()) != 0)
    throw StoreError("cannot replace '" + path + "': " + std::strerror(errno));
  int directory = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory >= 0) {
    ::fsync(directory);  // the rename itself durable
    ::close(directory);
  }
}

void DataFolder::markRunning(const std::string& databaseId) {
  databaseId_ = databaseId;
  writeState("running");
}

void DataFolder::markStopped() noexcept {
  try {
    writeState("stopped");
  } catch (const StoreError& error) {
    logger().error("%s: the next start will report this stop as a crash", std::string(error.what()));
  }
}

void DataFolder::clearCrashRecord() noexcept {
  // Truncated, not removed: a crash handler may hold it open.
  if (::truncate(pathIn(directory_, kCrashFile).c_str(), 0) != 0 && errno != ENOENT)
    logger().warning("cannot empty '%s': %s", pathIn(directory_, kCrashFile), std::string(std::strerror(errno)));
}

}  // namespace plexus::core
