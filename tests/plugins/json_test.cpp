// Tests for the json component, through <plexus/testing.hpp>.
#include <catch2/catch.hpp>

#include <plexus/testing.hpp>

using plexus::Json;
using plexus::testing::FakeContext;
using plexus::testing::Harness;

namespace {

Json invoke(const std::string& action, Json inputs) {
  Harness harness;
  FakeContext context;
  auto result = harness.invoke("json", action, std::move(inputs), context);
  REQUIRE_FALSE(result.isStatus());
  CHECK(context.logs.empty());
  return result.data();
}

const Json kOrder = Json::parse(R"({
  "a": {"b": [{"c": 1}, {"c": 2, "d": [10, 20, 30]}]},
  "dotted.key": "yes",
  "items": ["x", "y"]
})");

}  // namespace

TEST_CASE("json declares version 1.0.0 and documents every input", "[json]") {
  Harness harness;
  REQUIRE(harness.components().size() == 1);
  CHECK(harness.components().front().version == "1.0.0");
  CHECK_FALSE(harness.components().front().description.empty());
  for (const char* action : {"value", "select", "parse", "stringify"})
    for (const auto& input : harness.action("json", action).inputs) {
      CHECK_FALSE(input.label.empty());
      CHECK_FALSE(input.description.empty());
    }
}

TEST_CASE("json.value returns its input unchanged", "[json][value]") {
  CHECK(invoke("value", {{"value", {{"x", {1, 2}}}}}) == Json{{"x", {1, 2}}});
  CHECK(invoke("value", {{"value", "text"}}) == "text");
  CHECK(invoke("value", Json::object()).is_null());
}

TEST_CASE("json.value keeps binary binary, sharing the bytes", "[json][value]") {
  const Json image = plexus::makeBinary("\x89PNG", "image/png");
  const Json out = invoke("value", {{"value", image}});
  REQUIRE(out.is_binary());
  CHECK(plexus::asBinary(out).contentType() == "image/png");
  CHECK(plexus::asBinary(out).data() == plexus::asBinary(image).data());
}

TEST_CASE("json.select follows keys and indexes", "[json][select]") {
  using Row = std::tuple<std::string, Json>;
  auto [path, expected] = GENERATE(table<std::string, Json>({
      Row{"a.b[1].c", 2},
      Row{"a.b[1].d[2]", 30},
      Row{"a.b[0]", Json{{"c", 1}}},
      Row{"items.1", "y"},
      Row{"[\"dotted.key\"]", "yes"},
      Row{"['dotted.key']", "yes"},
      Row{"a[\"b\"][1].d[0]", 10},
  }));
  INFO("path " << path);
  CHECK(invoke("select", {{"value", kOrder}, {"path", path}}) == expected);
}

TEST_CASE("json.select starts with an index on an array value", "[json][select]") {
  CHECK(invoke("select", {{"value", {{{"name", "first"}}}}, {"path", "[0].name"}}) == "first");
}

TEST_CASE("json.select returns binary leaves as binary", "[json][select]") {
  const Json value = {{"file", plexus::makeBinary("%PDF", "application/pdf")}};
  const Json out = invoke("select", {{"value", value}, {"path", "file"}});
  REQUIRE(out.is_binary());
  CHECK(plexus::asBinary(out).contentType() == "application/pdf");
}

TEST_CASE("json.select names the path and the part that is missing", "[json][select][errors]") {
  Harness harness;
  FakeContext context;
  auto fails = [&](const std::string& path) {
    return harness.invoke("json", "select", {{"value", kOrder}, {"path", path}}, context);
  };
  CHECK_THROWS_WITH(fails("a.b[2]"), "path 'a.b[2]': index 2 out of range (array of 2)");
  CHECK_THROWS_WITH(fails("a.b[2].c"), "path 'a.b[2].c' failed at 'a.b[2]': index 2 out of range (array of 2)");
  CHECK_THROWS_WITH(fails("a.x.y"), "path 'a.x.y' failed at 'a.x': key 'x' not found (keys: b)");
  CHECK_THROWS_WITH(fails("a.b.c"), "path 'a.b.c': cannot read key 'c' of an array "
                                    "(use [0], [1]… to index an array)");
  CHECK_THROWS_WITH(fails("a[0]"), "path 'a[0]': cannot take index 0 of an object (only arrays have indexes)");
  CHECK_THROWS_WITH(fails("a.b[0].c.d"),
                    "path 'a.b[0].c.d': cannot read key 'd' of a number");
  CHECK_THROWS_WITH(fails("items.99999999999999999999999"),
                    "path 'items.99999999999999999999999': index 99999999999999999999999 out of range (array of 2)");
  CHECK_THROWS_WITH(fails("nope"), "path 'nope': key 'nope' not found (keys: a, dotted.key, items)");
}

