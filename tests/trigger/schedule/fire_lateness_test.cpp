// FireLateness: one summary per due time, once every expected fire was queued.
#include <catch2/catch.hpp>

#include "trigger/schedule/fire_lateness.hpp"

using namespace plexus::core;
using std::chrono::milliseconds;

TEST_CASE("Fire lateness is summarised once all the fires due at a time were queued", "[scheduler][lateness]") {
  FireLateness lateness;
  const TimePoint due{milliseconds(1'800'000'000'000)};
  lateness.expect(due, 100);
  lateness.expect(due + milliseconds(60000), 1);
  CHECK_FALSE(lateness.queued(due, due + milliseconds(3), 98));
  CHECK_FALSE(lateness.queued(due, due + milliseconds(40)));
  auto summary = lateness.queued(due, due + milliseconds(90));
  REQUIRE(summary);
  CHECK(summary->due == due);
  CHECK(summary->fires == 100);
  CHECK(summary->p50 == milliseconds(3));
  CHECK(summary->p99 == milliseconds(40));
  CHECK(summary->max == milliseconds(90));
  CHECK_FALSE(lateness.queued(due, due + milliseconds(5)));  // not expected any more

  auto early = lateness.queued(due + milliseconds(60000), due + milliseconds(59990));
  REQUIRE(early);
  CHECK(early->max == milliseconds(0));  // queued before its due time counts as on time
}
