// The Scheduler with a real thread and an in-memory ledger: on the real
// clock (real one-second schedules) where the timing itself is the point,
// on a SimulatedClock where a test would otherwise wait for time to pass.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "in_memory_fire_ledger.hpp"
#include "trigger/schedule/scheduler.hpp"
#include "util/clock.hpp"

using namespace plexus::core;
using namespace std::chrono_literals;
using plexus::Json;
using plexus::core::testing::InMemoryFireLedger;

namespace {

Schedule every(int count, const std::string& unit) {
  return Schedule::compile(parseSchedule(Json{{"every", count}, {"unit", unit}}));
}

/// What the scheduler fired, in order, with when it was fired.
class FireLog {
 public:
  struct Fire {
    std::string instanceId;
    TimePoint due;
    TimePoint firedAt;
  };

  Scheduler::FireCallback callback() {
    return [this](const std::string& instanceId, TimePoint due) { add(instanceId, due); };
  }

  void add(const std::string& instanceId, TimePoint due) {
    std::lock_guard<std::mutex> lock(mutex_);
    fires_.push_back({instanceId, due, nowMs()});
    changed_.notify_all();
  }

  /// Waits until `count` fires (of `instanceId`, or of any when empty).
  bool waitFor(std::size_t count, std::chrono::milliseconds timeout, const std::string& instanceId = "") {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return countLocked(instanceId) >= count; });
  }

  std::size_t count(const std::string& instanceId = "") const {
    std::lock_guard<std::mutex> lock(mutex_);
    return countLocked(instanceId);
  }

  std::vector<Fire> fires() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return fires_;
  }

  std::vector<TimePoint> dues(const std::string& instanceId = "") const {
    std::vector<TimePoint> result;
    for (const Fire& fire : fires())
      if (instanceId.empty() || fire.instanceId == instanceId) result.push_back(fire.due);
    return result;
  }

 private:
  std::size_t countLocked(const std::string& instanceId) const {
    return static_cast<std::size_t>(std::count_if(fires_.begin(), fires_.end(), [&](const Fire& fire) {
      return instanceId.empty() || fire.instanceId == instanceId;
    }));
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Fire> fires_;
};

/// True when each due time is `step` after the one before.
bool evenlySpaced(const std::vector<TimePoint>& dues, std::chrono::milliseconds step) {
  for (std::size_t i = 1; i < dues.size(); ++i)
    if (dues[i] - dues[i - 1] != step) return false;
  return true;
}


}  // namespace

TEST_CASE("A one-second interval fires each second, soon after each due time", "[scheduler]") {
  InMemoryFireLedger ledger;
  FireLog log;
  Scheduler scheduler(ledger, log.callback());
  scheduler.upsert("a", every(1, "seconds"));
  scheduler.start();
  REQUIRE(log.waitFor(3, 5s));
  scheduler.stop();

  const auto fires = log.fires();
  std::vector<TimePoint> dues;
  for (const auto& fire : fires) {
    dues.push_back(fire.due);
    CHECK(fire.instanceId == "a");
    CHECK(fire.due.time_since_epoch() % 1s == 0ms);
    CHECK(fire.firedAt >= fire.due);
    CHECK(fire.firedAt - fire.due < 900ms);
  }
  CHECK(evenlySpaced(dues, 1s));
  CHECK(ledger.size() == fires.size());
  CHECK(ledger.lastFire("a") == dues.back());
}

TEST_CASE("A due time already in the ledger is not fired again", "[scheduler][exactly-once]") {
  InMemoryFireLedger ledger;
  FireLog log;
  const TimePoint alreadyFired = every(1, "seconds").nextAfter(nowMs());
  REQUIRE(ledger.recordFire("a", alreadyFired));  // As if another process fired it.

  Scheduler scheduler(ledger, log.callback());
  scheduler.upsert("a", every(1, "seconds"));
  scheduler.start();
  REQUIRE(log.waitFor(2, 5s));
  scheduler.stop();

  const auto dues = log.dues();
  CHECK(std::find(dues.begin(), dues.end(), alreadyFired) == dues.end());
  CHECK(dues.front() == alreadyFired + 1s);
  CHECK(evenlySpaced(dues, 1s));
}

