// IdempotencyGuard against a real SqliteStore, on a simulated clock.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "../store/temp_dir.hpp"
#include "store/sqlite_store.hpp"
#include "trigger/webhook/component_trigger.hpp"
#include "trigger/webhook/idempotency.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

using namespace plexus::core;
using plexus::core::testing::TempDir;

namespace {

/// Records an execution with `key`, as the webhook intake does through Engine::submit.
std::string record(Store& store, IdempotencyKeyRecord key, TimePoint now) {
  NewExecution execution{randomId(16), "it", key.instanceId, "default", "webhook", plexus::Json::object(), now};
  key.executionId = execution.id;
  execution.idempotencyKey = key;
  store.createExecution(execution);
  return execution.id;
}

}  // namespace

TEST_CASE("a key admits once; a repeat replays; another body is a 422; it expires after the TTL", "[idempotency]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  SimulatedClock clock;
  IdempotencyGuard guard(*store, clock, std::chrono::seconds(60));
  int started = 0;
  auto start = [&](IdempotencyKeyRecord key) {
    ++started;
    return record(*store, key, clock.now());
  };
  auto first = guard.admit("i1", "k", "body", start);
  CHECK_FALSE(first.replay);
  auto again = guard.admit("i1", "k", "body", start);
  CHECK(again.replay);
  CHECK(again.executionId == first.executionId);
  CHECK(started == 2);  // the repeat tried its insert, which found the first
  CHECK(store->executions({}).size() == 1);
  try {
    guard.admit("i1", "k", "another body", start);
    FAIL("another body was admitted");
  } catch (const TriggerRefused& refused) {
    CHECK(refused.status() == 422);
    CHECK_THAT(refused.what(), !Catch::Contains(first.executionId));
  }
  // Per instance: the same key elsewhere is its own.
  CHECK_FALSE(guard.admit("i2", "k", "body", start).replay);
  // After the TTL the key starts a new execution.
  clock.advance(std::chrono::seconds(61));
  auto later = guard.admit("i1", "k", "body", start);
  CHECK_FALSE(later.replay);
  CHECK(later.executionId != first.executionId);
  CHECK(store->executions({}).size() == 3);
}

TEST_CASE("the same key sent from many threads at once starts one execution", "[idempotency]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  RealTimeSource clock;
  IdempotencyGuard guard(*store, clock, std::chrono::seconds(60));
  std::vector<std::thread> callers;
  std::atomic<int> replays{0};
  std::vector<std::string> ids(16);
  for (int i = 0; i < 16; ++i)
    callers.emplace_back([&, i] {
      auto admitted = guard.admit("i1", "same", "body", [&](IdempotencyKeyRecord key) {
        return record(*store, key, clock.now());
      });
      replays += admitted.replay;
      ids[i] = admitted.executionId;
    });
  for (auto& caller : callers) caller.join();
  CHECK(replays == 15);
  for (const auto& id : ids) CHECK(id == ids[0]);
  CHECK(store->executions({}).size() == 1);
}

TEST_CASE("a key recorded by another process on the same store is replayed, not run again", "[idempotency]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  SimulatedClock clock;
  // Two guards on one store: as two nodes, whose lock stripes do not cover each other.
  IdempotencyGuard one(*store, clock, std::chrono::seconds(60));
  IdempotencyGuard other(*store, clock, std::chrono::seconds(60));
  auto start = [&](IdempotencyKeyRecord key) { return record(*store, key, clock.now()); };
  auto first = one.admit("i1", "k", "body", start);
  auto second = other.admit("i1", "k", "body", start);
  CHECK(second.replay);
  CHECK(second.executionId == first.executionId);
  CHECK(store->executions({}).size() == 1);
}

TEST_CASE("keys longer than 255 bytes are refused with 400", "[idempotency]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  SimulatedClock clock;
  IdempotencyGuard guard(*store, clock, std::chrono::seconds(60));
  auto start = [&](IdempotencyKeyRecord key) { return record(*store, key, clock.now()); };
  CHECK_FALSE(guard.admit("i1", std::string(255, 'k'), "b", start).replay);
  try {
    guard.admit("i1", std::string(256, 'k'), "b", start);
    FAIL("a 256-byte key was admitted");
  } catch (const TriggerRefused& refused) {
    CHECK(refused.status() == 400);
  }
}

TEST_CASE("expired keys are purged", "[idempotency]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  SimulatedClock clock;
  IdempotencyGuard guard(*store, clock, std::chrono::seconds(60));
  auto start = [&](IdempotencyKeyRecord key) { return record(*store, key, clock.now()); };
  for (int i = 0; i < 5; ++i) guard.admit("i1", "k" + std::to_string(i), "b", start);
  clock.advance(std::chrono::minutes(2));
  CHECK(store->purgeIdempotencyKeys(clock.now(), 3) == 3);
  CHECK(store->purgeIdempotencyKeys(clock.now(), 3) == 2);
  CHECK(store->purgeIdempotencyKeys(clock.now(), 3) == 0);
}
