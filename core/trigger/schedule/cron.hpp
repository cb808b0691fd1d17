// A parsed five-field cron expression (Vixie cron syntax) and the search for
// the local times it matches. Internal to the schedule layer: other layers
// use Schedule (schedule.hpp), which adds time zones and DST on top.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>

#include <date/date.h>

namespace plexus::core {

/// A wall-clock time in some zone, to the minute.
using LocalMinutes = date::local_time<std::chrono::minutes>;

/// Immutable once parsed; safe to share between threads.
class CronExpression {
 public:
  /// Parses "minute hour day-of-month month day-of-week" (or an @daily-style
  /// macro). Throws ScheduleError naming the field and the part that is
  /// wrong, e.g. "cron field 2 (hour) '25': value out of range 0-23", and
  /// refuses expressions that match no date at all ("0 0 30 2 *").
  static CronExpression parse(const std::string& text);

  /// Vixie cron's "fixed-time" job: neither the minute nor the hour field
  /// starts with '*'. Only such jobs are moved out of a DST gap and kept
  /// from repeating in a DST overlap (see schedule.hpp).
  bool fixedTime() const { return !minuteStar_ && !hourStar_; }

  /// True when the local minute `t` matches every field.
  bool matches(LocalMinutes t) const;

  /// The first matching local minute in [from, until), if any. Skips whole
  /// months, days and hours that cannot match, so the cost grows with the
  /// number of candidate days scanned, not minutes.
  std::optional<LocalMinutes> firstMatch(LocalMinutes from, LocalMinutes until) const;

 private:
  CronExpression() = default;
  bool dayMatches(const date::year_month_day& day) const;
  /// The first minute of `day` at or after hour:minute that matches the
  /// hour and minute fields.
  std::optional<std::chrono::minutes> firstTimeOfDay(int hour, int minute) const;

  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> daysOfMonth_;  ///< Bits 1-31.
  std::bitset<13> months_;       ///< Bits 1-12.
  std::bitset<7> daysOfWeek_;    ///< Bits 0-6, Sunday 0 (7 is folded into 0).
  bool minuteStar_ = false;
  bool hourStar_ = false;
  bool dayOfMonthStar_ = false;
  bool dayOfWeekStar_ = false;
};

}  // namespace plexus::core
