// parseSchedule + Schedule::compile + nextAfter: a schedule value from YAML
// or a config variable, written as JSON here ("*/5 * * * *",
// {"every": 5, "unit": "minutes"}, {"cron": "...", "timezone": "..."}).
#include <cstddef>
#include <cstdint>
#include <string>

#include "trigger/schedule/schedule.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  plexus::Json value = plexus::Json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return -1;  // not JSON: not a schedule value either
  try {
    plexus::core::ScheduleSpec spec = plexus::core::parseSchedule(value);
    (void)spec.describe();
    plexus::core::Schedule schedule = plexus::core::Schedule::compile(spec);
    // Documented: parseSchedule(toJson()) gives the spec back.
    if (plexus::core::parseSchedule(spec.toJson()).toJson() != spec.toJson()) __builtin_trap();
    plexus::core::TimePoint after{std::chrono::hours(24 * 365 * 55)};  // 2025
    plexus::core::TimePoint next = schedule.nextAfter(after);
    if (next <= after) __builtin_trap();
  } catch (const plexus::core::ScheduleError&) {
    // Documented: an invalid schedule value, with a message a user can act on.
  }
  return 0;
}
