#include "store/reader_pool.hpp"

namespace plexus::core {

ReaderPool::ReaderPool(std::string databasePath, int busyTimeoutMs, std::size_t maxIdle)
    : databasePath_(std::move(databasePath)), busyTimeoutMs_(busyTimeoutMs), maxIdle_(maxIdle) {}

ReaderPool::Lease ReaderPool::acquire() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(connection));
    }
  }
  // Opened outside the lock: opening touches the file system.
  return Lease(*this, std::make_unique<sqlite::Connection>(databasePath_, sqlite::Connection::Mode::ReadOnly,
                                                           busyTimeoutMs_));
}

void ReaderPool::giveBack(std::unique_ptr<sqlite::Connection> connection) {
  if (!connection) return;
  std::unique_lock<std::mutex> lock(mutex_);
  if (idle_.size() < maxIdle_) {
    idle_.push_back(std::move(connection));
    return;
  }
  lock.unlock();
  connection.reset();  // closed outside the lock
}

}  // namespace plexus::core
