#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <thread>

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

TEST_CASE("time-ordered ids sort by creation time and stay unguessable", "[util][ids]") {
  using plexus::core::timeOrderedId;
  std::string earlier = timeOrderedId();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::string later = timeOrderedId();
  CHECK(earlier.size() == 24);
  CHECK(earlier.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
  CHECK(earlier < later);  // text order is time order
  CHECK(earlier[0] == '0');  // never '-', which command-line tools read as an option
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(timeOrderedId());
  CHECK(seen.size() == 1000);  // ids of the same millisecond differ by their random part
}
