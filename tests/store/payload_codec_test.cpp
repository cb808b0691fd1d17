#include <catch2/catch.hpp>

#include <random>

#include "store/payload_codec.hpp"
#include "store/sqlite_store.hpp"
#include "temp_dir.hpp"

using namespace plexus::core;
using plexus::core::testing::countFiles;
using plexus::core::testing::TempDir;

namespace {

std::string randomBytes(std::size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(generator() & 0xff);
  return bytes;
}

NewExecution executionWith(const std::string& id, plexus::Json triggerResults) {
  NewExecution execution;
  execution.id = id;
  execution.integrationKey = "k";
  execution.instanceId = "i";
  execution.instanceName = "n";
  execution.trigger = "webhook";
  execution.triggerResults = std::move(triggerResults);
  execution.queuedAt = nowMs();
  return execution;
}

}  // namespace

TEST_CASE("plain JSON is stored as its own text", "[store][codec]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  plexus::Json value = {{"a", 1}, {"b", {true, nullptr, 2.5, "x"}}};
  std::string text = encodePayload(value, blobs);
  CHECK(text == R"({"a":1,"b":[true,null,2.5,"x"]})");
  CHECK(decodePayload(text, blobs) == value);
}

TEST_CASE("small binaries are stored inline and come back with their bytes and content type", "[store][codec]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  std::string bytes = randomBytes(1000, 1) + std::string("\0\xff", 2);
  plexus::Json value = {{"image", plexus::makeBinary(bytes, "image/png")},
                        {"list", {plexus::makeBinary("", "text/plain"), plexus::makeBinary("ab", "x/y")}}};
  std::string text = encodePayload(value, blobs);
  CHECK(text.find("\"base64\"") != std::string::npos);
  CHECK(countFiles(temp.path()) == 0);

  plexus::Json back = decodePayload(text, blobs);
  REQUIRE(back["image"].is_binary());
  CHECK(plexus::asBinary(back["image"]).view() == bytes);
  CHECK(plexus::asBinary(back["image"]).contentType() == "image/png");
  CHECK(plexus::asBinary(back["list"][0]).empty());
  CHECK(plexus::asBinary(back["list"][0]).contentType() == "text/plain");
  CHECK(plexus::asBinary(back["list"][1]) == plexus::Binary("ab", "x/y"));
  CHECK(back == value);
}

TEST_CASE("base64 round-trips every length remainder", "[store][codec]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  for (std::size_t size = 0; size < 8; ++size) {
    plexus::Json value = plexus::makeBinary(randomBytes(size, static_cast<unsigned>(size)), "a/b");
    CHECK(decodePayload(encodePayload(value, blobs), blobs) == value);
  }
}

TEST_CASE("large binaries go to a content-addressed file under blobs/", "[store][codec]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  std::string bytes = randomBytes(kInlineBinaryLimit, 7);  // exactly the limit: not inline
  plexus::Json value = {{"file", plexus::makeBinary(bytes, "application/pdf")}};
  std::string text = encodePayload(value, blobs);
  std::string hex = sha256Hex(bytes);
  CHECK(text.find("\"file\":\"" + hex.substr(0, 2) + "/" + hex + "\"") != std::string::npos);
  CHECK(text.size() < 300);
  CHECK(std::filesystem::file_size(temp.path() / hex.substr(0, 2) / hex) == bytes.size());

  plexus::Json back = decodePayload(text, blobs);
  CHECK(plexus::asBinary(back["file"]).view() == bytes);
  CHECK(plexus::asBinary(back["file"]).contentType() == "application/pdf");

  SECTION("the same bytes stored again share the file") {
    encodePayload(plexus::makeBinary(bytes, "other/type"), blobs);
    CHECK(countFiles(temp.path()) == 1);
  }
  SECTION("a missing blob file is reported with its path") {
    std::filesystem::remove(temp.path() / hex.substr(0, 2) / hex);
    CHECK_THROWS_AS(decodePayload(text, blobs), StoreError);
    CHECK_THROWS_WITH(decodePayload(text, blobs), Catch::Contains(hex) && Catch::Contains("cannot open"));
  }
  SECTION("a truncated blob file is reported") {
    std::filesystem::resize_file(temp.path() / hex.substr(0, 2) / hex, 10);
    CHECK_THROWS_WITH(decodePayload(text, blobs), Catch::Contains("changed or truncated"));
  }
}

