#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <set>
#include <thread>

#include "store/sqlite_store.hpp"
#include "temp_dir.hpp"

using namespace plexus::core;
using plexus::core::testing::TempDir;

namespace {

NewExecution smallExecution(const std::string& id, int thread) {
  NewExecution execution;
  execution.id = id;
  execution.integrationKey = "render-status";
  execution.instanceId = "instance-" + std::to_string(thread);
  execution.instanceName = "acme";
  execution.trigger = "webhook";
  execution.triggerResults = {{"method", "POST"},
                              {"headers", {{"content-type", "application/json"}}},
                              {"body", {{"data", {{"renderId", id}}}, {"contentType", "application/json"}}}};
  execution.queuedAt = nowMs();
  return execution;
}

/// Runs `body(threadIndex)` on `count` threads and waits for them all.
template <typename Body>
void onThreads(int count, Body body) {
  std::vector<std::thread> threads;
  for (int t = 0; t < count; ++t) threads.emplace_back(body, t);
  for (auto& thread : threads) thread.join();
}

}  // namespace

TEST_CASE("concurrent createExecution calls are all stored, and each is readable once it returns",
          "[store][concurrency]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  std::atomic<int> notVisible{0};
  onThreads(8, [&](int t) {
    for (int i = 0; i < 250; ++i) {
      std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      store->createExecution(smallExecution(id, t));
      if (!store->execution(id)) ++notVisible;  // returned, so committed and visible
    }
  });
  CHECK(notVisible == 0);
  ExecutionQuery all;
  all.limit = 10'000;
  CHECK(store->executions(all).size() == 2000);
  CHECK(store->unfinishedExecutions().size() == 2000);
  // Group commit batched something (8 writers, one committing thread).
  CHECK(store->committedWrites() == 2000);
  CHECK(store->commitBatches() <= 2000);
  store.reset();

  auto reopened = SqliteStore::open(temp.str());
  CHECK(reopened->executions(all).size() == 2000);
}

TEST_CASE("a failing write in a batch fails alone; the others in the batch commit", "[store][concurrency]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  std::atomic<int> duplicatesAccepted{0};
  std::atomic<int> uniquesRefused{0};
  onThreads(8, [&](int t) {
    for (int i = 0; i < 100; ++i) {
      try {
        store->createExecution(smallExecution("shared-" + std::to_string(i), t));  // all threads race on this id
        ++duplicatesAccepted;
      } catch (const StoreError&) {
      }
      try {
        store->createExecution(smallExecution("own-" + std::to_string(t) + "-" + std::to_string(i), t));
      } catch (const StoreError&) {
        ++uniquesRefused;
      }
    }
  });
  CHECK(duplicatesAccepted == 100);
  CHECK(uniquesRefused == 0);
  ExecutionQuery all;
  all.limit = 10'000;
  CHECK(store->executions(all).size() == 900);
}

TEST_CASE("recordFire is true exactly once per due time under concurrency", "[store][concurrency][fires]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  constexpr int kDueTimes = 200;
  std::vector<std::atomic<int>> firsts(kDueTimes);
  onThreads(8, [&](int) {
    for (int i = 0; i < kDueTimes; ++i) {
      if (store->recordFire("i1", TimePoint(std::chrono::minutes(i)))) ++firsts[i];
    }
  });
  int wrong = 0;
  for (auto& count : firsts) wrong += count != 1;
  CHECK(wrong == 0);
  CHECK(store->lastFire("i1") == TimePoint(std::chrono::minutes(kDueTimes - 1)));
}

TEST_CASE("createExecution throughput from 64 threads (printed, not asserted)", "[store][throughput]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  constexpr int kThreads = 64;
  constexpr int kPerThread = 500;
  auto started = std::chrono::steady_clock::now();
  onThreads(kThreads, [&](int t) {
    for (int i = 0; i < kPerThread; ++i) {
      store->createExecution(smallExecution("p" + std::to_string(t) + "-" + std::to_string(i), t));
    }
  });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  double perSecond = kThreads * kPerThread / seconds;
  double perBatch = static_cast<double>(store->committedWrites()) / static_cast<double>(store->commitBatches());
  std::cout << "store throughput: " << kThreads * kPerThread << " createExecution calls from " << kThreads
            << " threads in " << seconds << " s = " << static_cast<long>(perSecond) << " calls/s ("
            << perBatch << " writes per commit, " << std::thread::hardware_concurrency() << " cores)\n";
  CHECK(store->committedWrites() == kThreads * kPerThread);
}
