#include "trigger/schedule/schedule.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <utility>

#include <date/tz.h>

#include "trigger/schedule/cron.hpp"

namespace plexus::core {
namespace {

using Seconds = std::chrono::seconds;
using Minutes = std::chrono::minutes;

const char* const kShapes = "a schedule is a cron string, {every, unit} or {cron, timezone}";
const char* const kUnitList = "seconds, minutes, hours, days or weeks";

struct UnitInfo {
  IntervalUnit unit;
  const char* plural;
  const char* singular;
  std::int64_t seconds;
};

const UnitInfo kUnits[] = {
    {IntervalUnit::Seconds, "seconds", "second", 1},
    {IntervalUnit::Minutes, "minutes", "minute", 60},
    {IntervalUnit::Hours, "hours", "hour", 3600},
    {IntervalUnit::Days, "days", "day", 86400},
    {IntervalUnit::Weeks, "weeks", "week", 604800},
};

/// 100 Gregorian years; longer intervals are surely a typo.
constexpr std::int64_t kLongestIntervalSeconds = 100LL * 146097 * 86400 / 400;

const UnitInfo& unitInfo(IntervalUnit unit) {
  for (const UnitInfo& info : kUnits)
    if (info.unit == unit) return info;
  throw ScheduleError("unknown schedule unit; use " + std::string(kUnitList));
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

IntervalUnit parseUnit(const plexus::Json& value) {
  if (!value.is_string())
    throw ScheduleError(std::string("schedule 'unit' must be one of ") + kUnitList + "; got a " + value.type_name());
  const std::string name = lower(value.get<std::string>());
  for (const UnitInfo& info : kUnits)
    if (name == info.plural || name == info.singular) return info.unit;
  throw ScheduleError("schedule unit '" + value.get<std::string>() + "' is not one of " + kUnitList);
}

std::int64_t parseEvery(const plexus::Json& value) {
  const std::string expected = "schedule 'every' must be a whole number of at least 1; got ";
  // Invalid UTF-8 in a string would make dump() throw; replace it instead (found by the integration fuzzer).
  auto shown = [&] { return value.dump(-1, ' ', false, plexus::Json::error_handler_t::replace); };
  if (!value.is_number_integer())
    throw ScheduleError(expected + (value.is_number() || value.is_string() ? shown() : value.type_name()));
  if (value.is_number_unsigned() && value.get<std::uint64_t>() > std::numeric_limits<std::int64_t>::max())
    return std::numeric_limits<std::int64_t>::max();  // Refused as too long by compile().
  const auto every = value.get<std::int64_t>();
  if (every < 1) throw ScheduleError(expected + shown());
  return every;
}

void checkKeys(const plexus::Json& object, std::initializer_list<const char*> allowed, const char* kind) {
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    if (std::any_of(allowed.begin(), allowed.end(), [&](const char* name) { return key == name; })) continue;
    if (key == "timezone")
      throw ScheduleError(
          "schedule key 'timezone' applies to cron schedules only; for a time of day in a zone use "
          "{cron, timezone}, e.g. {cron: \"0 9 * * *\", timezone: America/Chicago}");
    std::string names;
    for (const char* name : allowed) names += std::string(names.empty() ? "" : ", ") + name;
    throw ScheduleError("schedule key '" + key + "' is not allowed in " + kind + " schedule (allowed: " + names +
                        ")");
  }
}

void parseCronObject(const plexus::Json& object, ScheduleSpec& spec) {
  checkKeys(object, {"cron", "timezone"}, "a cron");
  const plexus::Json& cron = object.at("cron");
  if (!cron.is_string())
    throw ScheduleError(std::string("schedule 'cron' must be a string such as \"*/5 * * * *\"; got a ") +
                        cron.type_name());
  spec.kind = ScheduleSpec::Kind::Cron;
  spec.cron = trim(cron.get<std::string>());
  auto timezone = object.find("timezone");
  if (timezone == object.end() || timezone->is_null()) return;
  if (!timezone->is_string())
    throw ScheduleError(std::string("schedule 'timezone' must be an IANA zone name such as America/Chicago; got a ") +
                        timezone->type_name());
  spec.timezone = timezone->get<std::string>();
}

void parseIntervalObject(const plexus::Json& object, ScheduleSpec& spec) {
  checkKeys(object, {"every", "unit"}, "an interval");
  if (!object.contains("every"))
    throw ScheduleError("schedule needs 'every', a whole number of at least 1, with its 'unit'");
  if (!object.contains("unit"))
    throw ScheduleError(std::string("schedule needs a 'unit' with 'every': ") + kUnitList);
  spec.kind = ScheduleSpec::Kind::Interval;
  spec.every = parseEvery(object.at("every"));
  spec.unit = parseUnit(object.at("unit"));
}

/// A zone whose name differs from `name` only in case ("america/chicago").
std::optional<std::string> zoneWithOtherCase(const std::string& name) {
  const std::string wanted = lower(name);
  const date::tzdb& db = date::get_tzdb();
  for (const auto& zone : db.zones)
    if (lower(zone.name()) == wanted) return zone.name();
#if !USE_OS_TZDB  // The OS database lists links ("US/Central") among its zones.
  for (const auto& link : db.links)
    if (lower(link.name()) == wanted) return link.name();
#endif
  return std::nullopt;
}

const date::time_zone* findZone(const std::string& name) {
  // Load the database outside the try below: failing to read it is an
  // installation problem and must not be reported as an unknown zone.
  date::get_tzdb();
  try {
    return date::locate_zone(name);
  } catch (const std::runtime_error&) {
    // date says "NAME not found in timezone database"; say how to fix it.
  }
  if (auto suggestion = zoneWithOtherCase(name))
    throw ScheduleError("unknown timezone '" + name + "'; did you mean '" + *suggestion + "'?");
  throw ScheduleError("unknown timezone '" + name +
                      "': use an IANA name such as America/Chicago, Europe/Berlin or UTC");
}

date::local_seconds toLocal(date::sys_seconds t, Seconds offset) {
  return date::local_seconds{t.time_since_epoch() + offset};
}

TimePoint toSys(LocalMinutes t, Seconds offset) {
  return TimePoint{std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch() - offset)};
}

LocalMinutes ceilMinutes(date::local_seconds t) { return date::ceil<Minutes>(t); }

/// The UTC offset in force just before `interval` began.
Seconds offsetBefore(const date::time_zone& zone, const date::sys_info& interval) {
  // date reports the time before a zone's first transition as beginning at
  // year -32767; there is nothing before it.
  static const date::sys_seconds kBeginningOfTime{date::sys_days{date::year{1000} / 1 / 1}};
  if (interval.begin < kBeginningOfTime) return interval.offset;
  return zone.get_info(interval.begin - Seconds{1}).offset;
}

}  // namespace