TEST_CASE("Two schedulers sharing a ledger fire each due time once between them", "[scheduler][exactly-once]") {
  InMemoryFireLedger ledger;
  FireLog log;  // Both report into one log.
  Scheduler first(ledger, log.callback());
  Scheduler second(ledger, log.callback());
  first.upsert("a", every(1, "seconds"));
  second.upsert("a", every(1, "seconds"));
  first.start();
  second.start();
  REQUIRE(log.waitFor(3, 5s));
  first.stop();
  second.stop();

  auto dues = log.dues();
  std::sort(dues.begin(), dues.end());
  CHECK(std::adjacent_find(dues.begin(), dues.end()) == dues.end());  // No due time twice.
  CHECK(evenlySpaced(dues, 1s));                                      // None skipped.
}

TEST_CASE("A restarted scheduler on the same ledger neither repeats nor skips fires", "[scheduler][exactly-once]") {
  SimulatedClock clock;  // starts on a whole hour
  InMemoryFireLedger ledger;
  FireLog log;
  {
    Scheduler before(ledger, log.callback(), nullptr, clock);
    before.upsert("a", every(1, "seconds"), MissedRunPolicy::All);
    before.start();
    clock.advance(1s);
    REQUIRE(log.waitFor(1, 5s));
    clock.advance(1s);
    REQUIRE(log.waitFor(2, 5s));
  }  // Destroyed: stopped, as on shutdown.
  clock.advance(3s);  // Down for three due times.

  Scheduler after(ledger, log.callback(), nullptr, clock);
  after.upsert("a", every(1, "seconds"), MissedRunPolicy::All);
  after.start();
  REQUIRE(log.waitFor(5, 5s));  // the three missed, caught up at once
  clock.advance(1s);
  REQUIRE(log.waitFor(6, 5s));
  after.stop();

  const auto dues = log.dues();
  CHECK(dues.size() == 6);
  CHECK(std::adjacent_find(dues.begin(), dues.end()) == dues.end());
  CHECK(evenlySpaced(dues, 1s));
  CHECK(dues.back() == clock.now());
}

TEST_CASE("Missed runs since the last recorded fire follow the instance's policy", "[scheduler][missed-runs]") {
  SimulatedClock clock;
  clock.advance(30min);  // half past: the latest hour boundary is 30 minutes ago
  const Schedule hourly = every(1, "hours");
  const TimePoint latestDue = hourly.nextAfter(clock.now()) - 1h;
  InMemoryFireLedger ledger;
  REQUIRE(ledger.recordFire("a", latestDue - 5h));  // Down for the 4 fires after it, and the latest.

  // Hours relative to latestDue: the expected next run and fires.
  auto [policy, nextOffset, fireOffsets] = GENERATE(table<MissedRunPolicy, int, std::vector<int>>({
      {MissedRunPolicy::None, 1, {}},
      {MissedRunPolicy::Last, 0, {0}},
      {MissedRunPolicy::All, -4, {-4, -3, -2, -1, 0}},
  }));
  std::vector<TimePoint> expectedFires;
  for (int offset : fireOffsets) expectedFires.push_back(latestDue + std::chrono::hours(offset));
  const TimePoint expectedNext = latestDue + std::chrono::hours(nextOffset);
  FireLog log;
  Scheduler scheduler(ledger, log.callback(), nullptr, clock);
  scheduler.upsert("a", hourly, policy);
  CHECK(scheduler.nextRunAt("a") == expectedNext);

  scheduler.start();
  log.waitFor(expectedFires.size(), 3s);
  std::this_thread::sleep_for(200ms);  // Time for any extra, wrong fire (the clock stands still).
  scheduler.stop();
  CHECK(log.dues() == expectedFires);
  CHECK(scheduler.nextRunAt("a") == latestDue + 1h);
}

