// What a running execution is told from outside: stop (cancel, timeout,
// shutdown) and by when; and which of its steps runs now, so that the
// supervisor can give up on a step that does not return.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "store/store.hpp"

namespace plexus::core {

/// Why an execution should stop. The first reason set wins.
enum class StopReason { None, Cancelled, TimedOut, ShuttingDown };

/// Shared by the worker running the execution, the engine (cancel,
/// shutdown) and the supervisor (deadlines). One per execution while it runs.
///
/// Threads: the deadlines and the reason are atomics, read on every
/// Context::cancelled(); the running step and whether it was abandoned are
/// guarded by `mutex_`, so that exactly one of the worker (its step
/// returned) and the supervisor (it gave up on it) records the step's end.
class ExecutionControl {
 public:
  using Steady = std::chrono::steady_clock::time_point;

  explicit ExecutionControl(std::string executionId) : executionId_(std::move(executionId)) {}

  const std::string& executionId() const { return executionId_; }

  /// Sets the reason (and when it was asked, `now`) unless one is set
  /// already; returns whether it did.
  bool requestStop(StopReason reason, Steady now) {
    StopReason none = StopReason::None;
    if (!reason_.compare_exchange_strong(none, reason)) return false;
    stopRequestedAt_.store(now.time_since_epoch().count());
    return true;
  }
  StopReason stopReason() const { return reason_.load(); }
  /// When the stop was asked for; nullopt when it was not (yet).
  std::optional<Steady> stopRequestedAt() const {
    auto at = stopRequestedAt_.load();
    if (at == kNever) return std::nullopt;
    return Steady(Steady::duration(at));
  }

  /// The whole execution's deadline (execution.timeoutMs), or max.
  void setExecutionDeadline(Steady at) { executionDeadline_.store(at.time_since_epoch().count()); }
  Steady executionDeadline() const { return Steady(Steady::duration(executionDeadline_.load())); }
  /// The running step's deadline (its timeoutMs, or when a cancel or a
  /// shutdown's grace says so), or max between steps.
  void setStepDeadline(Steady at) { stepDeadline_.store(at.time_since_epoch().count()); }
  /// The earlier of the two: what Context::deadline() says.
  Steady deadline() const {
    return std::min(executionDeadline(), Steady(Steady::duration(stepDeadline_.load())));
  }

  /// The step the worker is about to run: the supervisor may give up on it.
  void stepStarted(const StepRecord& step, std::optional<long long> timeoutMs) {
    std::lock_guard<std::mutex> lock(mutex_);
    step_ = step;
    stepTimeoutMs_ = timeoutMs;
  }
  /// The worker's step returned. False when the supervisor abandoned it
  /// first: then the worker must drop what it returned and record nothing.
  bool stepReturned() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (abandoned_) return false;
    step_.reset();
    return true;
  }
  /// The supervisor gives up on the running step: returns it (to record its
  /// failure) unless the step has returned, or none runs.
  std::optional<StepRecord> abandonStep() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!step_ || abandoned_) return std::nullopt;
    abandoned_ = true;
    return step_;
  }
  /// The step's own timeout, when it has one (for the failure message).
  std::optional<long long> stepTimeoutMs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stepTimeoutMs_;
  }
  bool abandoned() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return abandoned_;
  }

 private:
  static constexpr Steady::rep kNever = Steady::duration::max().count();

  const std::string executionId_;
  std::atomic<StopReason> reason_{StopReason::None};
  std::atomic<Steady::rep> executionDeadline_{kNever};
  std::atomic<Steady::rep> stepDeadline_{kNever};
  std::atomic<Steady::rep> stopRequestedAt_{kNever};

  mutable std::mutex mutex_;  // guards step_, stepTimeoutMs_ and abandoned_
  std::optional<StepRecord> step_;
  std::optional<long long> stepTimeoutMs_;
  bool abandoned_ = false;
};

}  // namespace plexus::core