std::string unitName(IntervalUnit unit) { return unitInfo(unit).plural; }

std::string ScheduleSpec::describe() const {
  if (kind == Kind::Cron) return "cron '" + cron + "' in " + timezone;
  const UnitInfo& info = unitInfo(unit);
  if (every == 1) return std::string("every ") + info.singular;
  return "every " + std::to_string(every) + " " + info.plural;
}

plexus::Json ScheduleSpec::toJson() const {
  if (kind == Kind::Cron) return plexus::Json{{"cron", cron}, {"timezone", timezone}};
  return plexus::Json{{"every", every}, {"unit", unitName(unit)}};
}

ScheduleSpec parseSchedule(const plexus::Json& value) {
  ScheduleSpec spec;
  if (value.is_string()) {
    spec.kind = ScheduleSpec::Kind::Cron;
    spec.cron = trim(value.get<std::string>());
  } else if (value.is_object() && value.contains("cron")) {
    parseCronObject(value, spec);
  } else if (value.is_object() && (value.contains("every") || value.contains("unit"))) {
    parseIntervalObject(value, spec);
  } else if (value.is_object() && value.contains("configVar")) {
    throw ScheduleError(std::string("{configVar: KEY} is only allowed as an integration's trigger; ") + kShapes);
  } else {
    throw ScheduleError(std::string(kShapes) + "; got " +
                        (value.is_object() ? "an object without 'cron' or 'every'" : std::string("a ") + value.type_name()));
  }
  Schedule::compile(spec);  // Validates the cron fields, the zone and the interval's length.
  return spec;
}

