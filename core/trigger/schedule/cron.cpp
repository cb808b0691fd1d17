#include "trigger/schedule/cron.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "trigger/schedule/schedule.hpp"

namespace plexus::core {
namespace {

/// What one of the five fields accepts.
struct FieldRule {
  int position;                   ///< 1-based, as users count fields.
  const char* name;
  int min;
  int max;
  const char* const* names;       ///< Three-letter names, or nullptr.
  int firstNameValue;             ///< The value of names[0].
  const char* namesRange;         ///< "JAN-DEC", for messages.
  const char* nameKind;           ///< "month", for messages.
};

const char* const kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", nullptr};
const char* const kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr};

const FieldRule kFieldRules[5] = {
    {1, "minute", 0, 59, nullptr, 0, nullptr, nullptr},
    {2, "hour", 0, 23, nullptr, 0, nullptr, nullptr},
    {3, "day-of-month", 1, 31, nullptr, 0, nullptr, nullptr},
    {4, "month", 1, 12, kMonthNames, 1, "JAN-DEC", "month"},
    // 0-7: both 0 and 7 are Sunday, as in Vixie cron.
    {5, "day-of-week", 0, 7, kDayNames, 0, "SUN-SAT", "day"},
};

const char* const kFieldList = "minute hour day-of-month month day-of-week";

/// Vixie cron's @-macros, as the five fields they stand for.
const std::pair<const char*, const char*> kMacros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

[[noreturn]] void fail(const FieldRule& rule, const std::string& part, const std::string& problem) {
  throw ScheduleError("cron field " + std::to_string(rule.position) + " (" + rule.name + ") '" + part +
                      "': " + problem);
}

std::string rangeText(const FieldRule& rule) {
  return std::to_string(rule.min) + "-" + std::to_string(rule.max);
}

bool allDigits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool allLetters(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isalpha(c); });
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

/// One value: a number in the field's range, or (month, day-of-week) a
/// three-letter name, case-insensitive.
int parseValue(const FieldRule& rule, const std::string& token) {
  if (allDigits(token)) {
    // More than 4 digits is out of every field's range (and of int's).
    int value = token.size() > 4 ? rule.max + 1 : std::stoi(token);
    if (value < rule.min || value > rule.max) fail(rule, token, "value out of range " + rangeText(rule));
    return value;
  }
  if (rule.names && allLetters(token)) {
    const std::string wanted = upper(token);
    for (int i = 0; rule.names[i]; ++i)
      if (wanted == rule.names[i]) return rule.firstNameValue + i;
    fail(rule, token,
         std::string("unknown ") + rule.nameKind + " name; use " + rangeText(rule) + " or " + rule.namesRange);
  }
  if (rule.names)
    fail(rule, token, "expected a number " + rangeText(rule) + " or a name " + rule.namesRange);
  fail(rule, token, "expected a number " + rangeText(rule));
}

int parseStep(const FieldRule& rule, const std::string& element, const std::string& step) {
  if (!allDigits(step)) fail(rule, element, "step '" + step + "' is not a whole number");
  // A step longer than the field selects only the start; clamp to keep stoi safe.
  int value = step.size() > 4 ? 10000 : std::stoi(step);
  if (value < 1) fail(rule, element, "step must be at least 1");
  return value;
}

/// One list item: `*`, `N`, `A-B`, each optionally `/STEP`; `N/STEP` means
/// `N-max/STEP`. Sets the matching values' bits.
template <std::size_t Bits>
void parseElement(const FieldRule& rule, const std::string& element, std::bitset<Bits>& bits) {
  std::string range = element;
  std::string step;
  const auto slash = element.find('/');
  const bool hasStep = slash != std::string::npos;
  if (hasStep) {
    range = element.substr(0, slash);
    step = element.substr(slash + 1);
    if (range.empty()) fail(rule, element, "missing range before '/'");
  }
  int low = rule.min;
  int high = rule.max;
  if (range != "*") {
    const auto dash = range.find('-');
    if (dash != std::string::npos) {
      const std::string first = range.substr(0, dash);
      const std::string last = range.substr(dash + 1);
      if (first.empty() || last.empty()) fail(rule, element, "a range needs a value on both sides of '-'");
      low = parseValue(rule, first);
      high = parseValue(rule, last);
      if (low > high) fail(rule, element, "range start is after its end");
    } else {
      low = parseValue(rule, range);
      high = hasStep ? rule.max : low;
    }
  }
  const int stride = hasStep ? parseStep(rule, element, step) : 1;
  for (int value = low; value <= high; value += stride) bits.set(static_cast<std::size_t>(value));
}

