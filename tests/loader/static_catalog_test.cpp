// StaticCatalog: components compiled into a test binary.
#include <catch2/catch.hpp>
#include <plexus/testing.hpp>

#include "loader/static_catalog.hpp"
#include "loader_test_support.hpp"

using plexus::ComponentSpec;
using plexus::Json;
using plexus::core::StaticCatalog;
using plexus::core::test::componentKeys;
using plexus::core::test::invoke;

namespace {

ComponentSpec constant(std::string key, Json value) {
  plexus::ActionSpec get{"get", "Get", "Returns a constant", {},
                         [value](const plexus::Inputs&, plexus::Context&) -> plexus::Result {
                           return value;
                         }};
  return {std::move(key), "1.0.0", "A constant", {get}};
}

}  // namespace

TEST_CASE("a static catalog finds its components by key and lists them sorted",
          "[loader][static]") {
  StaticCatalog catalog({constant("zeta", 1), constant("alpha", 2)});
  CHECK(componentKeys(catalog) == std::vector<std::string>{"alpha", "zeta"});
  auto alpha = catalog.find("alpha");
  REQUIRE(alpha);
  CHECK(alpha->file.empty());
  CHECK_FALSE(alpha->keepAlive);
  CHECK(invoke(*alpha, "get", Json::object()).data() == Json(2));
  CHECK_FALSE(catalog.find("beta"));
}

TEST_CASE("a static catalog refuses a key given twice or a malformed spec", "[loader][static]") {
  CHECK_THROWS_WITH(StaticCatalog({constant("same", 1), constant("same", 2)}),
                    "static component catalog: component \"same\" is given twice");
  CHECK_THROWS_WITH(StaticCatalog({constant("", 1)}),
                    "static component catalog: a component has an empty key");
}
