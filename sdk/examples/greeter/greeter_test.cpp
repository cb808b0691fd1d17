// The greeter's own tests: they run its action through <plexus/testing.hpp>,
// with the same input checks the runtime applies, and no server.
#include <catch2/catch.hpp>
#include <plexus/testing.hpp>

using plexus::Json;
using plexus::testing::FakeContext;
using plexus::testing::Harness;

TEST_CASE("hello greets the given name with data", "[greeter]") {
  Harness harness;
  FakeContext context;
  auto result = harness.invoke("greeter", "hello", {{"name", "Ada"}}, context);
  REQUIRE_FALSE(result.isStatus());
  CHECK(result.data() == Json{{"greeting", "Hello, Ada"}});
  REQUIRE(context.logs.size() == 1);
  CHECK(context.logs[0].message == "greeting Ada");
}

TEST_CASE("hello greets the world when no name is given", "[greeter]") {
  Harness harness;
  FakeContext context;
  auto result = harness.invoke("greeter", "hello", Json::object(), context);
  CHECK(result.data()["greeting"] == "Hello, world");
}

TEST_CASE("hello answers with a status code when statusCode is given", "[greeter]") {
  Harness harness;
  FakeContext context;
  auto result = harness.invoke("greeter", "hello", {{"name", "Ada"}, {"statusCode", 418}}, context);
  REQUIRE(result.isStatus());
  CHECK(result.status().statusCode == 418);
  CHECK(result.status().headers.at("content-type") == "text/plain");
  CHECK(result.status().body == Json("Hello, Ada"));
}

TEST_CASE("hello refuses a status code outside 100-599", "[greeter]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("greeter", "hello", {{"statusCode", 42}}, context),
                    "input 'statusCode' must be a whole number from 100 to 599, got 42");
}

TEST_CASE("hello refuses a name that is not a string, as the runtime would", "[greeter]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("greeter", "hello", {{"name", 7}}, context),
                    "input 'name' must be string, got a number");
}
