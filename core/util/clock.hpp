// Time as the engine and its timers see it: injected, so tests run on a
// simulated clock instead of sleeping (leveldb's Env, Envoy's TimeSource).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "util/time.hpp"

namespace plexus::core {

/// Wall-clock and monotonic time, and a way to wait for a moment of it.
/// Threads: every method is safe from any thread.
class TimeSource {
 public:
  using Steady = std::chrono::steady_clock::time_point;

  virtual ~TimeSource() = default;
  /// Wall-clock time in milliseconds (what the store and the API show).
  virtual TimePoint now() const = 0;
  /// Monotonic time, for deadlines and timeouts.
  virtual Steady steadyNow() const = 0;
  /// Waits on `wake` (with `lock` held, as condition_variable::wait_until)
  /// until notified or until this source's monotonic time reaches `until`.
  /// May return early (spuriously): callers re-check their condition.
  virtual void waitUntil(std::condition_variable& wake, std::unique_lock<std::mutex>& lock, Steady until) const = 0;

  /// The real clock (a process-wide instance).
  static const TimeSource& real();
};

/// The real clock: system_clock and steady_clock.
class RealTimeSource final : public TimeSource {
 public:
  TimePoint now() const override { return nowMs(); }
  Steady steadyNow() const override { return std::chrono::steady_clock::now(); }
  void waitUntil(std::condition_variable& wake, std::unique_lock<std::mutex>& lock, Steady until) const override {
    wake.wait_until(lock, until);
  }
};

/// A clock that moves only when told (advance). Waiters re-check every
/// millisecond of real time, so an advance reaches them at once without the
/// clock having to know them.
class SimulatedClock final : public TimeSource {
 public:
  /// Starts at `start` (wall) and at an arbitrary monotonic origin.
  explicit SimulatedClock(TimePoint start = TimePoint(std::chrono::milliseconds(1'800'000'000'000)))
      : offset_(0), wallStart_(start) {}

  TimePoint now() const override { return wallStart_ + std::chrono::milliseconds(offset_.load()); }
  Steady steadyNow() const override { return Steady(std::chrono::hours(1)) + std::chrono::milliseconds(offset_.load()); }
  void waitUntil(std::condition_variable& wake, std::unique_lock<std::mutex>& lock, Steady until) const override {
    if (steadyNow() >= until) return;
    wake.wait_for(lock, std::chrono::milliseconds(1));
  }

  /// Moves both clocks forward by `by`.
  void advance(std::chrono::milliseconds by) { offset_ += by.count(); }

 private:
  std::atomic<long long> offset_;  // milliseconds since the start
  const TimePoint wallStart_;
};

}  // namespace plexus::core
