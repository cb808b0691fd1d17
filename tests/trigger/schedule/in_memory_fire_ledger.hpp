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

#include "trigger/schedule/fire_ledger.hpp"

namespace plexus::core::testing {

class InMemoryFireLedger : public FireLedger {
 public:
  bool recordFire(const std::string& instanceId, TimePoint dueAt) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failuresLeft_ > 0) {
      --failuresLeft_;
      throw std::runtime_error("database is locked");
    }
    auto last = last_.find(instanceId);
    if (last != last_.end() && dueAt <= last->second) return false;  // as the store: due order per instance
    fires_.insert({instanceId, dueAt});
    last_[instanceId] = dueAt;
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