TEST_CASE("a user's own \"$binary\" key round-trips unchanged", "[store][codec]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  // Looks exactly like a marker, but is user data.
  plexus::Json lookalike = {{"$binary", {{"contentType", "image/png"}, {"base64", "AAAA"}}}};
  plexus::Json value = {{"fake", lookalike},
                        {"$$double", "x"},
                        {"$", 1},
                        {"dollar$inside", 2},
                        {"nested", {{{"$binary", "in an array"}, {"$ref", "#/a"}}}},
                        {"real", plexus::makeBinary("bytes", "a/b")}};
  plexus::Json back = decodePayload(encodePayload(value, blobs), blobs);
  CHECK(back == value);
  CHECK(back["fake"].is_object());
  CHECK(back["fake"]["$binary"]["base64"] == "AAAA");
  CHECK(back["real"].is_binary());
}

TEST_CASE("a malformed stored payload is reported, not guessed at", "[store][codec]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  CHECK_THROWS_WITH(decodePayload("{not json", blobs), Catch::Contains("not valid JSON"));
  // Found by fuzz/payload_codec_fuzzer: nlohmann throws out_of_range, not parse_error, for it.
  CHECK_THROWS_WITH(decodePayload(R"({"n":1e400})", blobs), Catch::Contains("overflows a 64-bit float"));
  CHECK_THROWS_WITH(decodePayload(R"({"$binary":{"contentType":"a/b"}})", blobs),
                    Catch::Contains("lacks \"base64\" or a \"size\""));
  CHECK_THROWS_WITH(decodePayload(R"({"$binary":{"contentType":"a/b","base64":"A!=="}})", blobs),
                    Catch::Contains("malformed base64"));
  CHECK_THROWS_WITH(decodePayload(R"({"$binary":{"contentType":"a/b","size":3,"file":"../../etc/passwd"}})", blobs),
                    Catch::Contains("invalid blob file"));
}

TEST_CASE("invalid UTF-8 in a string is stored with replacement characters, not refused", "[store][codec]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  plexus::Json value = std::string("ok \xff end");
  CHECK(decodePayload(encodePayload(value, blobs), blobs) == "ok \xEF\xBF\xBD end");
}

TEST_CASE("binaries in trigger results and step results survive the store, small and large",
          "[store][codec][durability]") {
  TempDir temp;
  std::string large = randomBytes(1'500'000, 11);
  std::string small = randomBytes(300, 12);
  {
    auto store = SqliteStore::open(temp.str());
    store->createExecution(executionWith(
        "e1", {{"rawBody", {{"data", plexus::makeBinary(large, "image/png")}, {"contentType", "image/png"}}},
               {"thumb", plexus::makeBinary(small, "image/gif")}}));
    StoredResult data;
    data.data = plexus::makeBinary(large, "image/png");  // same bytes: same blob file
    store->recordStepFinished("e1", StepRecord{"copy", "json", "value", StepStatus::Succeeded, nowMs(), nowMs(), {}},
                              data);
    StoredResult status;
    status.isStatus = true;
    status.status.statusCode = 200;
    status.status.body = plexus::makeBinary(small, "image/gif");
    store->recordStepFinished("e1", StepRecord{"stop", "stop-execution", "stop", StepStatus::Succeeded, nowMs(),
                                               nowMs(), {}},
                              status);
  }
  CHECK(countFiles(temp.path() / "blobs") == 1);

  auto store = SqliteStore::open(temp.str());
  auto trigger = store->executionToRun("e1");
  REQUIRE(trigger);
  const auto& raw = plexus::asBinary(trigger->triggerResults["rawBody"]["data"]);
  CHECK(raw.size() == large.size());
  CHECK(raw.view() == large);
  CHECK(raw.contentType() == "image/png");
  CHECK(plexus::asBinary(trigger->triggerResults["thumb"]) == plexus::Binary(small, "image/gif"));

  auto copy = store->stepResult("e1", "copy");
  REQUIRE(copy);
  CHECK(plexus::asBinary(copy->data) == plexus::Binary(large, "image/png"));
  auto stop = store->stepResult("e1", "stop");
  REQUIRE(stop);
  REQUIRE(stop->status.body);
  CHECK(plexus::asBinary(*stop->status.body) == plexus::Binary(small, "image/gif"));
}

namespace {

/// [[[...]]] `depth` levels deep, built without recursion; `leaf` innermost.
plexus::Json nestedArrays(std::size_t depth, plexus::Json leaf = 1) {
  plexus::Json value = std::move(leaf);
  for (std::size_t i = 0; i < depth; ++i) {
    plexus::Json outer = plexus::Json::array();
    outer.push_back(std::move(value));
    value = std::move(outer);
  }
  return value;
}

}  // namespace

TEST_CASE("a value nested 100,000 levels deep is refused with a clear error, not a crash", "[store][codec][limits]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  const std::string expected = "nested deeper than " + std::to_string(kMaxPayloadDepth) + " levels";
  // Plain JSON, and with a binary leaf (the rewriting writer), and with an escaped key.
  CHECK_THROWS_WITH(encodePayload(nestedArrays(100000), blobs), Catch::Contains(expected));
  CHECK_THROWS_WITH(encodePayload(nestedArrays(100000, plexus::makeBinary("b", "a/b")), blobs),
                    Catch::Contains(expected));
  CHECK_THROWS_AS(encodePayload(plexus::Json{{"$k", nestedArrays(100000)}}, blobs), StoreError);
}

TEST_CASE("values up to the depth limit round-trip, binaries and escaped keys included", "[store][codec][limits]") {
#if defined(__SANITIZE_ADDRESS__)
  // nlohmann's dump() (used for plain subtrees) recurses once per level;
  // ASan's red zones make each frame several times larger, so 10,000 levels
  // overflow the main thread's 8 MiB stack only in that build. The normal
  // build checks the round trip at the limit.
  WARN("skipped under AddressSanitizer (stack frames too large for 10,000 recursive levels)");
  return;
#endif
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  plexus::Json plain = nestedArrays(kMaxPayloadDepth - 1);
  CHECK(decodePayload(encodePayload(plain, blobs), blobs) == plain);
  plexus::Json rich = plexus::Json{{"$key", nestedArrays(kMaxPayloadDepth - 3, plexus::makeBinary("deep", "x/y"))},
                                   {"tab\tkey", "v"},
                                   {"caf\xC3\xA9", 1}};
  std::string text = encodePayload(rich, blobs);
  CHECK(decodePayload(text, blobs) == rich);
  CHECK_THROWS_AS(encodePayload(nestedArrays(kMaxPayloadDepth + 1), blobs), StoreError);
}

TEST_CASE("a stored payload nested too deep is refused when read, not a crash", "[store][codec][limits]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_THROWS_WITH(decodePayload(deep, blobs), Catch::StartsWith("a stored payload is refused: JSON nested deeper than"));
  CHECK_THROWS_WITH(decodePayload("{\"$a\": 1e400}", blobs), Catch::Contains("not valid JSON") && Catch::Contains("1e400"));
}

TEST_CASE("the rewriting writer writes the text dump() writes, markers aside", "[store][codec]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  plexus::Json value = {{"$a", {1, 2.5, "x\"y\\z\n", nullptr, false}}, {"b", plexus::Json::object()},
                        {"c", plexus::Json::array()}, {"\x01", "ctl"}};
  CHECK(encodePayload(value, blobs) == R"({"\u0001":"ctl","$$a":[1,2.5,"x\"y\\z\n",null,false],"b":{},"c":[]})");
  CHECK(encodePayload(plexus::makeBinary("ab", "x/y"), blobs) ==
        R"({"$binary":{"contentType":"x/y","base64":"YWI="}})");
}
