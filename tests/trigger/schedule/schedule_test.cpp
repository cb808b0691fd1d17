#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "trigger/schedule/schedule.hpp"

using namespace plexus::core;
using plexus::Json;
using Times = std::vector<std::string>;

namespace {

TimePoint at(const std::string& iso) {
  auto parsed = parseIso(iso);
  REQUIRE(parsed);
  return *parsed;
}

Times nextFires(const Json& value, const std::string& from, std::size_t count) {
  const Schedule schedule = Schedule::compile(parseSchedule(value));
  TimePoint t = at(from);
  Times times;
  for (std::size_t i = 0; i < count; ++i) {
    t = schedule.nextAfter(t);
    times.push_back(formatIsoSeconds(t));
  }
  return times;
}

}  // namespace

TEST_CASE("A schedule value is a cron string, {every, unit} or {cron, timezone}", "[schedule][parse]") {
  SECTION("a cron string is read in UTC") {
    const ScheduleSpec spec = parseSchedule(Json("  */5 8-16 * * 1-5 "));
    CHECK(spec.kind == ScheduleSpec::Kind::Cron);
    CHECK(spec.cron == "*/5 8-16 * * 1-5");
    CHECK(spec.timezone == "UTC");
    CHECK(spec.describe() == "cron '*/5 8-16 * * 1-5' in UTC");
  }
  SECTION("{cron, timezone} keeps its zone; an absent or null timezone is UTC") {
    const ScheduleSpec spec = parseSchedule(Json{{"cron", "*/5 8-16 * * 1-5"}, {"timezone", "America/Chicago"}});
    CHECK(spec.timezone == "America/Chicago");
    CHECK(spec.describe() == "cron '*/5 8-16 * * 1-5' in America/Chicago");
    CHECK(spec.toJson() == Json{{"cron", "*/5 8-16 * * 1-5"}, {"timezone", "America/Chicago"}});
    CHECK(parseSchedule(Json{{"cron", "0 9 * * *"}}).timezone == "UTC");
    CHECK(parseSchedule(Json{{"cron", "0 9 * * *"}, {"timezone", nullptr}}).timezone == "UTC");
  }
  SECTION("{every, unit} accepts the five units, singular forms too") {
    const ScheduleSpec spec = parseSchedule(Json{{"every", 5}, {"unit", "minutes"}});
    CHECK(spec.kind == ScheduleSpec::Kind::Interval);
    CHECK(spec.every == 5);
    CHECK(spec.unit == IntervalUnit::Minutes);
    CHECK(spec.describe() == "every 5 minutes");
    CHECK(spec.toJson() == Json{{"every", 5}, {"unit", "minutes"}});
    CHECK(parseSchedule(Json{{"every", 1}, {"unit", "day"}}).describe() == "every day");
    CHECK(parseSchedule(Json{{"every", 2}, {"unit", "Weeks"}}).unit == IntervalUnit::Weeks);
    CHECK(parseSchedule(Json{{"every", 30}, {"unit", "seconds"}}).unit == IntervalUnit::Seconds);
    CHECK(parseSchedule(Json{{"every", 3}, {"unit", "hours"}}).unit == IntervalUnit::Hours);
  }
  SECTION("toJson parses back to the same schedule") {
    for (const Json& value : {Json{{"every", 90}, {"unit", "seconds"}}, Json{{"cron", "0 9 * * MON"}, {"timezone", "Asia/Kolkata"}}}) {
      const ScheduleSpec spec = parseSchedule(value);
      CHECK(parseSchedule(spec.toJson()).toJson() == spec.toJson());
      CHECK(spec.toJson() == value);
    }
  }
}

