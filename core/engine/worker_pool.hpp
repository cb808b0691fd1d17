// The engine's threads: an elastic pool running tasks in the order posted.
//
// Why elastic: steps are third-party code. Most wait on something (a
// partner's API) and some never return. A fixed pool lets eight stuck steps
// stop everything; a pool that grows whenever work waits would run 256
// CPU-bound steps on 2 cores. So the pool grows only when tasks wait, no
// thread is idle *and the CPUs have time to spare* (the busy threads are
// blocked, not computing), as Go hands a processor on when a goroutine
// blocks in a system call. Threads above the core size end after a while
// idle. A thread whose task was given up (an abandoned step) is replaced at
// once and ends when its task finally returns.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace plexus::core {

class WorkerPool {
 public:
  using Task = std::function<void()>;
  struct Options {
    int coreThreads = 8;   ///< Always running.
    int maxThreads = 256;  ///< The most at once, lost ones (running abandoned tasks) included.
    std::chrono::milliseconds idleLifetime{30000};  ///< How long an extra thread waits for work before it ends.
  };

  explicit WorkerPool(Options options);
  /// As stop(now): threads still busy are left to end on their own.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Starts the core threads.
  void start();
  /// Queues a task; it runs on a pool thread, in posting order with the
  /// others. A task must not throw (what it throws is logged and dropped).
  void post(Task task);
  /// Queues several tasks at once, in order: one lock and one wake-up for
  /// all (thousands of executions due at the same time).
  void postAll(std::vector<Task> tasks);
  /// The supervisor's tick: starts more threads when tasks wait, no thread
  /// is idle and the process used less CPU since the last call than the
  /// machine has (the busy threads are blocked). Doubles at most per call.
  void growIfStarved();
  /// One busy thread will not come back soon (its task was abandoned):
  /// another starts in its place. The lost thread's task calls
  /// leaveAfterTask() once it returns, and that thread then ends.
  void replaceLost();
  /// Called from a task: its thread ends after the task (it was replaced).
  static void leaveAfterTask();
  /// Stops taking tasks (the queued ones are dropped) and waits until
  /// `timeout` for running tasks to return. Returns how many still run:
  /// those threads are detached and end on their own; they may only touch
  /// what their task keeps alive.
  int stop(std::chrono::milliseconds timeout);

  std::size_t queued() const;
  int threads() const;  ///< Live threads, lost ones included.
  int busy() const;     ///< Threads running a task.

 private:
  struct State;
  static void threadMain(std::shared_ptr<State> state, bool core);
  std::shared_ptr<State> state_;  // shared with every thread, which may outlive the pool
};

}  // namespace plexus::core
