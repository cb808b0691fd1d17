// How late the fires due at one time started: the scheduler's lateness as
// a user sees it (due time to queued), summarised once per due time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "util/time.hpp"

namespace plexus::core {

/// The lateness of the fires due at one time, once all were queued.
struct FireLatenessSummary {
  TimePoint due{};
  std::size_t fires = 0;
  std::chrono::milliseconds p50{0}, p99{0}, max{0};
};

/// Collects, per due time, when each recorded fire was queued, and hands
/// back a summary when the last one expected for that due time is.
/// Threads: safe from any thread (the firing threads expect, the engine's
/// timer thread reports).
class FireLateness {
 public:
  /// `count` more fires due at `due` were recorded and will be queued.
  void expect(TimePoint due, std::size_t count);
  /// `count` fires due at `due` were queued at `queuedAt`. Returns the
  /// summary of `due` when those were the last ones expected.
  std::optional<FireLatenessSummary> queued(TimePoint due, TimePoint queuedAt, std::size_t count = 1);

 private:
  struct Pending {
    std::size_t expected = 0;
    std::vector<std::int64_t> latenessMs;
  };
  std::mutex mutex_;
  std::map<TimePoint, Pending> pending_;  // guarded by mutex_
};

}  // namespace plexus::core
