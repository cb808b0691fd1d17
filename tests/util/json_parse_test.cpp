// plexus::parseJson (sdk/include/plexus/json_parse.hpp): limits at the
// bound, errors that say where and what to change, and a value equal to
// what nlohmann's own parser builds.
#include <catch2/catch.hpp>

#include <string>

#include <plexus/json_parse.hpp>

using plexus::Json;
using plexus::JsonLimitError;
using plexus::JsonLimits;
using plexus::JsonParseError;

namespace {

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string nestedObjects(std::size_t depth) {
  std::string text;
  for (std::size_t i = 0; i < depth; ++i) text += "{\"a\":";
  text += "1";
  return text + std::string(depth, '}');
}

}  // namespace

TEST_CASE("parseJson builds the value nlohmann's parser builds", "[json_parse]") {
  const std::string text = R"({"a": [1, -2, 18446744073709551615, 2.5, "x\u00e9", null, true, false],
                              "b": {"c": {}, "d": []}, "a2": "dup", "a2": "last", "long": "a string past the sixteen of SSO"})";
  CHECK(plexus::parseJson(text) == Json::parse(text));
  CHECK(plexus::parseJson("42") == 42);
  CHECK(plexus::parseJson(" \"s\" ") == "s");
  CHECK(plexus::parseJson("[]") == Json::array());
}

TEST_CASE("parseJson accepts 512 levels and refuses 513, saying where and what to change", "[json_parse][limits]") {
  CHECK(plexus::parseJson(nested(512)).is_array());
  CHECK(plexus::parseJson(nestedObjects(512)).is_object());
  try {
    plexus::parseJson("  " + nested(513));
    FAIL("513 levels were accepted");
  } catch (const JsonLimitError& error) {
    CHECK(error.limit() == JsonLimitError::Limit::Depth);
    CHECK(error.bound() == 512);
    CHECK(error.offset() == 2 + 512);  // the 513th '['
    CHECK(std::string(error.what()) ==
          "JSON nested deeper than 512 levels of arrays and objects (at byte 514); flatten the data, "
          "or raise plexus::JsonLimits::maxDepth");
  }
  CHECK_THROWS_AS(plexus::parseJson(nestedObjects(513)), JsonLimitError);
}

TEST_CASE("parseJson refuses 100,000 levels without crashing, whatever the limit", "[json_parse][limits]") {
  CHECK_THROWS_AS(plexus::parseJson(nested(100000)), JsonLimitError);
  CHECK_THROWS_AS(plexus::inspectJson(nested(100000)), JsonLimitError);
  JsonLimits limits;
  limits.maxDepth = 8;
  limits.depthSetting = "--max-json-depth";
  CHECK_THROWS_WITH(plexus::parseJson(nested(9), limits), Catch::Contains("deeper than 8 levels") &&
                                                              Catch::EndsWith("raise --max-json-depth"));
}

TEST_CASE("a number that overflows a double is a parse error naming it", "[json_parse][errors]") {
  try {
    plexus::parseJson(R"({"n": 1e400})");
    FAIL("1e400 was accepted");
  } catch (const JsonLimitError&) {
    FAIL("1e400 is malformed, not beyond a limit");
  } catch (const JsonParseError& error) {
    CHECK(std::string(error.what()) ==
          "number at byte 11 overflows a 64-bit float: '1e400' (send a smaller number, or send it as a string)");
  }
  CHECK_THROWS_AS(plexus::parseJson("[-1e309]"), JsonParseError);
  CHECK(plexus::parseJson("1e308") == 1e308);
}

TEST_CASE("syntax errors keep nlohmann's line and column, without its exception tag", "[json_parse][errors]") {
  CHECK_THROWS_WITH(plexus::parseJson("{\n  \"a\": tru }"), Catch::StartsWith("parse error at line 2, column 11: "));
  CHECK_THROWS_AS(plexus::parseJson(""), JsonParseError);
  CHECK_THROWS_AS(plexus::parseJson("[1] x"), JsonParseError);
  CHECK_THROWS_AS(plexus::parseJson("\"\xff\""), JsonParseError);
}

TEST_CASE("the memory estimate follows the value's shape and a budget refuses it", "[json_parse][limits]") {
  std::string records = "[";
  for (int i = 0; i < 1000; ++i)
    records += std::string(i ? "," : "") + R"({"id":)" + std::to_string(i) + R"(,"name":"user)" +
               std::to_string(i) + R"(","tags":["a","b"],"active":true})";
  records += "]";
  plexus::JsonShape shape = plexus::inspectJson(records);
  CHECK(shape.depth == 3);
  // Arrays of small objects cost roughly 7-11 times their text: under the server's factor of 12.
  CHECK(shape.estimatedBytes > 6 * records.size());
  CHECK(shape.estimatedBytes < 12 * records.size());

  JsonLimits limits;
  limits.maxMemoryBytes = shape.estimatedBytes;
  CHECK(plexus::parseJson(records, limits) == Json::parse(records));
  limits.maxMemoryBytes = shape.estimatedBytes - 1;
  limits.memorySetting = "--json-memory-factor";
  try {
    plexus::parseJson(records, limits);
    FAIL("over the budget was accepted");
  } catch (const JsonLimitError& error) {
    CHECK(error.limit() == JsonLimitError::Limit::Memory);
    CHECK(error.bound() == shape.estimatedBytes - 1);
    CHECK(error.offset() > records.size() - 100);
    CHECK_THAT(error.what(), Catch::StartsWith("JSON value would take more than ") &&
                                 Catch::EndsWith("raise --json-memory-factor"));
  }
}

TEST_CASE("text that costs far more than its size, like arrays of empty strings, is estimated as such", "[json_parse][limits]") {
  std::string strings = "[";
  for (int i = 0; i < 10000; ++i) strings += i ? ",\"\"" : "\"\"";
  strings += "]";
  CHECK(plexus::inspectJson(strings).estimatedBytes > 16 * strings.size());
}

TEST_CASE("jsonDepth measures a built value without recursion", "[json_parse]") {
  CHECK(plexus::jsonDepth(Json(1)) == 0);
  CHECK(plexus::jsonDepth(Json::parse(R"({"a": [1, {"b": []}], "c": {}})")) == 4);
  Json deep = Json::array();
  for (int i = 1; i < 100000; ++i) {
    Json outer = Json::array();
    outer.push_back(std::move(deep));
    deep = std::move(outer);
  }
  CHECK(plexus::jsonDepth(deep) == 100000);
  CHECK(plexus::jsonDepth(deep, 512) == 513);
}

TEST_CASE("a parse error names the position but never echoes the input, which may hold a secret", "[json][limits]") {
  for (const std::string text : {R"({"key": "sk_live_4242424242", oops})", R"(["sk_live_4242424242)", R"({"sk_live_4242424242": tru})"}) {
    INFO(text);
    try {
      plexus::parseJson(text);
      FAIL("parsed");
    } catch (const plexus::JsonParseError& error) {
      CHECK_THAT(error.what(), Catch::StartsWith("parse error at line 1, column"));
      CHECK_THAT(error.what(), !Catch::Contains("4242") && !Catch::Contains("last read"));
    }
  }
}
