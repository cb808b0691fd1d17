#include "engine/worker_pool.hpp"

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

#include <Poco/Logger.h>

#include "engine/crash_handler.hpp"

namespace plexus::core {

namespace {
Poco::Logger& logger() { return Poco::Logger::get("plexus.engine"); }

thread_local bool tLeaveAfterTask = false;  // set by leaveAfterTask() on a pool thread

std::chrono::nanoseconds processCpuTime() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}
}  // namespace

struct WorkerPool::State {
  explicit State(Options o) : options(o) {}
  const Options options;

  std::mutex mutex;  // guards everything below
  std::condition_variable wake;     // threads wait on it for tasks
  std::condition_variable drained;  // stop() waits on it for busy threads
  std::deque<Task> tasks;
  int threads = 0;
  int busy = 0;
  int lost = 0;  // busy threads running an abandoned task (counted in threads and busy)
  bool started = false;
  bool stopping = false;
  // For growIfStarved: the process's CPU time and the clock at the last call.
  std::chrono::nanoseconds lastCpu{0};
  std::chrono::steady_clock::time_point lastTick{};

  void spawn(const std::shared_ptr<State>& self, bool core) {  // requires mutex
    ++threads;
    std::thread(&WorkerPool::threadMain, self, core).detach();
  }
};

WorkerPool::WorkerPool(Options options) : state_(std::make_shared<State>(options)) {}

WorkerPool::~WorkerPool() { stop(std::chrono::milliseconds(0)); }

void WorkerPool::start() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (state_->started) return;
  state_->started = true;
  state_->lastCpu = processCpuTime();
  state_->lastTick = std::chrono::steady_clock::now();
  for (int i = 0; i < std::max(1, state_->options.coreThreads); ++i) state_->spawn(state_, true);
}

void WorkerPool::post(Task task) {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (state_->stopping) return;
    state_->tasks.push_back(std::move(task));
  }
  state_->wake.notify_one();
}

void WorkerPool::postAll(std::vector<Task> tasks) {
  if (tasks.empty()) return;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (state_->stopping) return;
    for (Task& task : tasks) state_->tasks.push_back(std::move(task));
  }
  if (tasks.size() == 1) {
    state_->wake.notify_one();
  } else {
    state_->wake.notify_all();
  }
}

void WorkerPool::growIfStarved() {
  State& s = *state_;
  auto cpu = processCpuTime();
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto usedCpu = cpu - s.lastCpu;
  auto wall = now - s.lastTick;
  s.lastCpu = cpu;
  s.lastTick = now;
  if (s.stopping || !s.started || s.tasks.empty() || s.busy < s.threads) return;
  // Spare CPU: less than all cores but half a core were used since the last tick.
  double cores = std::max(1u, std::thread::hardware_concurrency());
  if (static_cast<double>(usedCpu.count()) >= (cores - 0.5) * static_cast<double>(wall.count())) return;
  int room = s.options.maxThreads - s.threads;
  int more = std::min<int>({room, std::max(1, s.threads - s.lost), static_cast<int>(s.tasks.size())});
  for (int i = 0; i < more; ++i) s.spawn(state_, false);
  if (more > 0)
    logger().information("workers: %d tasks wait while all %d threads are blocked; %d more threads", 
                         static_cast<int>(s.tasks.size()), s.threads - more, more);
}

void WorkerPool::replaceLost() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  ++state_->lost;
  if (!state_->stopping) state_->spawn(state_, false);
}

void WorkerPool::leaveAfterTask() { tLeaveAfterTask = true; }

int WorkerPool::stop(std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  s.stopping = true;
  s.tasks.clear();
  s.wake.notify_all();
  s.drained.wait_for(lock, timeout, [&] { return s.busy == 0; });
  return s.busy;
}

std::size_t WorkerPool::queued() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->tasks.size();
}

int WorkerPool::threads() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->threads;
}

int WorkerPool::busy() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->busy;
}

void WorkerPool::threadMain(std::shared_ptr<State> state, bool core) {
  AlternateSignalStack crashStack;  // so a component's stack overflow still gets its crash line
  State& s = *state;
  std::unique_lock<std::mutex> lock(s.mutex);
  for (;;) {
    // A core thread waits for ever; an extra one for idleLifetime, and then
    // ends unless the pool has fewer than its core threads left.
    bool woken = true;
    if (core || s.threads - s.lost <= s.options.coreThreads) {
      s.wake.wait(lock, [&] { return s.stopping || !s.tasks.empty(); });
    } else {
      woken = s.wake.wait_for(lock, s.options.idleLifetime, [&] { return s.stopping || !s.tasks.empty(); });
    }
    if (s.stopping) break;
    if (!woken) {
      if (s.threads - s.lost > s.options.coreThreads) break;  // idle, and not needed
      continue;
    }
    Task task = std::move(s.tasks.front());
    s.tasks.pop_front();
    ++s.busy;
    lock.unlock();
    try {
      task();
    } catch (const std::exception& error) {
      logger().error("a worker task failed: %s", std::string(error.what()));
    }
    task = nullptr;  // what it holds goes before the pool's lock is taken
    lock.lock();
    --s.busy;
    if (tLeaveAfterTask) {
      // This thread was given up for lost and replaced: it ends.
      tLeaveAfterTask = false;
      --s.lost;
      break;
    }
    if (s.stopping && s.busy == 0) s.drained.notify_all();
  }
  --s.threads;
  if (s.busy == 0) s.drained.notify_all();
}

}  // namespace plexus::core