TEST_CASE("Catching up all missed runs stops at the newest thousand", "[scheduler][missed-runs]") {
  InMemoryFireLedger ledger;
  const TimePoint longAgo = every(1, "seconds").nextAfter(nowMs()) - 2h;
  REQUIRE(ledger.recordFire("a", longAgo));  // 7,200 one-second fires missed.

  FireLog log;
  Scheduler scheduler(ledger, log.callback());
  const TimePoint upsertedFrom = nowMs();
  scheduler.upsert("a", every(1, "seconds"), MissedRunPolicy::All);
  const TimePoint upsertedBy = nowMs();
  scheduler.start();
  REQUIRE(log.waitFor(Scheduler::kMaxMissedRuns, 5s));
  scheduler.stop();

  const auto dues = log.dues();
  CHECK(evenlySpaced(dues, 1s));
  // The 1000th is the newest due time that had passed at upsert.
  const TimePoint newestMissed = dues[Scheduler::kMaxMissedRuns - 1];
  CHECK(newestMissed <= upsertedBy);
  CHECK(newestMissed > upsertedFrom - 1s);
  CHECK(dues.front() == newestMissed - 999s);
}

TEST_CASE("The newest fire times in a window are found without visiting each missed one", "[scheduler][missed-runs]") {
  const Schedule minutely = Schedule::compile(parseSchedule(Json("* * * * *")));
  const TimePoint upTo = *parseIso("2026-12-01T14:05:30Z");
  const auto newest = newestFireTimes(minutely, *parseIso("2016-12-01T00:00:00Z"), upTo, 3);
  REQUIRE(newest.size() == 3);
  CHECK(formatIsoSeconds(newest[0]) == "2026-12-01T14:03:00Z");
  CHECK(formatIsoSeconds(newest[2]) == "2026-12-01T14:05:00Z");
  CHECK(newestFireTimes(minutely, upTo - 150s, upTo, 10).size() == 2);  // Fewer than asked for.
  CHECK(newestFireTimes(minutely, upTo, upTo - 1h, 10).empty());        // An empty window.
  // January only: the newest are last January's, eleven months back.
  const Schedule january = Schedule::compile(parseSchedule(Json("0 12 * JAN *")));
  const auto lastJanuary = newestFireTimes(january, *parseIso("2020-01-01T00:00:00Z"), upTo, 1);
  REQUIRE(lastJanuary.size() == 1);
  CHECK(formatIsoSeconds(lastJanuary[0]) == "2026-01-31T12:00:00Z");
}

TEST_CASE("Each instance fires on its own schedule", "[scheduler]") {
  InMemoryFireLedger ledger;
  FireLog log;
  Scheduler scheduler(ledger, log.callback());
  scheduler.upsert("fast", every(1, "seconds"));
  scheduler.upsert("slow", every(2, "seconds"));
  scheduler.start();
  REQUIRE(log.waitFor(2, 6s, "slow"));
  scheduler.stop();

  const auto fast = log.dues("fast");
  const auto slow = log.dues("slow");
  CHECK(fast.size() >= 3);
  CHECK(evenlySpaced(fast, 1s));
  CHECK(evenlySpaced(slow, 2s));
  for (TimePoint due : slow) CHECK(due.time_since_epoch() % 2s == 0ms);
  CHECK(ledger.lastFire("slow") == slow.back());
}