Schedule Schedule::compile(const ScheduleSpec& spec) {
  Schedule schedule;
  schedule.spec_ = spec;
  if (spec.kind == ScheduleSpec::Kind::Cron) {
    schedule.cron_ = std::make_shared<const CronExpression>(CronExpression::parse(spec.cron));
    schedule.zone_ = findZone(spec.timezone);
    return schedule;
  }
  const UnitInfo& info = unitInfo(spec.unit);
  if (spec.every < 1)
    throw ScheduleError("schedule 'every' must be a whole number of at least 1; got " + std::to_string(spec.every));
  if (spec.every > kLongestIntervalSeconds / info.seconds)
    throw ScheduleError("schedule every " + std::to_string(spec.every) + " " + info.plural +
                        " is longer than 100 years; use a cron schedule for rare events");
  schedule.period_ = std::chrono::seconds(spec.every * info.seconds);
  if (spec.unit == IntervalUnit::Weeks)
    schedule.anchor_ = TimePoint{date::sys_days{date::year{1969} / 12 / 29}};  // A Monday: ISO week 1 of 1970.
  return schedule;
}

TimePoint Schedule::nextAfter(TimePoint after) const {
  return spec_.kind == ScheduleSpec::Kind::Cron ? nextCronAfter(after) : nextIntervalAfter(after);
}

TimePoint Schedule::nextIntervalAfter(TimePoint after) const {
  const auto since = (after - anchor_).count();
  const auto period = period_.count();
  auto periods = since / period;  // Rounds toward zero; make it floor.
  if (since % period != 0 && since < 0) --periods;
  return anchor_ + period_ * (periods + 1);
}

// Walks the zone's offset intervals (one per DST period; a single one for
// UTC or Asia/Kolkata). Within an interval local time maps to UTC by one
// offset, so the first cron match there is the answer; at the boundary
// between two intervals the DST rules of schedule.hpp apply.
TimePoint Schedule::nextCronAfter(TimePoint after) const {
  const CronExpression& cron = *cron_;
  date::sys_info interval = zone_->get_info(date::floor<Seconds>(after));
  Seconds previousOffset = offsetBefore(*zone_, interval);
  // Strictly after: the first whole local minute past `after`.
  const date::local_time<std::chrono::milliseconds> afterLocal{after.time_since_epoch() + interval.offset};
  LocalMinutes from = date::floor<Minutes>(afterLocal) + Minutes{1};
  // Compile refused crons without a date in a 400-year cycle, so a search
  // this long finds one; the limit only guards against a bug looping.
  const LocalMinutes searchEnd = from + date::days{146097 + 366};
  for (bool firstInterval = true;; firstInterval = false) {
    if (!firstInterval) {
      from = ceilMinutes(toLocal(interval.begin, interval.offset));
      // Spring forward: a fixed-time job due in the skipped local times
      // fires once, at the instant the clocks jumped.
      if (cron.fixedTime() && interval.offset > previousOffset &&
          cron.firstMatch(ceilMinutes(toLocal(interval.begin, previousOffset)), from))
        return TimePoint{interval.begin};
    }
    // Fall back: local times before begin+previousOffset happen a second
    // time here; a fixed-time job already fired at their first occurrence.
    if (cron.fixedTime() && previousOffset > interval.offset)
      from = std::max(from, ceilMinutes(toLocal(interval.begin, previousOffset)));
    const LocalMinutes until = std::min(ceilMinutes(toLocal(interval.end, interval.offset)), searchEnd);
    if (from < until)
      if (auto match = cron.firstMatch(from, until)) return toSys(*match, interval.offset);
    if (until >= searchEnd)
      throw ScheduleError("cron '" + spec_.cron + "' in " + spec_.timezone + " has no fire time within 400 years after " +
                          formatIsoSeconds(after));
    previousOffset = interval.offset;
    interval = zone_->get_info(interval.end);
  }
}

}  // namespace plexus::core
