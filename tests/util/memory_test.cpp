// core/util/memory: the returner's rule, and that a trim gives a freed
// burst back to the kernel.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "util/memory.hpp"

using plexus::core::MemoryState;
using plexus::core::shouldTrim;

namespace {
constexpr std::size_t MiB = 1024 * 1024;
}

TEST_CASE("the returner trims once memory lies free after growing, and not again for nothing", "[memory]") {
  MemoryState start{20 * MiB, 1 * MiB};
  CHECK_FALSE(shouldTrim({25 * MiB, 2 * MiB}, start, 32 * MiB));          // little free: nothing to give back
  CHECK(shouldTrim({900 * MiB, 850 * MiB}, start, 32 * MiB));             // a burst ended
  MemoryState afterTrim{900 * MiB, 850 * MiB};                            // ... and it was all in use after all
  CHECK_FALSE(shouldTrim({905 * MiB, 860 * MiB}, afterTrim, 32 * MiB));   // not repeated every second
  CHECK(shouldTrim({1500 * MiB, 860 * MiB}, afterTrim, 32 * MiB));        // grew again
  CHECK(shouldTrim({905 * MiB, 900 * MiB}, afterTrim, 32 * MiB));         // more was freed
}

TEST_CASE("returnFreedMemory gives a freed heap burst back to the kernel", "[memory]") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizers replace glibc malloc: mallinfo2 and malloc_trim see
  // nothing of their heap. The normal build checks this.
  WARN("skipped under a sanitizer (its allocator is not glibc malloc)");
  return;
#endif
  plexus::core::configureAllocator(false);
  MemoryState before = plexus::core::memoryState();
  REQUIRE(before.resident > 0);
  std::unique_ptr<char[]> pin;  // allocated after the burst: the heap's top cannot shrink past it
  {
    // Many small blocks, as a parsed JSON value has: below the mmap
    // threshold, so they live in the heap and stay there when freed.
    std::vector<std::unique_ptr<char[]>> blocks;
    for (int i = 0; i < 400000; ++i) {
      blocks.emplace_back(new char[200]);
      blocks.back()[0] = static_cast<char>(i);
    }
    pin.reset(new char[200]);
    CHECK(plexus::core::memoryState().resident > before.resident + 60 * MiB);
  }
  CHECK(plexus::core::memoryState().heapFree > 60 * MiB);
  MemoryState after = plexus::core::returnFreedMemory();
  CHECK(after.resident < before.resident + 20 * MiB);
}

TEST_CASE("a memory budget holds leases back until they fit, and lets an oversized one run alone", "[memory]") {
  plexus::core::MemoryBudget budget(100);
  auto first = budget.acquire(60);
  CHECK(budget.inUse() == 60);
  std::atomic<bool> granted{false};
  std::thread waiter([&] {
    auto second = budget.acquire(50);  // does not fit beside the first
    granted = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(granted.load());
  { auto moved = std::move(first); }  // released
  waiter.join();
  CHECK(granted.load());
  CHECK(budget.inUse() == 0);
  auto huge = budget.acquire(1000);  // larger than the budget: granted when nothing else is held
  CHECK(huge.bytes() == 1000);
  CHECK(budget.acquire(0).bytes() == 0);
}
