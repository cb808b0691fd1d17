// plexus schedule next: the next fire times of a schedule, to check a cron
// expression or an interval before putting it in an integration (CONTRACT §5).
#include <cctype>
#include <iostream>
#include <string>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "trigger/schedule/schedule.hpp"
#include "util/time.hpp"

namespace plexus::core::cli {
namespace {

const char* const kScheduleUsage =
    "usage: plexus schedule next --cron \"EXPR\" [--timezone TZ] [--from ISO8601] [--count N]\n"
    "       plexus schedule next --every N --unit seconds|minutes|hours|days|weeks [--from ISO8601] [--count N]\n"
    "\n"
    "Prints the next N fire times (default 5), one ISO-8601 UTC time a line,\n"
    "each strictly after --from (default: now). --timezone is an IANA name\n"
    "(default UTC).\n";

const char* const kSeeHelp = "; see 'plexus schedule --help'";
constexpr int kDefaultCount = 5;
constexpr int kMaxCount = 10000;

bool isWholeNumber(const std::string& text, bool allowMinus) {
  std::size_t start = allowMinus && !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() <= start || text.size() - start > 18) return false;  // 18 digits fit an int64.
  for (std::size_t i = start; i < text.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  return true;
}

int countOption(const Args& args) {
  const auto text = args.value("count");
  if (!text) return kDefaultCount;
  if (!isWholeNumber(*text, false) || std::stoll(*text) < 1 || std::stoll(*text) > kMaxCount)
    throw UsageError("--count must be a whole number from 1 to " + std::to_string(kMaxCount) + "; got '" + *text +
                     "'");
  return static_cast<int>(std::stoll(*text));
}

TimePoint fromOption(const Args& args) {
  const auto text = args.value("from");
  if (!text) return nowMs();
  const auto from = parseIso(*text);
  if (!from) throw UsageError("--from '" + *text + "' is not an ISO-8601 time such as 2026-12-01T14:05:00Z");
  return *from;
}

/// The schedule value the options describe, as it would appear in YAML;
/// parseSchedule judges its content.
plexus::Json scheduleValue(const Args& args) {
  const auto cron = args.value("cron");
  const auto every = args.value("every");
  const auto unit = args.value("unit");
  const auto timezone = args.value("timezone");
  if (cron && (every || unit)) throw UsageError(std::string("give --cron or --every with --unit, not both") + kSeeHelp);
  if (cron) {
    plexus::Json value{{"cron", *cron}};
    if (timezone) value["timezone"] = *timezone;
    return value;
  }
  if (!every && !unit) throw UsageError(std::string("missing --cron \"EXPR\" or --every N --unit U") + kSeeHelp);
  if (!every) throw UsageError(std::string("--unit needs --every N") + kSeeHelp);
  if (!unit) throw UsageError(std::string("--every needs --unit seconds|minutes|hours|days|weeks") + kSeeHelp);
  if (timezone)
    throw UsageError("--timezone applies to --cron only: intervals count from the Unix epoch, in UTC");
  // A non-number goes through as text so parseSchedule reports it.
  plexus::Json count = isWholeNumber(*every, true) ? plexus::Json(std::stoll(*every)) : plexus::Json(*every);
  return plexus::Json{{"every", count}, {"unit", *unit}};
}

}  // namespace

int scheduleCommand(const Arguments& arguments) {
  const Args args(arguments, {"cron", "timezone", "from", "count", "every", "unit"}, {"help"});
  if (args.flag("help")) {
    std::cout << kScheduleUsage;
    return 0;
  }
  const auto& positionals = args.positionals();
  if (positionals.empty()) throw UsageError(std::string("missing sub-command: expected 'next'") + kSeeHelp);
  if (positionals[0] != "next")
    throw UsageError("unknown sub-command '" + positionals[0] + "': expected 'next'" + kSeeHelp);
  if (positionals.size() > 1) throw UsageError("unexpected argument '" + positionals[1] + "'" + kSeeHelp);

  const plexus::Json value = scheduleValue(args);
  const int count = countOption(args);
  TimePoint at = fromOption(args);
  try {
    const Schedule schedule = Schedule::compile(parseSchedule(value));
    for (int i = 0; i < count; ++i) {
      at = schedule.nextAfter(at);
      std::cout << formatIsoSeconds(at) << "\n";
    }
  } catch (const ScheduleError& error) {
    // An invalid schedule (exit 1), not a misuse of the command (exit 2).
    std::cerr << "plexus schedule: " << error.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace plexus::core::cli
