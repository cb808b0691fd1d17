// Tests for the delay component, through <plexus/testing.hpp>.
#include <catch2/catch.hpp>

#include <chrono>

#include <plexus/testing.hpp>

using plexus::Json;
using plexus::testing::FakeContext;
using plexus::testing::Harness;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

/// A context that reports itself cancelled from a given time on, so tests
/// can cancel a running sleep without a second thread touching it.
class CancelledAt : public FakeContext {
 public:
  explicit CancelledAt(Clock::time_point when) : when_(when) {}
  bool cancelled() const override {
    ++checks;
    return Clock::now() >= when_;
  }
  mutable int checks = 0;

 private:
  Clock::time_point when_;
};

long long msSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("delay declares version 1.0.0 and documents every input", "[delay]") {
  Harness harness;
  REQUIRE(harness.components().size() == 1);
  CHECK(harness.components().front().key == "delay");
  CHECK(harness.components().front().version == "1.0.0");
  for (const auto& input : harness.action("delay", "sleep").inputs) {
    CHECK_FALSE(input.label.empty());
    CHECK_FALSE(input.description.empty());
  }
}

TEST_CASE("delay.sleep waits the given time and reports it", "[delay]") {
  Harness harness;
  FakeContext context;
  const auto start = Clock::now();
  auto result = harness.invoke("delay", "sleep", {{"ms", 120}}, context);
  const auto took = msSince(start);
  CHECK(took >= 120);
  CHECK(took < 1000);
  const long long slept = result.data().at("sleptMs").get<long long>();
  CHECK(slept >= 120);
  CHECK(slept <= took);
  CHECK(context.logs.empty());
}

TEST_CASE("delay.sleep of zero returns at once", "[delay]") {
  Harness harness;
  FakeContext context;
  CHECK(harness.invoke("delay", "sleep", {{"ms", 0}}, context).data() == Json{{"sleptMs", 0}});
}

TEST_CASE("delay.sleep checks for cancellation in slices of at most 50 ms", "[delay]") {
  Harness harness;
  CancelledAt context(Clock::time_point::max());  // never cancelled
  harness.invoke("delay", "sleep", {{"ms", 300}}, context);
  CHECK(context.checks >= 300 / 50);
}

TEST_CASE("delay.sleep fails at once when the execution is already cancelled", "[delay][errors]") {
  Harness harness;
  FakeContext context;
  context.stop = true;
  const auto start = Clock::now();
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", {{"ms", 5000}}, context),
                    "delay stopped after 0 of 5000 ms: the execution was cancelled");
  CHECK(msSince(start) < 50);
}

TEST_CASE("delay.sleep wakes early and fails when cancelled while waiting", "[delay][errors]") {
  Harness harness;
  const auto start = Clock::now();
  CancelledAt context(start + milliseconds(100));
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", {{"ms", 5000}}, context),
                    Catch::StartsWith("delay stopped after 1") &&
                        Catch::EndsWith(" of 5000 ms: the execution was cancelled"));
  CHECK(msSince(start) < 100 + 50 + 100);  // one slice, plus scheduling slack
}

TEST_CASE("delay.sleep wakes at the deadline and fails instead of waiting past it", "[delay][errors]") {
  Harness harness;
  FakeContext context;
  const auto start = Clock::now();
  context.until = start + milliseconds(80);
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", {{"ms", 5000}}, context),
                    Catch::EndsWith(" of 5000 ms: the execution's deadline was reached"));
  const auto took = msSince(start);
  CHECK(took >= 80);
  CHECK(took < 80 + 100);
}

TEST_CASE("delay.sleep refuses negative, huge and non-numeric waits", "[delay][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", {{"ms", -5}}, context), "input 'ms' must be 0 or more, got -5");
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", {{"ms", 1e12}}, context),
                    "input 'ms' must be at most 86400000 (24 hours), got 1000000000000.0; "
                    "use a schedule trigger for longer waits");
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", {{"ms", "1s"}}, context),
                    "input 'ms' must be number, got a string");
  CHECK_THROWS_WITH(harness.invoke("delay", "sleep", Json::object(), context), "input 'ms' is required");
}
