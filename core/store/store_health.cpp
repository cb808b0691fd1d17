#include "store/store_health.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <Poco/Logger.h>

#include "store/sqlite_connection.hpp"

namespace plexus::core {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("plexus.store"); }

constexpr const char* kSuffixes[3] = {"", "-wal", "-shm"};

}  // namespace

StoreHealth::StoreHealth(std::string databasePath) : databasePath_(std::move(databasePath)) {}

StoreHealth::~StoreHealth() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StoreHealth::startWatching(std::chrono::milliseconds period) {
  checkFiles();  // remembers what is there now
  thread_ = std::thread([this, period] { watch(period); });
}

void StoreHealth::watch(std::chrono::milliseconds period) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
    lock.unlock();
    checkFiles();
    lock.lock();
  }
}

std::string StoreHealth::whatToDo() const {
  return "; nothing new can be stored: new work is refused (503) and /readyz answers 503. Stop the server, "
         "then restore " + databasePath_ + " from a backup, or start with --allow-new-database to begin with "
         "an empty database (see docs/operating.md)";
}

void StoreHealth::checkFiles() {
  std::string problem;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int i = 0; i < 3 && problem.empty(); ++i) {
      std::string path = databasePath_ + kSuffixes[i];
      struct stat status {};
      bool present = ::stat(path.c_str(), &status) == 0;
      Identity& known = files_[i];
      if (!known.known) {
        // The -wal and -shm files appear with the first transaction; from
        // then on they stay while the store is open.
        if (present) known = Identity{status.st_dev, status.st_ino, true};
        continue;
      }
      if (!present) {
        problem = (i == 0 ? "the database file " : "the database's file ") + path +
                  " was deleted while the server ran";
      } else if (status.st_dev != known.device || status.st_ino != known.inode) {
        problem = (i == 0 ? "the database file " : "the database's file ") + path +
                  " was replaced by another file while the server ran";
      }
    }
  }
  if (!problem.empty()) fail(problem);
}

void StoreHealth::fail(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!lasting_.empty()) return;  // the first cause is the one to tell
    lasting_ = reason + whatToDo();
  }
  healthy_ = false;
  logger().critical("STORE UNAVAILABLE: %s%s", reason, whatToDo());
}

void StoreHealth::diskFull(const std::string& sqliteMessage) {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    first = !full_.exchange(true);
    fullReason_ = "the disk holding " + databasePath_ + " is full (SQLite: " + sqliteMessage +
                  "); new work is refused (503) until space is freed; executions already acknowledged "
                  "run once it is";
  }
  healthy_ = false;
  if (first) logger().critical("STORE UNAVAILABLE: %s", fullReason_);
}

void StoreHealth::committed() {
  if (!full_.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!full_.exchange(false)) return;
    fullReason_.clear();
    healthy_ = lasting_.empty();
  }
  logger().warning("the store can write again: the disk holding %s has room", databasePath_);
}

std::optional<std::string> StoreHealth::problem() const {
  if (healthy_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!lasting_.empty()) return lasting_;
  if (!fullReason_.empty()) return fullReason_;
  return std::nullopt;
}

void StoreHealth::requireWritable() const {
  if (healthy_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!lasting_.empty()) throw StoreUnavailable(lasting_);
}

std::exception_ptr StoreHealth::classify(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const StoreUnavailable&) {
    return error;
  } catch (const sqlite::Error& failure) {
    switch (failure.code() & 0xff) {
      case SQLITE_FULL:
        diskFull(failure.sqliteMessage().empty() ? failure.what() : failure.sqliteMessage());
        break;
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB:
        checkFiles();  // a replaced file reads as damaged: say which it is
        fail("the database " + databasePath_ + " is damaged (SQLite: " + failure.what() + ")");
        break;
      case SQLITE_IOERR:
      case SQLITE_CANTOPEN:
        checkFiles();
        if ((failure.code() & 0xff) == SQLITE_CANTOPEN && healthy_) return nullptr;
        fail("the database " + databasePath_ + " cannot be read or written (SQLite: " + failure.what() + ")");
        break;
      default:
        return nullptr;
    }
  } catch (...) {
    return nullptr;  // not about the database's state: an ordinary failure, passed on as it is
  }
  auto reason = problem();
  return reason ? std::make_exception_ptr(StoreUnavailable(*reason)) : nullptr;
}

}  // namespace plexus::core