TEST_CASE("Invalid schedule values are refused with a message saying how to fix them", "[schedule][parse][errors]") {
  auto [value, message] = GENERATE(table<Json, std::string>({
      {Json{{"cron", "0 9 * * *"}, {"timezone", "Mars/Olympus"}},
       "unknown timezone 'Mars/Olympus': use an IANA name such as America/Chicago, Europe/Berlin or UTC"},
      {Json{{"cron", "0 9 * * *"}, {"timezone", "america/chicago"}},
       "unknown timezone 'america/chicago'; did you mean 'America/Chicago'?"},
      {Json{{"cron", "0 9 * * *"}, {"timezone", 5}},
       "schedule 'timezone' must be an IANA zone name such as America/Chicago; got a number"},
      {Json{{"cron", 5}}, "schedule 'cron' must be a string such as \"*/5 * * * *\"; got a number"},
      {Json{{"cron", "0 9 * * *"}, {"every", 5}},
       "schedule key 'every' is not allowed in a cron schedule (allowed: cron, timezone)"},
      {Json{{"every", 0}, {"unit", "minutes"}}, "schedule 'every' must be a whole number of at least 1; got 0"},
      {Json{{"every", -3}, {"unit", "minutes"}}, "schedule 'every' must be a whole number of at least 1; got -3"},
      {Json{{"every", 1.5}, {"unit", "minutes"}}, "schedule 'every' must be a whole number of at least 1; got 1.5"},
      {Json{{"every", "5"}, {"unit", "minutes"}}, "schedule 'every' must be a whole number of at least 1; got \"5\""},
      {Json{{"every", 5}, {"unit", "fortnights"}},
       "schedule unit 'fortnights' is not one of seconds, minutes, hours, days or weeks"},
      {Json{{"every", 5}, {"unit", 7}},
       "schedule 'unit' must be one of seconds, minutes, hours, days or weeks; got a number"},
      {Json{{"every", 5}}, "schedule needs a 'unit' with 'every': seconds, minutes, hours, days or weeks"},
      {Json{{"unit", "minutes"}}, "schedule needs 'every', a whole number of at least 1, with its 'unit'"},
      {Json{{"every", 5}, {"unit", "minutes"}, {"timezone", "UTC"}},
       "schedule key 'timezone' applies to cron schedules only; for a time of day in a zone use {cron, timezone}, "
       "e.g. {cron: \"0 9 * * *\", timezone: America/Chicago}"},
      {Json{{"every", 5}, {"unit", "minutes"}, {"at", "09:00"}},
       "schedule key 'at' is not allowed in an interval schedule (allowed: every, unit)"},
      {Json{{"every", 5300}, {"unit", "weeks"}},
       "schedule every 5300 weeks is longer than 100 years; use a cron schedule for rare events"},
      {Json{{"configVar", "syncSchedule"}},
       "{configVar: KEY} is only allowed as an integration's trigger; a schedule is a cron string, {every, unit} or "
       "{cron, timezone}"},
      {Json{{"when", "often"}},
       "a schedule is a cron string, {every, unit} or {cron, timezone}; got an object without 'cron' or 'every'"},
      {Json(5), "a schedule is a cron string, {every, unit} or {cron, timezone}; got a number"},
      {Json(nullptr), "a schedule is a cron string, {every, unit} or {cron, timezone}; got a null"},
  }));
  INFO(value.dump());
  CHECK_THROWS_MATCHES(parseSchedule(value), ScheduleError, Catch::Message(message));
}

TEST_CASE("Compiling a hand-made spec validates it like parseSchedule", "[schedule][parse][errors]") {
  ScheduleSpec interval;
  interval.every = 0;
  CHECK_THROWS_MATCHES(Schedule::compile(interval), ScheduleError,
                       Catch::Message("schedule 'every' must be a whole number of at least 1; got 0"));
  ScheduleSpec cron;
  cron.kind = ScheduleSpec::Kind::Cron;
  cron.cron = "0 24 * * *";
  CHECK_THROWS_MATCHES(Schedule::compile(cron), ScheduleError,
                       Catch::Message("cron field 2 (hour) '24': value out of range 0-23"));
}

