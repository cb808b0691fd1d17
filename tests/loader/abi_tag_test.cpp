// describeAbiMismatch and the tag PLEXUS_ABI_TAG itself.
#include <string>

#include <catch2/catch.hpp>
#include <plexus/abi.hpp>

#include "loader/abi_tag.hpp"

using plexus::core::describeAbiMismatch;

TEST_CASE("this build's tag names every layout setting", "[loader][abi]") {
  const std::string tag = PLEXUS_ABI_TAG;
  CHECK(tag ==
        "plexus-sdk-abi=5;cxx=itanium;stdlib=libstdc++;cxx11-abi=1;glibcxx-debug=0;"
        "nlohmann-json=3.11;json-diagnostics=0;json-legacy-discarded-compare=0;"
        "pointer-size=8;byte-order=little");
}

TEST_CASE("equal tags match", "[loader][abi]") {
  CHECK(describeAbiMismatch(PLEXUS_ABI_TAG, PLEXUS_ABI_TAG) == std::nullopt);
}

TEST_CASE("a mismatch names each field that differs, and only those", "[loader][abi]") {
  CHECK(describeAbiMismatch("a=1;b=2;c=3", "a=1;b=5;c=3") == "b=2 where this Plexus has b=5");
  CHECK(describeAbiMismatch("a=9;b=2;c=8", "a=1;b=2;c=3") ==
        "a=9 where this Plexus has a=1, c=8 where this Plexus has c=3");
  CHECK(describeAbiMismatch("a=1", "a=1;b=2") == "no b (this Plexus has b=2)");
  CHECK(describeAbiMismatch("a=1;z=0", "a=1") == "an unknown field z=0");
  CHECK(describeAbiMismatch("b=2;a=1", "a=1;b=2") == "its fields are in another order or repeated");
  CHECK(describeAbiMismatch("garbage", "a=1") == "its tag is not field=value pairs");
  CHECK(describeAbiMismatch("a=1;=2", "a=1") == "its tag is not field=value pairs");
}

TEST_CASE("an SDK ABI 1 tag is told apart field by field", "[loader][abi]") {
  // What plexus_abi_tag() returned before the note existed.
  const auto difference = describeAbiMismatch(
      "plexus-sdk-abi=1;cxx=itanium;stdlib=libstdc++-cxx11abi1;nlohmann-json=3.11.2", PLEXUS_ABI_TAG);
  REQUIRE(difference);
  CHECK_THAT(*difference, Catch::StartsWith("plexus-sdk-abi=1 where this Plexus has plexus-sdk-abi=5, "
                                            "stdlib=libstdc++-cxx11abi1 where this Plexus has "
                                            "stdlib=libstdc++, no cxx11-abi"));
}