TEST_CASE("json.select lists only the first ten keys of a large object", "[json][select][errors]") {
  Json wide = Json::object();
  for (char c = 'a'; c <= 'l'; ++c) wide[std::string(1, c)] = 1;
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("json", "select", {{"value", wide}, {"path", "z"}}, context),
                    "path 'z': key 'z' not found (keys: a, b, c, d, e, f, g, h, i, j, …)");
}

TEST_CASE("json.select refuses malformed paths with the position", "[json][select][errors]") {
  Harness harness;
  FakeContext context;
  const std::string hint = " (write keys separated by dots and array indexes as [0], e.g. a.b[2].c)";
  using Row = std::tuple<std::string, std::string>;
  auto [path, message] = GENERATE_COPY(table<std::string, std::string>({
      Row{"a..b", "invalid path 'a..b': empty key at character 3"},
      Row{".a", "invalid path '.a': a path cannot start with '.' at character 1"},
      Row{"a.", "invalid path 'a.': empty key at character 3"},
      Row{"a[x]", "invalid path 'a[x]': expected an index like [0] or a quoted key like [\"name\"] at character 3"},
      Row{"a[1", "invalid path 'a[1': unclosed '[' at character 2"},
      Row{"a[0]b", "invalid path 'a[0]b': expected '.' or '[' after ']' at character 5"},
      Row{"a[\"b]", "invalid path 'a[\"b]': unterminated quoted key at character 2"},
  }));
  INFO("path " << path);
  CHECK_THROWS_WITH(harness.invoke("json", "select", {{"value", kOrder}, {"path", path}}, context),
                    message + hint);
  CHECK_THROWS_WITH(harness.invoke("json", "select", {{"value", kOrder}, {"path", ""}}, context),
                    "input 'path' is empty: give a path like a.b[2].c");
}

TEST_CASE("json.parse turns text into a value", "[json][parse]") {
  CHECK(invoke("parse", {{"text", R"({"a": [1, 2.5, "x", null, true]})"}}) ==
        Json{{"a", {1, 2.5, "x", nullptr, true}}});
  CHECK(invoke("parse", {{"text", "42"}}) == 42);
}

TEST_CASE("json.parse reports the line and column of bad JSON", "[json][parse][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("json", "parse", {{"text", "{\n  \"a\": tru }"}}, context),
                    Catch::StartsWith("input 'text' is not valid JSON: parse error at line 2, column 11: "));
  CHECK_THROWS_WITH(harness.invoke("json", "parse", {{"text", ""}}, context),
                    Catch::StartsWith("input 'text' is not valid JSON: "));
  CHECK_THROWS_WITH(harness.invoke("json", "parse", {{"text", 5}}, context),
                    "input 'text' must be string, got a number");
}

TEST_CASE("json.stringify writes compact JSON text", "[json][stringify]") {
  CHECK(invoke("stringify", {{"value", {{"b", 1}, {"a", {true, nullptr}}}}}) == R"({"a":[true,null],"b":1})");
  CHECK(invoke("stringify", {{"value", "x"}}) == "\"x\"");
  CHECK(invoke("stringify", Json::object()) == "null");
}

TEST_CASE("json.stringify refuses binary data and says how to convert it", "[json][stringify][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(
      harness.invoke("json", "stringify", {{"value", {{"files", {1, plexus::makeBinary("x", "a/b")}}}}}, context),
      "input 'value' holds binary data at 'files[1]', which JSON text cannot hold: "
      "convert it with binary.toBase64 first");
  CHECK_THROWS_WITH(harness.invoke("json", "stringify", {{"value", plexus::makeBinary("x", "a/b")}}, context),
                    "input 'value' is binary data, which JSON text cannot hold: convert it with binary.toBase64 first");
}

TEST_CASE("json.stringify refuses strings that are not UTF-8", "[json][stringify][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("json", "stringify", {{"value", std::string("\xff\xfe")}}, context),
                    Catch::StartsWith("input 'value' cannot be written as JSON: invalid UTF-8 byte"));
}

TEST_CASE("json.parse refuses text nested deeper than 512 levels, even 100,000, as a failed step", "[json][parse][limits]") {
  Harness harness;
  FakeContext context;
  CHECK(invoke("parse", {{"text", std::string(512, '[') + std::string(512, ']')}}).is_array());
  for (std::size_t depth : {513, 100000}) {
    CHECK_THROWS_WITH(harness.invoke("json", "parse", {{"text", std::string(depth, '[') + std::string(depth, ']')}}, context),
                      "input 'text' is refused: JSON nested deeper than 512 levels of arrays and objects (at byte 512); "
                      "flatten the data, or raise json.parse's limit (the SDK's plexus::kDefaultMaxJsonDepth)");
  }
}

TEST_CASE("json.parse reports a number that overflows a double as invalid JSON", "[json][parse][errors]") {
  Harness harness;
  FakeContext context;
  CHECK_THROWS_WITH(harness.invoke("json", "parse", {{"text", R"({"n": 1e400})"}}, context),
                    "input 'text' is not valid JSON: number at byte 11 overflows a 64-bit float: '1e400' "
                    "(send a smaller number, or send it as a string)");
}