TEST_CASE("Intervals fire at multiples of the interval from a fixed anchor, whatever time they start from",
          "[schedule][interval]") {
  auto [every, unit, from, expected] = GENERATE(table<int, std::string, std::string, Times>({
      // Seconds, minutes, hours and days: multiples since the Unix epoch.
      {30, "seconds", "2026-12-01T14:03:27Z", {"2026-12-01T14:03:30Z", "2026-12-01T14:04:00Z", "2026-12-01T14:04:30Z"}},
      {5, "minutes", "2026-12-01T14:03:27Z", {"2026-12-01T14:05:00Z", "2026-12-01T14:10:00Z", "2026-12-01T14:15:00Z"}},
      {7, "minutes", "2026-12-01T00:00:00Z", {"2026-12-01T00:03:00Z", "2026-12-01T00:10:00Z", "2026-12-01T00:17:00Z"}},
      {90, "minutes", "2026-12-01T14:00:00Z", {"2026-12-01T15:00:00Z", "2026-12-01T16:30:00Z", "2026-12-01T18:00:00Z"}},
      {1, "hours", "2026-12-01T14:59:59.999Z", {"2026-12-01T15:00:00Z", "2026-12-01T16:00:00Z", "2026-12-01T17:00:00Z"}},
      // Strictly after: a start exactly on a fire time skips it.
      {1, "hours", "2026-12-01T15:00:00Z", {"2026-12-01T16:00:00Z", "2026-12-01T17:00:00Z", "2026-12-01T18:00:00Z"}},
      {1, "days", "2026-12-01T14:00:00Z", {"2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z", "2026-12-04T00:00:00Z"}},
      {3, "days", "2026-12-01T14:00:00Z", {"2026-12-03T00:00:00Z", "2026-12-06T00:00:00Z", "2026-12-09T00:00:00Z"}},
      // Weeks: multiples since Monday 1969-12-29T00:00Z.
      {1, "weeks", "2026-12-01T14:00:00Z", {"2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z", "2026-12-21T00:00:00Z"}},
      {2, "weeks", "2026-12-01T14:00:00Z", {"2026-12-14T00:00:00Z", "2026-12-28T00:00:00Z", "2027-01-11T00:00:00Z"}},
      // Before the epoch too.
      {1, "hours", "1969-12-31T22:30:00Z", {"1969-12-31T23:00:00Z", "1970-01-01T00:00:00Z", "1970-01-01T01:00:00Z"}},
  }));
  INFO("every " << every << " " << unit << " after " << from);
  CHECK(nextFires(Json{{"every", every}, {"unit", unit}}, from, expected.size()) == expected);
}

TEST_CASE("Interval fire times do not drift with the time a server starts", "[schedule][interval]") {
  const Schedule schedule = Schedule::compile(parseSchedule(Json{{"every", 7}, {"unit", "minutes"}}));
  const TimePoint first = schedule.nextAfter(at("2026-12-01T10:00:00Z"));
  // Any later start lands on the same grid.
  for (const char* restart : {"2026-12-01T10:00:01.500Z", "2026-12-01T11:13:59Z", "2026-12-09T03:00:00Z"}) {
    const TimePoint next = schedule.nextAfter(at(restart));
    CHECK((next - first) % std::chrono::minutes(7) == std::chrono::milliseconds(0));
    CHECK(next > at(restart));
    CHECK(next - at(restart) <= std::chrono::minutes(7));
  }
}

TEST_CASE("Rare cron schedules are found quickly by skipping fields, not minutes", "[schedule][cron][performance]") {
  // Feb 29 on a Sunday: 2032, then 2060 — decades apart.
  const Schedule schedule = Schedule::compile(parseSchedule(Json{{"cron", "0 12 29 2 */7"}, {"timezone", "Europe/Berlin"}}));
  const auto started = std::chrono::steady_clock::now();
  TimePoint t = at("2026-01-01T00:00:00Z");
  Times times;
  for (int i = 0; i < 2; ++i) {
    t = schedule.nextAfter(t);
    times.push_back(formatIsoSeconds(t));
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(times == Times{"2032-02-29T11:00:00Z", "2060-02-29T11:00:00Z"});
  CHECK(elapsed < std::chrono::milliseconds(200));
}

TEST_CASE("A compiled schedule's spec is the one it was compiled from", "[schedule]") {
  const ScheduleSpec spec = parseSchedule(Json{{"cron", "0 9 * * 1-5"}, {"timezone", "Europe/Berlin"}});
  const Schedule schedule = Schedule::compile(spec);
  CHECK(schedule.spec().toJson() == spec.toJson());
  const Schedule copy = schedule;  // Copies share the parsed cron.
  CHECK(copy.nextAfter(at("2026-12-04T09:00:00Z")) == schedule.nextAfter(at("2026-12-04T09:00:00Z")));
  CHECK(formatIsoSeconds(copy.nextAfter(at("2026-12-04T09:00:00Z"))) == "2026-12-07T08:00:00Z");
}
