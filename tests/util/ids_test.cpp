#include <catch2/catch.hpp>

#include <set>

#include "util/ids.hpp"

using plexus::core::randomId;

TEST_CASE("random ids are 128-bit, URL-safe and distinct", "[util][ids]") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = randomId();
    CHECK(id.size() == 22);
    CHECK(id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 1000);
  CHECK(randomId(32).size() == 43);
}
