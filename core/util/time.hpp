// Wall-clock timestamps as the API shows them.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace plexus::core {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::milliseconds>;

/// Now, truncated to milliseconds.
TimePoint nowMs();

/// "2026-12-01T14:05:00.123Z" (milliseconds always present).
std::string formatIsoMs(TimePoint t);
/// "2026-12-01T14:05:00Z" (whole seconds; used for schedule fire times).
std::string formatIsoSeconds(TimePoint t);
/// Parses "YYYY-MM-DDTHH:MM[:SS[.fff]]" followed by "Z", "+HH:MM" or
/// nothing (UTC). Returns std::nullopt when the text is not such a time.
std::optional<TimePoint> parseIso(const std::string& text);

}  // namespace plexus::core