TEST_CASE("A removed instance stops firing and has no next run", "[scheduler]") {
  InMemoryFireLedger ledger;
  FireLog log;
  SimulatedClock clock;
  Scheduler* self = nullptr;
  Scheduler scheduler(
      ledger,
      [&](const std::string& instanceId, TimePoint due) {
        log.add(instanceId, due);
        if (instanceId == "once") self->remove("once");  // Callbacks may call remove.
      },
      nullptr, clock);
  self = &scheduler;
  scheduler.upsert("once", every(1, "seconds"));
  scheduler.upsert("never", every(1, "seconds"));
  scheduler.remove("never");
  scheduler.remove("unknown");  // Ignored.
  CHECK_FALSE(scheduler.nextRunAt("never"));
  CHECK(scheduler.size() == 1);

  scheduler.start();
  clock.advance(1s);
  REQUIRE(log.waitFor(1, 5s));
  // The callback logs, then removes: let the remove land before time moves on.
  for (int i = 0; i < 500 && scheduler.size() > 0; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(scheduler.size() == 0);
  clock.advance(2s);
  std::this_thread::sleep_for(200ms);  // time for a wrong fire
  scheduler.stop();
  CHECK(log.count("once") == 1);
  CHECK(log.count("never") == 0);
  CHECK_FALSE(scheduler.nextRunAt("once"));
  CHECK(scheduler.size() == 0);
}

TEST_CASE("Upserting an instance again replaces its schedule", "[scheduler]") {
  SimulatedClock clock;
  InMemoryFireLedger ledger;
  FireLog log;
  Scheduler scheduler(ledger, log.callback(), nullptr, clock);
  scheduler.upsert("a", every(1, "seconds"));
  scheduler.start();
  clock.advance(1s);
  REQUIRE(log.waitFor(1, 5s));
  scheduler.upsert("a", every(1, "hours"));
  clock.advance(10s);  // ten one-second due times, had it not been replaced
  std::this_thread::sleep_for(200ms);
  scheduler.stop();
  CHECK(log.count() == 1);
  CHECK(scheduler.nextRunAt("a") == every(1, "hours").nextAfter(clock.now()));
  clock.advance(1h);
  CHECK(scheduler.nextRunAt("a") <= clock.now());  // stopped: it waits for start() to fire
}

TEST_CASE("Ten thousand instances are cheap to schedule, replace and remove", "[scheduler][performance]") {
  InMemoryFireLedger ledger;
  FireLog log;
  Scheduler scheduler(ledger, log.callback());
  const Schedule daily = Schedule::compile(parseSchedule(Json{{"cron", "0 9 * * *"}, {"timezone", "Europe/Berlin"}}));
  const auto started = std::chrono::steady_clock::now();
  for (int round = 0; round < 2; ++round)  // The second round replaces each one.
    for (int i = 0; i < 10000; ++i) scheduler.upsert("instance-" + std::to_string(i), daily);
  const auto upserted = std::chrono::steady_clock::now() - started;
  CHECK(upserted < 3s);
  CHECK(scheduler.size() == 10000);
  const TimePoint expected = daily.nextAfter(nowMs());
  CHECK(scheduler.nextRunAt("instance-0") == expected);
  CHECK(scheduler.nextRunAt("instance-9999") == expected);

  // Among them, a one-second schedule still fires on time.
  scheduler.upsert("fast", every(1, "seconds"));
  scheduler.start();
  REQUIRE(log.waitFor(1, 5s));
  for (int i = 0; i < 10000; ++i) scheduler.remove("instance-" + std::to_string(i));
  scheduler.stop();
  CHECK(scheduler.size() == 1);
  CHECK(log.count("fast") == log.count());
}

TEST_CASE("A fire the ledger could not record is retried and fired once it is recorded", "[scheduler][errors]") {
  InMemoryFireLedger ledger;
  FireLog log;
  std::mutex errorsMutex;
  std::vector<std::string> errors;
  Scheduler scheduler(ledger, log.callback(), [&](const std::string& message) {
    std::lock_guard<std::mutex> lock(errorsMutex);
    errors.push_back(message);
  });
  ledger.failNext(1);
  scheduler.upsert("a", every(1, "seconds"));
  const TimePoint firstDue = *scheduler.nextRunAt("a");
  scheduler.start();
  REQUIRE(log.waitFor(2, 6s));
  scheduler.stop();

  const auto dues = log.dues();
  CHECK(dues.front() == firstDue);  // Not lost: fired late, after the retry.
  CHECK(std::adjacent_find(dues.begin(), dues.end()) == dues.end());
  std::lock_guard<std::mutex> lock(errorsMutex);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "instance 'a': could not record its fire due at " + formatIsoMs(firstDue) +
                         " (retrying): database is locked");
}

TEST_CASE("A callback that throws is reported and the schedule goes on", "[scheduler][errors]") {
  InMemoryFireLedger ledger;
  FireLog log;
  std::vector<std::string> errors;  // Only touched on the scheduler thread until stop().
  bool thrown = false;
  Scheduler scheduler(
      ledger,
      [&](const std::string& instanceId, TimePoint due) {
        if (!thrown) {
          thrown = true;
          throw std::runtime_error("queue full");
        }
        log.add(instanceId, due);
      },
      [&](const std::string& message) { errors.push_back(message); });
  scheduler.upsert("a", every(1, "seconds"));
  scheduler.start();
  REQUIRE(log.waitFor(1, 5s));
  scheduler.stop();
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith("instance 'a': the fire callback for ") &&
                            Catch::EndsWith(" threw: queue full"));
  CHECK(ledger.size() == 2);  // The failed one was recorded: it is not repeated.
}

