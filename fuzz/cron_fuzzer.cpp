// CronExpression::parse: a cron string from YAML or a config variable; a
// parsed one must find its next match (parse refuses what never fires).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "trigger/schedule/cron.hpp"
#include "trigger/schedule/schedule.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto cron = plexus::core::CronExpression::parse(text);
    using namespace std::chrono;
    plexus::core::LocalMinutes from{date::sys_days{date::year{2024} / 2 / 29}.time_since_epoch()};
    // Every satisfiable expression fires within 28 years (leap-day weekdays repeat).
    auto next = cron.firstMatch(from, from + hours(24 * 366 * 29));
    if (!next || !cron.matches(*next)) __builtin_trap();
  } catch (const plexus::core::ScheduleError&) {
    // Documented: the message names the field and what is wrong.
  }
  return 0;
}
