// The final results of recent synchronous executions, kept for the GET that
// follows their 303 (they are durable in the store already; this only saves
// re-reading them).
#pragma once

#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "store/store.hpp"

namespace plexus::core {

/// Bounded: 4096 entries, each at most 64 KiB as served (larger results are
/// not kept). Threads: any; one mutex.
class RecentResults {
 public:
  void remember(const std::string& executionId, const StoredResult& result);
  /// A result kept by remember, if still there.
  std::optional<StoredResult> find(const std::string& executionId) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, StoredResult> results_;  // guarded by mutex_
  std::deque<std::string> order_;                          // oldest first; guarded by mutex_
};

}  // namespace plexus::core
