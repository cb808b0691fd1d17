// A FireLedger test double: fires kept in memory, optionally failing.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "schedule/fire_ledger.hpp"

namespace plexus::core::testing {

class InMemoryFireLedger : public FireLedger {
 public:
  bool recordFire(const std::string& instanceId, TimePoint dueAt) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failuresLeft_ > 0) {
      --failuresLeft_;
      throw std::runtime_error("database is locked");
    }
    if (!fires_.insert({instanceId, dueAt}).second) return false;
    auto& last = last_[instanceId];
    last = std::max(last, dueAt);
    return true;
  }

  std::optional<TimePoint> lastFire(const std::string& instanceId) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = last_.find(instanceId);
    if (it == last_.end()) return std::nullopt;
    return it->second;
  }

  /// The next `count` recordFire calls throw.
  void failNext(int count) {
    std::lock_guard<std::mutex> lock(mutex_);
    failuresLeft_ = count;
  }

  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return fires_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::pair<std::string, TimePoint>> fires_;
  std::map<std::string, TimePoint> last_;
  int failuresLeft_ = 0;
};

}  // namespace plexus::core::testing
