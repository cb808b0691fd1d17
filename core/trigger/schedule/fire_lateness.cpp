#include "trigger/schedule/fire_lateness.hpp"

#include <algorithm>

namespace plexus::core {

void FireLateness::expect(TimePoint due, std::size_t count) {
  if (count == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  Pending& pending = pending_[due];
  pending.expected += count;
  pending.latenessMs.reserve(pending.expected);
}

std::optional<FireLatenessSummary> FireLateness::queued(TimePoint due, TimePoint queuedAt, std::size_t count) {
  std::vector<std::int64_t> lateness;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pending_.find(due);
    if (it == pending_.end()) return std::nullopt;  // not expected: nothing to summarise
    it->second.latenessMs.insert(it->second.latenessMs.end(), count,
                                 std::max<std::int64_t>(0, (queuedAt - due).count()));
    if (it->second.latenessMs.size() < it->second.expected) return std::nullopt;
    lateness = std::move(it->second.latenessMs);
    pending_.erase(it);
  }
  std::sort(lateness.begin(), lateness.end());
  auto at = [&](double q) {
    return std::chrono::milliseconds(lateness[static_cast<std::size_t>(q * static_cast<double>(lateness.size() - 1))]);
  };
  return FireLatenessSummary{due, lateness.size(), at(0.5), at(0.99), std::chrono::milliseconds(lateness.back())};
}

}  // namespace plexus::core
