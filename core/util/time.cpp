#include "util/time.hpp"

#include "util/clock.hpp"

#include <date/date.h>

#include <sstream>

namespace plexus::core {

TimePoint nowMs() { return std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::now()); }

const TimeSource& TimeSource::real() {
  static const RealTimeSource source;
  return source;
}

std::string formatIsoMs(TimePoint t) { return date::format("%FT%TZ", t); }

std::string formatIsoSeconds(TimePoint t) {
  return date::format("%FT%TZ", std::chrono::time_point_cast<std::chrono::seconds>(t));
}

std::optional<TimePoint> parseIso(const std::string& text) {
  static const char* const kFormats[] = {"%FT%T%Ez", "%FT%TZ", "%FT%T", "%FT%R%Ez", "%FT%RZ", "%FT%R"};
  for (const char* format : kFormats) {
    std::istringstream in(text);
    date::sys_time<std::chrono::milliseconds> parsed;
    in >> date::parse(format, parsed);
    if (!in.fail() && in.peek() == std::char_traits<char>::eof()) return TimePoint(parsed);
  }
  return std::nullopt;
}

}  // namespace plexus::core
