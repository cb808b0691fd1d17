// Schedules: what a schedule value in YAML or a config variable means, and
// when it fires next.
//
// A schedule value is one of (CONTRACT §3, §5):
//   "*/5 8-16 * * 1-5"                        a cron string, in UTC
//   {every: 5, unit: minutes}                 seconds|minutes|hours|days|weeks
//   {cron: "0 9 * * MON", timezone: Europe/Berlin}   timezone optional (UTC)
//
// Cron follows Vixie cron: five fields (minute hour day-of-month month
// day-of-week); `*`, lists, ranges, steps (`*/5`, `1-10/2`, and `5/15`
// meaning `5-59/15`); JAN-DEC and SUN-SAT, case-insensitive; day-of-week
// 0-7 with 0 and 7 both Sunday; the @yearly/@monthly/@weekly/@daily/@hourly
// macros. When both day fields are restricted (neither starts with `*`), a
// day matching either one fires ("0 0 13 * FRI": every 13th and every
// Friday); otherwise a day must match both.
//
// Daylight-saving time, as Vixie cron (Debian's cron) handles it. A job is
// "fixed-time" when neither its minute nor its hour field starts with `*`
// ("30 2 * * *", "0 9-17 * * *"); otherwise it is a "wildcard" job
// ("*/15 * * * *", "30 * * * *", "0 */2 * * *").
//   - Spring forward (local times that do not exist, e.g. 02:00-02:59 on
//     the second Sunday of March in America/Chicago): a fixed-time job due
//     in the gap fires once at the first instant after it (03:00 CDT,
//     08:00Z), however many of its times fell in the gap. A wildcard job
//     simply has no fires in the gap: it goes on at its next existing time.
//   - Fall back (local times that happen twice, e.g. 01:00-01:59 on the
//     first Sunday of November in America/Chicago): a fixed-time job fires
//     once, at the first occurrence (01:30 CDT, 06:30Z); a wildcard job
//     fires at both occurrences, so "every 15 minutes" keeps a 15-minute
//     rhythm in real time and "0 * * * *" fires every real hour.
// Vixie cron applies these rules to clock changes of up to 3 hours; every
// real DST change is smaller. Time zones come from the OS tz database via
// date/tz: with it, no DST rule is applied after the last transition the
// database lists (2037 in Debian's files).
//
// Intervals do not depend on time zones or on when the server started: fire
// times are the multiples of the interval counted from a fixed anchor, so
// they never drift across restarts. The anchor is the Unix epoch
// (1970-01-01T00:00:00Z) for seconds, minutes, hours and days ("every 1
// day" fires at 00:00Z, "every 6 hours" at 00:00, 06:00, 12:00, 18:00 UTC),
// and Monday 1969-12-29T00:00:00Z (the start of ISO week 1 of 1970) for
// weeks ("every 1 week" fires Mondays at 00:00Z). For a time of day in a
// zone, use cron with a timezone. An interval may be at most 100 years.
//
// Costs: nextAfter skips months, days and hours that cannot match; it never
// walks minute by minute. Expressions that can never fire ("0 0 30 2 *")
// are refused when compiled, so nextAfter always finds a time.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include <plexus/value.hpp>

#include "util/time.hpp"

namespace date {
class time_zone;
}

namespace plexus::core {

/// An invalid schedule value; the message says what is wrong and where,
/// e.g. "cron field 2 (hour) '25': value out of range 0-23".
class ScheduleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class IntervalUnit { Seconds, Minutes, Hours, Days, Weeks };

/// How many runs to make for fire times missed while the server was down
/// (Kestra's recoverMissedSchedules): none, only the last one, or all.
enum class MissedRunPolicy { None, Last, All };

/// A schedule as written, validated by parseSchedule.
struct ScheduleSpec {
  enum class Kind { Interval, Cron } kind = Kind::Interval;
  std::int64_t every = 0;                        ///< Interval: how many units.
  IntervalUnit unit = IntervalUnit::Minutes;     ///< Interval.
  std::string cron;                              ///< Cron: the expression as written (trimmed).
  std::string timezone = "UTC";                  ///< Cron: an IANA zone name.

  /// "every 5 minutes" / "cron '*/5 8-16 * * 1-5' in America/Chicago".
  std::string describe() const;
  /// {"every": 5, "unit": "minutes"} or {"cron": "...", "timezone": "UTC"};
  /// parseSchedule(toJson()) gives this spec back.
  plexus::Json toJson() const;
};

/// "seconds", "minutes", ... as in YAML.
std::string unitName(IntervalUnit unit);

/// Parses a schedule value: a cron string, {every, unit} or {cron, timezone}
/// (timezone optional, UTC by default). Validates fully: cron fields,
/// ranges and names, that the cron can fire at all, that the timezone is in
/// the IANA database, every >= 1, unit known (singular forms accepted).
/// Throws ScheduleError with a message a user can act on.
ScheduleSpec parseSchedule(const plexus::Json& value);

class CronExpression;

/// A compiled schedule. Immutable; copies are cheap (they share the parsed
/// cron); safe to use from any number of threads at once.
class Schedule {
 public:
  /// Throws ScheduleError when the spec is invalid (as parseSchedule would).
  static Schedule compile(const ScheduleSpec& spec);

  /// The first fire time strictly after `after`. Fire times are whole
  /// seconds (intervals) or whole minutes (cron) of UTC.
  TimePoint nextAfter(TimePoint after) const;

  const ScheduleSpec& spec() const { return spec_; }

 private:
  Schedule() = default;
  TimePoint nextIntervalAfter(TimePoint after) const;
  TimePoint nextCronAfter(TimePoint after) const;

  ScheduleSpec spec_;
  // Interval: fires at anchor_ + k * period_.
  std::chrono::milliseconds period_{0};
  TimePoint anchor_{};
  // Cron: the parsed fields and the zone they are read in (zones live as
  // long as the process: date's tz database never unloads them).
  std::shared_ptr<const CronExpression> cron_;
  const date::time_zone* zone_ = nullptr;
};

}  // namespace plexus::core
