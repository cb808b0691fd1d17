#include "server/handler_pool.hpp"

#include <algorithm>

namespace plexus::core {

namespace {
constexpr int kEagerThreads = 16;
constexpr auto kGrowDelay = std::chrono::milliseconds(5);
}  // namespace

HandlerPool::HandlerPool(int minThreads, int maxThreads, std::chrono::milliseconds idleTimeout)
    : minThreads_(std::max(0, minThreads)), maxThreads_(std::max(1, maxThreads)), idleTimeout_(idleTimeout) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int i = 0; i < std::min(minThreads_, maxThreads_); ++i) startThread();
  grower_ = std::thread([this] { grow(); });
}

HandlerPool::~HandlerPool() { shutdown(); }

void HandlerPool::submit(std::function<void()> task) {
  std::list<std::thread> finished;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back({std::move(task), std::chrono::steady_clock::now()});
    if (idle_ > wakes_) {
      // Counting the wake-up now lets a second task submitted before the
      // thread wakes start another thread instead of waiting behind the first.
      ++wakes_;
      wake_.notify_one();
    } else if (static_cast<int>(threads_.size()) < std::min(kEagerThreads, maxThreads_)) {
      startThread();
    } else {
      // Every time, not only for the first waiting task: the grower may be
      // asleep on an empty queue it saw before the eager threads took theirs.
      growWake_.notify_one();
    }
    finished.swap(exited_);
  }
  for (auto& thread : finished) thread.join();
}

void HandlerPool::shutdown() {
  std::list<std::thread> all;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && threads_.empty() && exited_.empty()) return;
    stopping_ = true;
    wake_.notify_all();
    growWake_.notify_all();
  }
  if (grower_.joinable()) grower_.join();
  // Threads drain the queue before they end; each moves itself to exited_.
  for (;;) {
    std::list<std::thread> finished;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      finished.swap(exited_);
      if (finished.empty() && threads_.empty()) break;
    }
    for (auto& thread : finished) thread.join();
    if (finished.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int HandlerPool::threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(threads_.size());
}

void HandlerPool::grow() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (tasks_.empty()) {
      growWake_.wait(lock);
      continue;
    }
    auto waited = std::chrono::steady_clock::now() - tasks_.front().queuedAt;
    if (waited < kGrowDelay) {
      growWake_.wait_for(lock, kGrowDelay - waited);
      continue;
    }
    int threads = static_cast<int>(threads_.size());
    int wanted = std::min({static_cast<int>(tasks_.size()), std::max(4, threads / 4), maxThreads_ - threads});
    for (int i = 0; i < wanted; ++i) startThread();
    growWake_.wait_for(lock, kGrowDelay);
  }
}

void HandlerPool::startThread() {
  threads_.emplace_back();
  auto self = std::prev(threads_.end());
  *self = std::thread([this] { run(); });
}

void HandlerPool::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (!tasks_.empty()) {
      std::function<void()> task = std::move(tasks_.front().run);
      tasks_.pop_front();
      lock.unlock();
      task();
      task = nullptr;  // Release what it holds before sleeping.
      lock.lock();
      continue;
    }
    if (stopping_) break;
    ++idle_;
    bool woken = wake_.wait_for(lock, idleTimeout_, [&] { return stopping_ || wakes_ > 0; });
    --idle_;
    if (wakes_ > 0) --wakes_;
    if (!woken && tasks_.empty() && static_cast<int>(threads_.size()) > minThreads_) break;
  }
  // Move this thread's handle to exited_, for whoever joins next.
  auto id = std::this_thread::get_id();
  for (auto it = threads_.begin(); it != threads_.end(); ++it) {
    if (it->get_id() == id) {
      exited_.splice(exited_.end(), threads_, it);
      break;
    }
  }
}

}  // namespace plexus::core
