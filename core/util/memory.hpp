// The process's allocator settings, in one place (docs/limits.md, "Memory").
//
// glibc malloc keeps memory that was freed: each thread arena keeps its
// free chunks for reuse, and the main heap is only trimmed from its top.
// After a burst of large payloads (a 50 MB JSON body becomes ~450 MB of
// nlohmann nodes, freed when its execution ends) RSS would stay at the
// burst's peak for the life of the process. Two measures give it back:
// fewer arenas (less memory parked per thread) and a background thread
// that calls malloc_trim(0) once memory use has settled after growing.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace plexus::core {

/// Sets glibc malloc's options for this process. With `server`, also starts
/// the memory returner (returnFreedMemoryPeriodically). Call once, first
/// thing in main, before threads start. Harmless to call again.
void configureAllocator(bool server);

/// What the returner looks at: resident memory (/proc/self/statm) and the
/// bytes malloc holds free in its arenas (mallinfo2), 0 when unknown.
struct MemoryState {
  std::size_t resident = 0;
  std::size_t heapFree = 0;
};
MemoryState memoryState();

/// Gives freed heap memory back to the kernel now (malloc_trim(0)) and
/// returns the state after it.
MemoryState returnFreedMemory();

/// The returner's rule, exposed for tests: trim when malloc holds at least
/// `minFree` bytes free and, since the last trim (`last`, the state right
/// after it), either resident memory or free heap has grown by `minFree`.
/// A trim that gave nothing back (the memory is in use) is thus not
/// repeated every second, and a new burst that ends is trimmed again.
bool shouldTrim(const MemoryState& now, const MemoryState& last, std::size_t minFree);

/// A process-wide budget of bytes for large parsed values (the deferred
/// JSON bodies of executions that run at once; docs/limits.md): a caller
/// takes a lease of its estimate before parsing and holds it while the
/// value lives. A lease larger than the whole budget is granted once
/// nothing else is held, so every request runs eventually, alone.
/// Thread-safe.
class MemoryBudget {
 public:
  explicit MemoryBudget(std::size_t capacity) : capacity_(capacity) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  /// Returns its bytes to the budget when destroyed.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept : budget_(other.budget_), bytes_(other.bytes_) { other.budget_ = nullptr; }
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        release();
        budget_ = other.budget_;
        bytes_ = other.bytes_;
        other.budget_ = nullptr;
      }
      return *this;
    }
    ~Lease() { release(); }
    std::size_t bytes() const { return budget_ ? bytes_ : 0; }

   private:
    friend class MemoryBudget;
    Lease(MemoryBudget* budget, std::size_t bytes) : budget_(budget), bytes_(bytes) {}
    void release() {
      if (budget_) budget_->give(bytes_);
      budget_ = nullptr;
    }
    MemoryBudget* budget_ = nullptr;
    std::size_t bytes_ = 0;
  };

  /// Blocks until `bytes` fit in the budget (0 bytes: at once), then holds them.
  Lease acquire(std::size_t bytes);
  std::size_t inUse() const;
  std::size_t capacity() const { return capacity_; }

 private:
  void give(std::size_t bytes);

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  std::size_t inUse_ = 0;
};

}  // namespace plexus::core
