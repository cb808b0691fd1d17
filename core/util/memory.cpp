#include "util/memory.hpp"

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

namespace plexus::core {

namespace {

// Arenas: glibc makes up to 8 per core, one per thread that finds the
// others busy; each keeps its freed chunks. Four on this 2-core class of
// machine cut the 10-body burst's peak and what stays afterwards, at no
// measured cost to intake throughput (bench/memory_burst.py, docs/limits.md).
constexpr int kArenas = 4;
// Allocations from 4 MiB up (a big array's buffer, a spooled body's copy)
// get their own mapping and go back to the kernel the moment they are
// freed. A fixed threshold also stops glibc raising it (up to 32 MiB)
// after such a block is freed, which would keep the next ones in arenas.
constexpr int kMmapThreshold = 4 * 1024 * 1024;
// The top of a heap is given back once this much of it is free.
constexpr int kTrimThreshold = 16 * 1024 * 1024;

// The returner looks every second (mallinfo2 walks the free lists: well
// under a millisecond) and trims once 32 MiB or more lies free.
constexpr auto kReturnerPeriod = std::chrono::seconds(1);
constexpr std::size_t kMinFreeToTrim = 32 * 1024 * 1024;

/// The background thread that gives memory back once a burst has settled.
/// A function-local static: joined when the process exits normally.
class MemoryReturner {
 public:
  MemoryReturner() : thread_([this] { run(); }) {}
  ~MemoryReturner() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    MemoryState last = memoryState();
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, kReturnerPeriod, [this] { return stopping_; }))
      if (shouldTrim(memoryState(), last, kMinFreeToTrim)) last = returnFreedMemory();
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

void configureAllocator(bool server) {
  static std::once_flag configured;
  std::call_once(configured, [] {
    mallopt(M_ARENA_MAX, kArenas);
    mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
    mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  });
  if (server) static MemoryReturner returner;
}

namespace {
std::size_t residentBytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  if (!file) return 0;
  unsigned long size = 0, resident = 0;
  int read = std::fscanf(file, "%lu %lu", &size, &resident);
  std::fclose(file);
  return read == 2 ? resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}
}  // namespace

MemoryState memoryState() {
  MemoryState state;
  state.resident = residentBytes();
  state.heapFree = mallinfo2().fordblks;
  return state;
}

MemoryState returnFreedMemory() {
  malloc_trim(0);
  return memoryState();
}

bool shouldTrim(const MemoryState& now, const MemoryState& last, std::size_t minFree) {
  if (now.heapFree < minFree) return false;
  return now.resident >= last.resident + minFree || now.heapFree >= last.heapFree + minFree;
}

MemoryBudget::Lease MemoryBudget::acquire(std::size_t bytes) {
  if (bytes == 0) return Lease();
  std::unique_lock<std::mutex> lock(mutex_);
  freed_.wait(lock, [&] { return inUse_ == 0 || inUse_ + bytes <= capacity_; });
  inUse_ += bytes;
  return Lease(this, bytes);
}

std::size_t MemoryBudget::inUse() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return inUse_;
}

void MemoryBudget::give(std::size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    inUse_ -= bytes;
  }
  freed_.notify_all();
}

}  // namespace plexus::core
