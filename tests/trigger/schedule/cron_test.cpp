// Cron expressions against known fire times. The expected times were
// computed independently: a Python script walking UTC minute by minute,
// reading the wall clock with zoneinfo and applying Vixie cron's rules
// (see schedule.hpp) at each instant; DST cases were also checked by hand.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "trigger/schedule/schedule.hpp"

using namespace plexus::core;
using Times = std::vector<std::string>;

namespace {

/// The next `count` fire times after `from`, as ISO-8601 UTC.
Times nextFires(const std::string& cron, const std::string& timezone, const std::string& from, std::size_t count) {
  const Schedule schedule = Schedule::compile(parseSchedule(plexus::Json{{"cron", cron}, {"timezone", timezone}}));
  auto at = parseIso(from);
  REQUIRE(at);
  Times times;
  for (std::size_t i = 0; i < count; ++i) {
    *at = schedule.nextAfter(*at);
    times.push_back(formatIsoSeconds(*at));
  }
  return times;
}

}  // namespace

TEST_CASE("Cron fields select minutes, hours, days and months with lists, ranges, steps and names",
          "[schedule][cron]") {
  auto [cron, from, expected] = GENERATE(table<std::string, std::string, Times>({
      {"*/5 * * * *", "2026-12-01T14:03:00Z", {"2026-12-01T14:05:00Z", "2026-12-01T14:10:00Z", "2026-12-01T14:15:00Z"}},
      // Strictly after: a fire time equal to `from` is not returned.
      {"*/5 * * * *", "2026-12-01T14:05:00Z", {"2026-12-01T14:10:00Z", "2026-12-01T14:15:00Z", "2026-12-01T14:20:00Z"}},
      {"5 14 * * *", "2026-12-01T14:05:30Z", {"2026-12-02T14:05:00Z", "2026-12-03T14:05:00Z", "2026-12-04T14:05:00Z"}},
      {"0 0 * * *", "2026-12-31T23:59:59Z", {"2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z", "2027-01-03T00:00:00Z"}},
      {"0 * * * *", "2026-12-01T00:00:00Z", {"2026-12-01T01:00:00Z", "2026-12-01T02:00:00Z", "2026-12-01T03:00:00Z"}},
      {"0 0 1 * *", "2026-12-01T00:00:00Z", {"2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z", "2027-03-01T00:00:00Z"}},
      {"0 9 * * 1-5", "2026-12-04T10:00:00Z", {"2026-12-07T09:00:00Z", "2026-12-08T09:00:00Z", "2026-12-09T09:00:00Z"}},
      {"0 9,17 * * *", "2026-12-01T12:00:00Z", {"2026-12-01T17:00:00Z", "2026-12-02T09:00:00Z", "2026-12-02T17:00:00Z"}},
      {"1-10/4 0 * * *", "2026-12-01T00:00:00Z", {"2026-12-01T00:01:00Z", "2026-12-01T00:05:00Z", "2026-12-01T00:09:00Z"}},
      // N/STEP means N-max/STEP.
      {"5/15 * * * *", "2026-12-01T00:10:00Z", {"2026-12-01T00:20:00Z", "2026-12-01T00:35:00Z", "2026-12-01T00:50:00Z"}},
      // Names are case-insensitive, in lists and ranges, with steps.
      {"0 12 * JAN,jul mon", "2026-12-01T00:00:00Z", {"2027-01-04T12:00:00Z", "2027-01-11T12:00:00Z", "2027-01-18T12:00:00Z"}},
      {"30 6 1 feb-apr/2 *", "2026-12-01T00:00:00Z", {"2027-02-01T06:30:00Z", "2027-04-01T06:30:00Z", "2028-02-01T06:30:00Z"}},
      {"0 0 29 2 *", "2026-01-01T00:00:00Z", {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"}},
      {"@daily", "2026-12-01T14:00:00Z", {"2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z", "2026-12-04T00:00:00Z"}},
      {"@hourly", "2026-12-01T14:00:00Z", {"2026-12-01T15:00:00Z", "2026-12-01T16:00:00Z", "2026-12-01T17:00:00Z"}},
  }));
  INFO(cron << " after " << from);
  CHECK(nextFires(cron, "UTC", from, expected.size()) == expected);
}

TEST_CASE("Day-of-week 0 and 7 are both Sunday, and SUN is 0", "[schedule][cron]") {
  const Times sundays = {"2026-12-06T08:00:00Z", "2026-12-13T08:00:00Z", "2026-12-20T08:00:00Z"};
  auto cron = GENERATE(as<std::string>{}, "0 8 * * 0", "0 8 * * 7", "0 8 * * sun", "0 8 * * SUN", "0 8 * * 0,7");
  INFO(cron);
  CHECK(nextFires(cron, "UTC", "2026-12-01T00:00:00Z", 3) == sundays);
  // 5-7 is Friday to Sunday.
  CHECK(nextFires("0 8 * * 5-7", "UTC", "2026-12-01T00:00:00Z", 3) ==
        Times{"2026-12-04T08:00:00Z", "2026-12-05T08:00:00Z", "2026-12-06T08:00:00Z"});
}

TEST_CASE("When both day fields are restricted a day matching either fires; a starred one makes both required",
          "[schedule][cron]") {
  auto [cron, from, expected] = GENERATE(table<std::string, std::string, Times>({
      // Every Friday and every 13th (Dec 13 2026 is a Sunday).
      {"0 0 13 * FRI", "2026-12-05T00:00:00Z", {"2026-12-11T00:00:00Z", "2026-12-13T00:00:00Z", "2026-12-18T00:00:00Z"}},
      // "*/2" starts with '*': odd days that are also Mondays.
      {"0 0 */2 * 1", "2026-12-01T00:00:00Z", {"2026-12-07T00:00:00Z", "2026-12-21T00:00:00Z", "2027-01-11T00:00:00Z"}},
      // "*/7" on day-of-week is Sunday (0 and 7), and starred: the 1st when it is a Sunday.
      {"0 0 1 * */7", "2026-01-01T00:00:00Z", {"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-11-01T00:00:00Z"}},
      // February 30th never comes, but Mondays in February do.
      {"0 0 30 2 MON", "2026-12-01T00:00:00Z", {"2027-02-01T00:00:00Z", "2027-02-08T00:00:00Z", "2027-02-15T00:00:00Z"}},
  }));
  INFO(cron << " after " << from);
  CHECK(nextFires(cron, "UTC", from, expected.size()) == expected);
}

TEST_CASE("Cron in a zone with daylight-saving time follows Vixie cron across the changes",
          "[schedule][cron][dst]") {
  auto [cron, timezone, from, expected] = GENERATE(table<std::string, std::string, std::string, Times>({
      // America/Chicago, spring forward 2026-03-08 08:00Z: 02:00-02:59 local does not exist.
      // A fixed-time job due in the gap fires once when the clocks jump (03:00 CDT).
      {"30 2 * * *", "America/Chicago", "2026-03-07T00:00:00Z",
       {"2026-03-07T08:30:00Z", "2026-03-08T08:00:00Z", "2026-03-09T07:30:00Z"}},
      {"0,15,30,45 2 * * *", "America/Chicago", "2026-03-08T00:00:00Z",
       {"2026-03-08T08:00:00Z", "2026-03-09T07:00:00Z", "2026-03-09T07:15:00Z"}},
      // Wildcard jobs just have no fires in the gap.
      {"*/30 * * * *", "America/Chicago", "2026-03-08T07:45:00Z",
       {"2026-03-08T08:00:00Z", "2026-03-08T08:30:00Z", "2026-03-08T09:00:00Z"}},
      {"30 * * * *", "America/Chicago", "2026-03-08T07:00:00Z",
       {"2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z", "2026-03-08T09:30:00Z"}},
      // Fall back 2026-11-01 07:00Z: 01:00-01:59 local happens twice.
      // A fixed-time job fires once, at the first (CDT) occurrence.
      {"30 1 * * *", "America/Chicago", "2026-10-31T12:00:00Z",
       {"2026-11-01T06:30:00Z", "2026-11-02T07:30:00Z", "2026-11-03T07:30:00Z"}},
      {"0 1-3 * * *", "America/Chicago", "2026-11-01T05:00:00Z",
       {"2026-11-01T06:00:00Z", "2026-11-01T08:00:00Z", "2026-11-01T09:00:00Z"}},
      // From inside the repeated hour, its second 01:45 is not a new fire.
      {"45 1 * * *", "America/Chicago", "2026-11-01T07:10:00Z",
       {"2026-11-02T07:45:00Z", "2026-11-03T07:45:00Z", "2026-11-04T07:45:00Z"}},
      // A wildcard job fires in both occurrences, keeping its real-time rhythm.
      {"0,30 * * * *", "America/Chicago", "2026-11-01T05:45:00Z",
       {"2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z"}},
      {"*/5 8-16 * * 1-5", "America/Chicago", "2026-12-01T22:58:00Z",
       {"2026-12-02T14:00:00Z", "2026-12-02T14:05:00Z", "2026-12-02T14:10:00Z"}},
      {"0 0 1 1 *", "America/Chicago", "2026-06-01T00:00:00Z", {"2027-01-01T06:00:00Z", "2028-01-01T06:00:00Z"}},
      // Europe/Berlin, spring forward 2026-03-29 01:00Z (02:00 CET -> 03:00 CEST).
      {"30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
       {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"}},
      // Fall back 2026-10-25 01:00Z (03:00 CEST -> 02:00 CET).
      {"30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
       {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"}},
      {"15 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z",
       {"2026-10-25T00:15:00Z", "2026-10-25T01:15:00Z", "2026-10-25T02:15:00Z"}},
      // Asia/Kolkata: +05:30 all year.
      {"0 9 * * *", "Asia/Kolkata", "2026-12-01T00:00:00Z",
       {"2026-12-01T03:30:00Z", "2026-12-02T03:30:00Z", "2026-12-03T03:30:00Z"}},
      {"*/45 * * * *", "Asia/Kolkata", "2026-12-01T00:00:00Z",
       {"2026-12-01T00:15:00Z", "2026-12-01T00:30:00Z", "2026-12-01T01:15:00Z"}},
  }));
  INFO(cron << " in " << timezone << " after " << from);
  CHECK(nextFires(cron, timezone, from, expected.size()) == expected);
}

TEST_CASE("Invalid cron expressions are refused with a message naming the field and the problem",
          "[schedule][cron][errors]") {
  auto [cron, message] = GENERATE(table<std::string, std::string>({
      {"0 25 * * *", "cron field 2 (hour) '25': value out of range 0-23"},
      {"60 * * * *", "cron field 1 (minute) '60': value out of range 0-59"},
      {"0 0 0 * *", "cron field 3 (day-of-month) '0': value out of range 1-31"},
      {"0 0 * 13 *", "cron field 4 (month) '13': value out of range 1-12"},
      {"0 0 * * 8", "cron field 5 (day-of-week) '8': value out of range 0-7"},
      {"0 0-99999 * * *", "cron field 2 (hour) '99999': value out of range 0-23"},
      {"0 0 * FOO *", "cron field 4 (month) 'FOO': unknown month name; use 1-12 or JAN-DEC"},
      {"0 0 * * MONDAY", "cron field 5 (day-of-week) 'MONDAY': unknown day name; use 0-7 or SUN-SAT"},
      {"x * * * *", "cron field 1 (minute) 'x': expected a number 0-59"},
      {"0 0 * 1x *", "cron field 4 (month) '1x': expected a number 1-12 or a name JAN-DEC"},
      {"*/0 * * * *", "cron field 1 (minute) '*/0': step must be at least 1"},
      {"*/x * * * *", "cron field 1 (minute) '*/x': step 'x' is not a whole number"},
      {"0 5-3 * * *", "cron field 2 (hour) '5-3': range start is after its end"},
      {"1,,2 * * * *", "cron field 1 (minute) '1,,2': empty list item"},
      {"1- * * * *", "cron field 1 (minute) '1-': a range needs a value on both sides of '-'"},
      {"/5 * * * *", "cron field 1 (minute) '/5': missing range before '/'"},
      {"* * * *", "cron expression '* * * *' has 4 fields; expected 5: minute hour day-of-month month day-of-week"},
      {"0 * * * * *",
       "cron expression '0 * * * * *' has 6 fields; expected 5: minute hour day-of-month month day-of-week"},
      {"", "cron expression is empty; expected 5 fields: minute hour day-of-month month day-of-week"},
      {"@reboot", "cron macro '@reboot' is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"},
      // Impossible dates are refused up front instead of searched for forever.
      {"0 0 30 2 *", "cron '0 0 30 2 *' never fires: no date matches its day-of-month, month and day-of-week fields"},
      {"0 0 31 4,6,9,11 *",
       "cron '0 0 31 4,6,9,11 *' never fires: no date matches its day-of-month, month and day-of-week fields"},
  }));
  INFO(cron);
  CHECK_THROWS_MATCHES(parseSchedule(plexus::Json(cron)), ScheduleError, Catch::Message(message));
}
