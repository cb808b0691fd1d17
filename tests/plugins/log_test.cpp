// Tests for the log component, through <plexus/testing.hpp>.
#include <catch2/catch.hpp>

#include <plexus/testing.hpp>

using plexus::Json;
using plexus::LogLevel;
using plexus::testing::FakeContext;
using plexus::testing::Harness;

TEST_CASE("log declares version 1.0.0 and documents every input", "[log]") {
  Harness harness;
  REQUIRE(harness.components().size() == 1);
  CHECK(harness.components().front().key == "log");
  CHECK(harness.components().front().version == "1.0.0");
  for (const auto& input : harness.action("log", "write").inputs) {
    CHECK_FALSE(input.label.empty());
    CHECK_FALSE(input.description.empty());
  }
}

TEST_CASE("log.write logs the message at info by default and returns null", "[log]") {
  Harness harness;
  FakeContext context;
  auto result = harness.invoke("log", "write", {{"message", "render 42 finished"}}, context);
  REQUIRE_FALSE(result.isStatus());
  CHECK(result.data().is_null());
  REQUIRE(context.logs.size() == 1);
  CHECK(context.logs[0].level == LogLevel::Info);
  CHECK(context.logs[0].message == "render 42 finished");
}

TEST_CASE("log.write uses the level it is given, in any case", "[log]") {
  using Row = std::tuple<std::string, LogLevel>;
  auto [name, level] = GENERATE(table<std::string, LogLevel>({
      Row{"debug", LogLevel::Debug},
      Row{"info", LogLevel::Info},
      Row{"warn", LogLevel::Warn},
      Row{"error", LogLevel::Error},
      Row{"WARN", LogLevel::Warn},
  }));
  Harness harness;
  FakeContext context;
  harness.invoke("log", "write", {{"message", "m"}, {"level", name}}, context);
  REQUIRE(context.logs.size() == 1);
  CHECK(context.logs[0].level == level);
}

TEST_CASE("log.write refuses an unknown level and logs nothing", "[log][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("log", "write", {{"message", "m"}, {"level", "verbose"}}, context),
                    "input 'level' must be one of debug, info, warn, error; got 'verbose'");
  CHECK(context.logs.empty());
}

TEST_CASE("log.write requires a string message", "[log][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("log", "write", Json::object(), context), "input 'message' is required");
  CHECK_THROWS_WITH(harness.invoke("log", "write", {{"message", {{"a", 1}}}}, context),
                    "input 'message' must be string, got an object");
}
