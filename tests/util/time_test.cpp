#include <catch2/catch.hpp>

#include "util/time.hpp"

using namespace plexus::core;

TEST_CASE("ISO timestamps round-trip with milliseconds", "[util][time]") {
  auto t = parseIso("2026-12-01T14:05:00.123Z");
  REQUIRE(t);
  CHECK(formatIsoMs(*t) == "2026-12-01T14:05:00.123Z");
  CHECK(formatIsoSeconds(*t) == "2026-12-01T14:05:00Z");
}

TEST_CASE("ISO timestamps accept offsets and bare local forms as UTC", "[util][time]") {
  CHECK(formatIsoSeconds(*parseIso("2026-12-01T08:05:00-06:00")) == "2026-12-01T14:05:00Z");
  CHECK(formatIsoSeconds(*parseIso("2026-12-01T14:05")) == "2026-12-01T14:05:00Z");
  CHECK_FALSE(parseIso("yesterday"));
  CHECK_FALSE(parseIso("2026-12-01T14:05:00Zjunk"));
}
