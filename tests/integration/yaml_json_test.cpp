// YAML values become JSON with YAML 1.2 typing: plain scalars are typed,
// quoted ones stay strings.
#include <cmath>

#include <catch2/catch.hpp>

#include "integration/yaml_json.hpp"

using plexus::Json;
using plexus::core::YamlConversionError;
using plexus::core::yamlToJson;

namespace {
Json convert(const std::string& yaml) { return yamlToJson(YAML::Load(yaml)); }
}  // namespace

TEST_CASE("Plain scalars are typed as YAML 1.2 reads them", "[yaml]") {
  auto [text, expected] = GENERATE(table<std::string, Json>({
      {"42", 42},
      {"-7", -7},
      {"+3", 3},
      {"0x1F", 31},
      {"0o17", 15},
      {"1.5", 1.5},
      {"-2.5e3", -2500.0},
      {".5", 0.5},
      {"true", true},
      {"False", false},
      {"~", nullptr},
      {"null", nullptr},
      {"", nullptr},
      {"yes", "yes"},
      {"on", "on"},
      {"1.2.3", "1.2.3"},
      {"12abc", "12abc"},
      {"renderId", "renderId"},
      {"18446744073709551615", std::uint64_t(18446744073709551615ull)},
      {"-9223372036854775808", std::int64_t(INT64_MIN)},
  }));
  CAPTURE(text);
  Json value = convert("v: " + text)["v"];
  CHECK(value == expected);
  CHECK(value.type() == expected.type());
}

TEST_CASE("Quoted and block scalars stay strings", "[yaml]") {
  CHECK(convert("v: \"415\"")["v"] == "415");
  CHECK(convert("v: 'true'")["v"] == "true");
  CHECK(convert("v: \"\"")["v"] == "");
  CHECK(convert("v: !!str 5")["v"] == "5");
  CHECK(convert("v: |\n  42\n")["v"] == "42\n");
}

TEST_CASE("Huge integers and special floats convert without errors", "[yaml]") {
  CHECK(convert("v: 123456789012345678901234567890")["v"].is_number_float());
  CHECK(std::isinf(convert("v: -.inf")["v"].get<double>()));
  CHECK(std::isnan(convert("v: .nan")["v"].get<double>()));
}

TEST_CASE("Maps and lists convert recursively", "[yaml]") {
  CHECK(convert("a: {b: [1, two, {c: null}]}") ==
        Json{{"a", {{"b", Json::array({1, "two", Json{{"c", nullptr}}})}}}});
}

TEST_CASE("Repeated and complex keys are refused with their position", "[yaml]") {
  try {
    convert("a: 1\nb: 2\na: 3\n");
    FAIL("no error");
  } catch (const YamlConversionError& error) {
    CHECK(std::string(error.what()) == "duplicate key 'a'");
    CHECK(error.mark.line == 2);
    CHECK(error.mark.column == 0);
  }
  CHECK_THROWS_WITH(convert("? [1, 2]\n: x\n"), "a key must be a single value, not a list");
}
