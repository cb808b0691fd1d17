#include <catch2/catch.hpp>

#include <filesystem>
#include <random>
#include <sstream>

#include "server/request_body.hpp"
#include "trigger/webhook/webhook_payload.hpp"

using namespace plexus::core;

namespace {
std::string randomBytes(std::size_t size) {
  std::mt19937 random(42);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}
}  // namespace

TEST_CASE("small request bodies stay in memory", "[server][body]") {
  std::istringstream in("{\"a\":1}");
  plexus::Binary body = readRequestBody(in, 1000, "/nonexistent-spool", "application/json");
  CHECK(body.view() == "{\"a\":1}");
  CHECK(body.contentType() == "application/json");
}

TEST_CASE("large request bodies are spooled to an unnamed file and mapped, byte for byte", "[server][body]") {
  std::string spool = std::filesystem::temp_directory_path().string();
  std::string bytes = randomBytes(3 * 1024 * 1024 + 17);
  std::istringstream in(bytes);
  plexus::Binary body = readRequestBody(in, 10 * 1024 * 1024, spool, "image/png");
  CHECK(body.size() == bytes.size());
  CHECK(body.view() == bytes);
  CHECK(body.contentType() == "image/png");
}

TEST_CASE("a body over the limit is refused with 413 before the rest is read", "[server][body]") {
  std::string bytes(5 * 1024 * 1024, 'x');
  std::istringstream in(bytes);
  try {
    readRequestBody(in, 1024 * 1024, std::filesystem::temp_directory_path().string(), "text/plain");
    FAIL("no error");
  } catch (const PayloadError& error) {
    CHECK(error.status() == 413);
    CHECK(error.what() == std::string("request body is larger than the limit of 1048576 bytes (the server's --max-request-bytes)"));
  }
  CHECK(in.tellg() < static_cast<std::streamoff>(bytes.size()));  // Stopped early.
}

TEST_CASE("a spool folder that does not exist is a clear error", "[server][body]") {
  std::istringstream in(std::string(200 * 1024, 'x'));
  CHECK_THROWS_WITH(readRequestBody(in, 1 << 30, "/nonexistent-spool", "text/plain"),
                    Catch::StartsWith("cannot create a spool file in '/nonexistent-spool'"));
}
