// Tests for the delay component, through <plexus/testing.hpp>. The wait
// itself is the runtime's (tests/engine/waiting_test.cpp): the action only
// returns a delayed result.
#include <catch2/catch.hpp>

#include <chrono>

#include <plexus/testing.hpp>

using plexus::Json;
using plexus::testing::FakeContext;
using plexus::testing::Harness;
using std::chrono::milliseconds;

TEST_CASE("delay declares version 1.1.0 and documents every input", "[delay]") {
  Harness harness;
  REQUIRE(harness.components().size() == 1);
  CHECK(harness.components().front().key == "delay");
  CHECK(harness.components().front().version == "1.1.0");
  for (const auto& input : harness.action("delay", "sleep").inputs) {
    CHECK_FALSE(input.label.empty());
    CHECK_FALSE(input.description.empty());
  }
}

TEST_CASE("delay.sleep returns at once with a result delayed by the given time", "[delay]") {
  Harness harness;
  FakeContext context;
  const auto start = std::chrono::steady_clock::now();
  auto result = harness.invoke("delay", "sleep", {{"ms", 86'400'000 * 7}}, context);  // a week
  CHECK(std::chrono::steady_clock::now() - start < milliseconds(500));  // it did not wait itself
  REQUIRE(result.isDelayed());
  CHECK(result.delayed().delay == milliseconds(86'400'000LL * 7));
  CHECK(result.delayed().value == Json{{"sleptMs", 86'400'000LL * 7}});
  CHECK(context.logs.empty());
}

TEST_CASE("delay.sleep rounds fractional milliseconds", "[delay]") {
  Harness harness;
  FakeContext context;
  auto result = harness.invoke("delay", "sleep", {{"ms", 2.6}}, context);
  CHECK(result.delayed().delay == milliseconds(3));
}

TEST_CASE("delay.sleep does not start when the execution is already cancelled", "[delay][errors]") {
  Harness harness;
  FakeContext context;
  context.stop = true;
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", {{"ms", 5000}}, context),
                    "delay not started: the execution was cancelled");
}

TEST_CASE("delay.sleep refuses negative, too long and non-numeric waits", "[delay][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", {{"ms", -5}}, context), "input 'ms' must be 0 or more, got -5");
  CHECK_NOTHROW(harness.invoke("delay", "sleep", {{"ms", 2'592'000'000LL}}, context));  // 30 days, the bound
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", {{"ms", 2'592'000'001LL}}, context),
                    "input 'ms' must be at most 2592000000 (30 days), got 2592000001; "
                    "use a schedule trigger for longer waits");
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", {{"ms", "1s"}}, context),
                    "input 'ms' must be number, got a string");
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", Json::object(), context), "input 'ms' is required");
}
