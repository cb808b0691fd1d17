// The engine's one timer thread: wake-ups of waiting executions, retries of
// parked ones, and a periodic tick (deadlines, the pool's growth).
//
// One min-heap of (wall-clock time, callback) and one thread that sleeps
// until the earliest entry or the next tick, on the injected clock: 10,000
// waiting executions cost 10,000 heap entries, not threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "util/clock.hpp"

namespace plexus::core {

class Timers {
 public:
  using Callback = std::function<void()>;

  /// `onTick` runs every `tick` on the timer thread (quick work only).
  Timers(const TimeSource& clock, std::chrono::milliseconds tick, Callback onTick);
  ~Timers();  ///< Stops the thread; pending entries never fire.
  Timers(const Timers&) = delete;
  Timers& operator=(const Timers&) = delete;

  void start();
  void stop();

  /// Runs `callback` on the timer thread once the clock reaches `when`
  /// (at once if it has). Callbacks must be quick: they post work elsewhere.
  void at(TimePoint when, Callback callback);
  /// Entries not yet fired.
  std::size_t pending() const;

 private:
  struct Entry {
    TimePoint when;
    std::uint64_t order;  // ties fire in the order they were added
    Callback callback;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.when != b.when ? a.when > b.when : a.order > b.order;
    }
  };
  void run();

  const TimeSource& clock_;
  const std::chrono::milliseconds tick_;
  const Callback onTick_;

  mutable std::mutex mutex_;  // guards heap_, nextOrder_ and stopping_
  std::condition_variable wake_;
  std::priority_queue<Entry, std::vector<Entry>, Later> heap_;
  std::uint64_t nextOrder_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // touched by start/stop only
};

}  // namespace plexus::core
