// Tests for the stop-execution component, through <plexus/testing.hpp>.
#include <catch2/catch.hpp>

#include <plexus/testing.hpp>

using plexus::Json;
using plexus::testing::FakeContext;
using plexus::testing::Harness;

TEST_CASE("stop-execution declares version 1.0.0 and documents every input", "[stop-execution]") {
  Harness harness;
  REQUIRE(harness.components().size() == 1);
  const auto& component = harness.components().front();
  CHECK(component.key == "stop-execution");
  CHECK(component.version == "1.0.0");
  CHECK_FALSE(component.description.empty());
  const auto& stop = harness.action("stop-execution", "stop");
  for (const auto& input : stop.inputs) {
    CHECK_FALSE(input.label.empty());
    CHECK_FALSE(input.description.empty());
  }
}

TEST_CASE("stop returns a status result with the given code, headers and body", "[stop-execution]") {
  Harness harness;
  FakeContext context;
  auto result = harness.invoke("stop-execution", "stop",
                               {{"statusCode", 415},
                                {"headers", {{"X-Reason", "wrong type"}, {"Retry-After", 120}}},
                                {"body", {{"error", "send JSON"}}}},
                               context);
  REQUIRE(result.isStatus());
  CHECK(result.status().statusCode == 415);
  CHECK(result.status().headers.at("X-Reason") == "wrong type");
  CHECK(result.status().headers.at("Retry-After") == "120");
  REQUIRE(result.status().body.has_value());
  CHECK(*result.status().body == Json{{"error", "send JSON"}});
}

TEST_CASE("stop without headers or body has none", "[stop-execution]") {
  Harness harness;
  FakeContext context;
  auto result = harness.invoke("stop-execution", "stop", {{"statusCode", 204}}, context);
  REQUIRE(result.isStatus());
  CHECK(result.status().statusCode == 204);
  CHECK(result.status().headers.empty());
  CHECK_FALSE(result.status().body.has_value());
}

TEST_CASE("stop keeps a binary body binary", "[stop-execution]") {
  Harness harness;
  FakeContext context;
  auto result = harness.invoke("stop-execution", "stop",
                               {{"statusCode", 200}, {"body", plexus::makeBinary("PNG", "image/png")}},
                               context);
  REQUIRE(result.status().body->is_binary());
  CHECK(plexus::asBinary(*result.status().body).contentType() == "image/png");
}

TEST_CASE("stop refuses a status code outside 100-599", "[stop-execution][errors]") {
  Harness harness;
  FakeContext context;
  auto code = GENERATE(99, 600, 0, -1);
  CHECK_THROWS_WITH(harness.invoke("stop-execution", "stop", {{"statusCode", code}}, context),
                    "input 'statusCode' must be an HTTP status between 100 and 599, got " +
                        std::to_string(code));
}

TEST_CASE("stop refuses a fractional status code", "[stop-execution][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("stop-execution", "stop", {{"statusCode", 200.5}}, context),
                    "input 'statusCode' must be a whole number, got 200.5");
}

TEST_CASE("stop requires a status code", "[stop-execution][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("stop-execution", "stop", Json::object(), context),
                    "input 'statusCode' is required");
  CHECK_THROWS_WITH(harness.invoke("stop-execution", "stop", {{"statusCode", "200"}}, context),
                    "input 'statusCode' must be number, got a string");
}

TEST_CASE("stop refuses headers that are not an object of strings", "[stop-execution][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("stop-execution", "stop",
                                   {{"statusCode", 200}, {"headers", Json::array({"a"})}}, context),
                    "input 'headers' must be an object of header name to value, got an array");
  CHECK_THROWS_WITH(harness.invoke("stop-execution", "stop",
                                   {{"statusCode", 200}, {"headers", {{"X-List", {1, 2}}}}}, context),
                    "input 'headers': header 'X-List' must be a string, got an array");
}

TEST_CASE("stop refuses header names and values that would break the response",
          "[stop-execution][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(
      harness.invoke("stop-execution", "stop", {{"statusCode", 200}, {"headers", {{"Bad Name", "x"}}}},
                     context),
      "input 'headers': 'Bad Name' is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)");
  CHECK_THROWS_WITH(
      harness.invoke("stop-execution", "stop",
                     {{"statusCode", 200}, {"headers", {{"X-Injected", "a\r\nSet-Cookie: x=1"}}}}, context),
      "input 'headers': header 'X-Injected' must not contain line breaks");
}
