// The threads that run request handlers (which may block: a synchronous
// webhook waits for its execution). The pool grows when every thread is
// busy and shrinks when threads sit idle, so a burst does not leave a
// thousand sleeping threads behind.
//
// Growth: up to 16 threads start at once when a task finds none idle;
// beyond that a task that has waited kGrowDelay (5 ms) makes the pool grow
// by a quarter (at least 4), every 5 ms while tasks keep waiting. Quick
// tasks in a burst are taken by threads as they finish, so a flood of
// small requests does not start a thread each; blocked handlers (waiting
// synchronous callers) still get their threads within tens of milliseconds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace plexus::core {

class HandlerPool {
 public:
  /// Keeps `minThreads` threads; starts more (up to `maxThreads`) when a
  /// task finds none idle; a thread idle for `idleTimeout` beyond the
  /// minimum ends. At the maximum, tasks wait in order.
  HandlerPool(int minThreads, int maxThreads, std::chrono::milliseconds idleTimeout);
  /// Runs every queued task, then joins the threads.
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  /// Queues `task`; thread-safe. A task must not throw.
  void submit(std::function<void()> task);
  /// Waits until every submitted task has run, then joins the threads.
  void shutdown();
  /// Threads alive now (for tests and logs).
  int threads() const;

 private:
  struct Task {
    std::function<void()> run;
    std::chrono::steady_clock::time_point queuedAt;
  };
  void run();
  void grow();         // The thread that starts threads for tasks that wait.
  void startThread();  // Requires mutex_.

  const int minThreads_;
  const int maxThreads_;
  const std::chrono::milliseconds idleTimeout_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable growWake_;
  std::deque<Task> tasks_;
  std::thread grower_;
  std::list<std::thread> threads_;
  std::list<std::thread> exited_;  // Ended threads not yet joined.
  int idle_ = 0;                   // Threads waiting for a task.
  int wakes_ = 0;                  // Wake-ups signalled and not yet taken by a waiting thread.
  bool stopping_ = false;
};

}  // namespace plexus::core