TEST_CASE("Nothing fires before start or after stop", "[scheduler]") {
  SimulatedClock clock;
  InMemoryFireLedger ledger;
  FireLog log;
  Scheduler scheduler(ledger, log.callback(), nullptr, clock);
  scheduler.upsert("a", every(1, "seconds"));
  clock.advance(1200ms);
  std::this_thread::sleep_for(100ms);
  CHECK(log.count() == 0);
  scheduler.start();
  REQUIRE(log.waitFor(1, 5s));  // its due time passed before start: it fires at start
  scheduler.stop();
  const std::size_t fired = log.count();
  clock.advance(1200ms);
  std::this_thread::sleep_for(100ms);
  CHECK(log.count() == fired);
  // And it resumes.
  scheduler.start();
  clock.advance(1s);
  REQUIRE(log.waitFor(fired + 1, 5s));
}

TEST_CASE("A batch handler gets the fires due together in one call, and a failed batch is retried whole",
          "[scheduler][batch]") {
  InMemoryFireLedger ledger;  // asked for lastFire only
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::vector<DueTime>> calls;
  int failuresLeft = 1;
  std::vector<std::string> errors;
  Scheduler scheduler(
      ledger,
      FireBatchHandler([&](const std::vector<DueTime>& fires) {
        std::lock_guard<std::mutex> lock(mutex);
        calls.push_back(fires);
        changed.notify_all();
        if (failuresLeft-- > 0) throw std::runtime_error("disk I/O error");
        return std::vector<FireOutcome>(fires.size(), FireOutcome::Fired);
      }),
      [&](const std::string& message) { errors.push_back(message); });
  // 200 instances due at the same second boundary, spread over the firing threads.
  for (int i = 0; i < 200; ++i) scheduler.upsert("i" + std::to_string(i), every(1, "seconds"));
  scheduler.start();
  // The first call fails; each of its fires must come again, with the same due time.
  auto retried = [&] {
    if (calls.empty()) return false;
    for (const DueTime& failed : calls[0]) {
      bool again = false;
      for (std::size_t c = 1; c < calls.size() && !again; ++c)
        for (const DueTime& fire : calls[c])
          if (fire.instanceId == failed.instanceId && fire.due == failed.due) again = true;
      if (!again) return false;
    }
    return true;
  };
  std::unique_lock<std::mutex> lock(mutex);
  REQUIRE(changed.wait_for(lock, 10s, retried));
  std::size_t fires = 0;
  for (const auto& call : calls) fires += call.size();
  lock.unlock();
  scheduler.stop();
  CHECK(calls.size() < fires);  // batched: fewer calls than fires
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("could not be recorded (retrying): disk I/O error"));
}

TEST_CASE("With fire-ahead each fire is handed over that long before its due time, and only once",
          "[scheduler][ahead]") {
  SimulatedClock clock;  // starts on a whole hour
  const TimePoint start = clock.now();
  InMemoryFireLedger ledger;
  FireLog log;
  Scheduler scheduler(ledger, log.callback(), nullptr, clock);
  scheduler.setFireAhead(1s);
  scheduler.upsert("a", every(1, "minutes"));
  scheduler.start();
  clock.advance(58s);
  std::this_thread::sleep_for(50ms);
  CHECK(log.count() == 0);  // more than a second before its due time
  clock.advance(1s);
  REQUIRE(log.waitFor(1, 5s));
  CHECK(log.dues() == std::vector<TimePoint>{start + 60s});  // handed over with its own due time
  CHECK(scheduler.nextRunAt("a") == start + 120s);

  // Upserted again (a redeploy) between the fire and its due time: that
  // fire is in the ledger already, so it does not come again.
  scheduler.upsert("a", every(1, "minutes"));
  CHECK(scheduler.nextRunAt("a") == start + 120s);
  clock.advance(1s);
  std::this_thread::sleep_for(50ms);
  CHECK(log.count() == 1);
  scheduler.stop();
}
