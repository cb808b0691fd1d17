#include <catch2/catch.hpp>

#include "store/payload_codec.hpp"
#include "store/sqlite_store.hpp"
#include "temp_dir.hpp"

using namespace plexus::core;
using plexus::core::testing::countFiles;
using plexus::core::testing::TempDir;

namespace {

std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 31 + i / 977) & 0xff);
  return bytes;
}

/// Writes `bytes` in uneven chunks, the way a socket delivers them.
void writeInChunks(BlobWriter& writer, const std::string& bytes) {
  std::size_t chunk = 1;
  for (std::size_t at = 0; at < bytes.size(); chunk = chunk * 3 + 7) {
    std::size_t n = std::min(chunk % 70'000 + 1, bytes.size() - at);
    writer.write(bytes.data() + at, n);
    at += n;
  }
}

}  // namespace

TEST_CASE("a streamed large body lands in one blob file and comes back as a Binary", "[store][blob]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  std::string body = pattern(3 * 1024 * 1024 + 5);
  BlobWriter writer = store->blobs().writer();
  writeInChunks(writer, body);
  CHECK(writer.size() == body.size());
  CHECK(countFiles(temp.path() / "blobs" / "tmp") == 1);  // streaming into a temporary file

  plexus::Binary binary = writer.finish("video/mp4");
  CHECK(binary.contentType() == "video/mp4");
  CHECK(binary.view() == body);
  std::string hex = sha256Hex(body);
  CHECK(writer.fileName() == hex.substr(0, 2) + "/" + hex);
  CHECK(std::filesystem::file_size(temp.path() / "blobs" / writer.fileName()) == body.size());
  CHECK(countFiles(temp.path() / "blobs" / "tmp") == 0);

  SECTION("storing it in an execution reuses the streamed file") {
    NewExecution execution;
    execution.id = "e1";
    execution.integrationKey = "k";
    execution.instanceId = "i";
    execution.instanceName = "n";
    execution.trigger = "webhook";
    execution.triggerResults = {{"rawBody", {{"data", plexus::Json::binary(binary)}}}};
    store->createExecution(execution);
    CHECK(countFiles(temp.path() / "blobs") == 1);
    CHECK(plexus::asBinary(store->executionToRun("e1")->triggerResults["rawBody"]["data"]).view() == body);
  }
}

TEST_CASE("a small streamed body stays in memory and touches no file", "[store][blob]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), true);
  BlobWriter writer = blobs.writer();
  writer.write("{\"a\":", 5);
  writer.write("1}", 2);
  plexus::Binary binary = writer.finish("application/json");
  CHECK(binary == plexus::Binary("{\"a\":1}", "application/json"));
  CHECK(writer.fileName().empty());
  CHECK(countFiles(temp.path()) == 0);
  CHECK_THROWS_WITH(writer.finish("x/y"), Catch::Contains("finish called twice"));
}

TEST_CASE("an abandoned blob writer leaves no file behind", "[store][blob]") {
  TempDir temp;
  BlobDirectory blobs(temp.str(), false);
  {
    BlobWriter writer = blobs.writer();
    std::string part = pattern(kInlineBinaryLimit + 10);
    writer.write(part.data(), part.size());
    CHECK(countFiles(temp.path()) == 1);
  }  // e.g. the client disconnected, or the body went over the request limit
  CHECK(countFiles(temp.path()) == 0);
}

TEST_CASE("blob writes with full sync give the same result", "[store][blob]") {
  TempDir temp;
  SqliteStore::Options options;
  options.fullSync = true;
  auto store = SqliteStore::open(temp.str(), options);
  std::string body = pattern(200'000);
  BlobWriter writer = store->blobs().writer();
  writer.write(body.data(), body.size());
  CHECK(writer.finish("a/b").view() == body);
  CHECK(countFiles(temp.path() / "blobs") == 1);
}