template <std::size_t Bits>
std::bitset<Bits> parseField(const FieldRule& rule, const std::string& field) {
  std::bitset<Bits> bits;
  std::size_t start = 0;
  while (true) {
    const auto comma = field.find(',', start);
    const std::string element = field.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (element.empty()) fail(rule, field, "empty list item");
    parseElement(rule, element, bits);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return bits;
}

std::vector<std::string> splitFields(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> fields;
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

/// "@daily" -> "0 0 * * *"; anything else is returned as it is.
std::string expandMacro(const std::string& text) {
  std::string trimmed = text;
  trimmed.erase(0, trimmed.find_first_not_of(" \t"));
  trimmed.erase(trimmed.find_last_not_of(" \t") + 1);
  if (trimmed.empty() || trimmed[0] != '@') return text;
  for (const auto& [name, fields] : kMacros)
    if (upper(trimmed) == upper(name)) return fields;
  throw ScheduleError("cron macro '" + trimmed +
                      "' is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly");
}

}  // namespace

CronExpression CronExpression::parse(const std::string& text) {
  const std::vector<std::string> fields = splitFields(expandMacro(text));
  if (fields.empty())
    throw ScheduleError(std::string("cron expression is empty; expected 5 fields: ") + kFieldList);
  if (fields.size() != 5)
    throw ScheduleError("cron expression '" + text + "' has " + std::to_string(fields.size()) +
                        " fields; expected 5: " + kFieldList);
  CronExpression cron;
  cron.minutes_ = parseField<60>(kFieldRules[0], fields[0]);
  cron.hours_ = parseField<24>(kFieldRules[1], fields[1]);
  cron.daysOfMonth_ = parseField<32>(kFieldRules[2], fields[2]);
  cron.months_ = parseField<13>(kFieldRules[3], fields[3]);
  const std::bitset<8> daysOfWeek = parseField<8>(kFieldRules[4], fields[4]);
  for (int day = 0; day < 7; ++day) cron.daysOfWeek_[day] = daysOfWeek[day];
  if (daysOfWeek[7]) cron.daysOfWeek_.set(0);  // 7 is Sunday too.
  // Vixie cron keys its special cases on the field's text starting with '*'
  // ("*/2" counts as starred), not on which values end up selected.
  cron.minuteStar_ = fields[0][0] == '*';
  cron.hourStar_ = fields[1][0] == '*';
  cron.dayOfMonthStar_ = fields[2][0] == '*';
  cron.dayOfWeekStar_ = fields[4][0] == '*';

  // The Gregorian calendar repeats every 400 years (146097 days, a whole
  // number of weeks), so a day pattern that matches nothing in 400 years
  // never matches: refuse it now rather than searching forever later.
  const LocalMinutes cycleStart{date::local_days{date::year{2000} / 1 / 1}};
  const LocalMinutes cycleEnd{date::local_days{date::year{2400} / 1 / 1}};
  if (!cron.firstMatch(cycleStart, cycleEnd))
    throw ScheduleError("cron '" + text +
                        "' never fires: no date matches its day-of-month, month and day-of-week fields");
  return cron;
}

bool CronExpression::dayMatches(const date::year_month_day& day) const {
  const bool dayOfMonthHit = daysOfMonth_[static_cast<unsigned>(day.day())];
  const bool dayOfWeekHit = daysOfWeek_[date::weekday{day}.c_encoding()];
  // The Vixie rule: when either day field starts with '*' a day must match
  // both; when both are restricted, matching either one is enough.
  if (dayOfMonthStar_ || dayOfWeekStar_) return dayOfMonthHit && dayOfWeekHit;
  return dayOfMonthHit || dayOfWeekHit;
}

std::optional<std::chrono::minutes> CronExpression::firstTimeOfDay(int hour, int minute) const {
  for (; hour < 24; ++hour, minute = 0) {
    if (!hours_[hour]) continue;
    for (; minute < 60; ++minute)
      if (minutes_[minute]) return std::chrono::hours(hour) + std::chrono::minutes(minute);
  }
  return std::nullopt;
}

bool CronExpression::matches(LocalMinutes t) const {
  const auto day = date::floor<date::days>(t);
  const date::year_month_day ymd{day};
  const auto sinceMidnight = t - day;
  const auto hour = std::chrono::duration_cast<std::chrono::hours>(sinceMidnight);
  return months_[static_cast<unsigned>(ymd.month())] && dayMatches(ymd) && hours_[hour.count()] &&
         minutes_[(sinceMidnight - hour).count()];
}

std::optional<LocalMinutes> CronExpression::firstMatch(LocalMinutes from, LocalMinutes until) const {
  auto day = date::floor<date::days>(from);
  const auto sinceMidnight = from - day;
  int hour = static_cast<int>(std::chrono::duration_cast<std::chrono::hours>(sinceMidnight).count());
  int minute = static_cast<int>((sinceMidnight - std::chrono::hours(hour)).count());
  while (day < until) {
    const date::year_month_day ymd{day};
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      // Skip the rest of a month that cannot match.
      day = date::local_days{(ymd.year() / ymd.month() + date::months{1}) / 1};
      hour = minute = 0;
      continue;
    }
    if (dayMatches(ymd)) {
      if (auto timeOfDay = firstTimeOfDay(hour, minute)) {
        const LocalMinutes match = day + *timeOfDay;
        if (match < until) return match;
        return std::nullopt;
      }
    }
    day += date::days{1};
    hour = minute = 0;
  }
  return std::nullopt;
}

}  // namespace plexus::core
