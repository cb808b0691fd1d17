#include "engine/timers.hpp"

#include <Poco/Logger.h>

namespace plexus::core {

Timers::Timers(const TimeSource& clock, std::chrono::milliseconds tick, Callback onTick)
    : clock_(clock), tick_(tick), onTick_(std::move(onTick)) {}

Timers::~Timers() { stop(); }

void Timers::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void Timers::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Timers::at(TimePoint when, Callback callback) {
  bool earliest;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    earliest = heap_.empty() || when < heap_.top().when;
    heap_.push(Entry{when, nextOrder_++, std::move(callback)});
  }
  if (earliest) wake_.notify_one();
}

std::size_t Timers::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return heap_.size();
}

void Timers::run() {
  auto nextTick = clock_.steadyNow() + tick_;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    // Everything due now, oldest first; callbacks run without the lock.
    std::vector<Callback> due;
    TimePoint now = clock_.now();
    while (!heap_.empty() && heap_.top().when <= now) {
      due.push_back(std::move(const_cast<Entry&>(heap_.top()).callback));
      heap_.pop();
    }
    bool ticks = clock_.steadyNow() >= nextTick;
    if (!due.empty() || ticks) {
      lock.unlock();
      for (Callback& callback : due) {
        try {
          callback();
        } catch (const std::exception& error) {
          Poco::Logger::get("plexus.engine").error("a timer callback failed: %s", std::string(error.what()));
        }
      }
      if (ticks) {
        nextTick = clock_.steadyNow() + tick_;
        try {
          onTick_();
        } catch (const std::exception& error) {
          Poco::Logger::get("plexus.engine").error("the engine's tick failed: %s", std::string(error.what()));
        }
      }
      lock.lock();
      continue;
    }
    auto until = nextTick;
    if (!heap_.empty()) until = std::min(until, clock_.steadyNow() + (heap_.top().when - clock_.now()));
    clock_.waitUntil(wake_, lock, until);
  }
}

}  // namespace plexus::core
