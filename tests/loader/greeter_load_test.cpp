// The out-of-tree greeter (sdk/examples/greeter), built against the installed
// SDK by sdk_out_of_tree_test.cmake, loaded by the runtime's loader.
//
// Hidden ([.]): it needs that build, so only the sdk_out_of_tree ctest runs
// it, as `test_loader "[sdk]"` with PLEXUS_GREETER_PLUGINS set to its folder.
#include <stdlib.h>

#include <catch2/catch.hpp>

#include "loader_test_support.hpp"

using plexus::Json;
using namespace plexus::core;
using namespace plexus::core::test;

TEST_CASE("an out-of-tree component built against the installed SDK loads and runs",
          "[.][sdk]") {
  const char* dir = getenv("PLEXUS_GREETER_PLUGINS");
  INFO("PLEXUS_GREETER_PLUGINS must name the folder holding the built greeter.so");
  REQUIRE(dir);

  LoadedComponentPtr greeter;
  {
    auto registry = loadComponents(dir);
    CHECK(refusalMessages(*registry).empty());
    CHECK(componentKeys(*registry) == std::vector<std::string>{"greeter"});
    greeter = registry->find("greeter");
  }
  REQUIRE(greeter);
  CHECK(greeter->file == std::string(dir) + "/greeter.so");
  CHECK(greeter->spec.version == "1.0.0");

  // The registry is gone; the component keeps its library loaded.
  CHECK(invoke(*greeter, "hello", {{"name", "Plexus"}}).data() ==
        Json{{"greeting", "Hello, Plexus"}});
  auto status = invoke(*greeter, "hello", {{"name", "Plexus"}, {"statusCode", 503}});
  REQUIRE(status.isStatus());
  CHECK(status.status().statusCode == 503);
  CHECK(status.status().body == Json("Hello, Plexus"));
}
