// Tests for the binary component, through <plexus/testing.hpp>.
#include <catch2/catch.hpp>

#include <plexus/testing.hpp>

using plexus::Json;
using plexus::testing::FakeContext;
using plexus::testing::Harness;

namespace {

Json invoke(const std::string& action, Json inputs) {
  Harness harness;
  FakeContext context;
  auto result = harness.invoke("binary", action, std::move(inputs), context);
  REQUIRE_FALSE(result.isStatus());
  CHECK(context.logs.empty());
  return result.data();
}

std::string invokeError(const std::string& action, Json inputs) {
  Harness harness;
  FakeContext context;
  try {
    harness.invoke("binary", action, std::move(inputs), context);
  } catch (const std::exception& e) {
    return e.what();
  }
  FAIL("binary." << action << " did not fail");
  return "";
}

}  // namespace

TEST_CASE("binary declares version 1.0.0 and documents every input", "[binary]") {
  Harness harness;
  REQUIRE(harness.components().size() == 1);
  CHECK(harness.components().front().key == "binary");
  CHECK(harness.components().front().version == "1.0.0");
  for (const char* action : {"info", "fromBase64", "toBase64"})
    for (const auto& input : harness.action("binary", action).inputs) {
      CHECK_FALSE(input.label.empty());
      CHECK_FALSE(input.description.empty());
    }
}

TEST_CASE("binary.info gives content type, size and SHA-256 in hex", "[binary][info]") {
  const Json info = invoke("info", {{"data", plexus::makeBinary("abc", "image/png")}});
  CHECK(info == Json{{"contentType", "image/png"},
                     {"size", 3},
                     {"sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}});
}

TEST_CASE("binary.info hashes empty data and takes a string as text/plain", "[binary][info]") {
  CHECK(invoke("info", {{"data", plexus::makeBinary("", "application/octet-stream")}})["sha256"] ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const Json info = invoke("info", {{"data", "abc"}});
  CHECK(info["contentType"] == "text/plain");
  CHECK(info["size"] == 3);
}

TEST_CASE("binary.info refuses data that is not binary or text", "[binary][info][errors]") {
  CHECK(invokeError("info", {{"data", 5}}) == "input 'data' must be binary, got a number");
  CHECK(invokeError("info", Json::object()) == "input 'data' is required");
}

TEST_CASE("binary.fromBase64 decodes with the given content type", "[binary][fromBase64]") {
  const Json out = invoke("fromBase64", {{"text", "aGVsbG8="}, {"contentType", "text/plain; charset=utf-8"}});
  REQUIRE(out.is_binary());
  CHECK(std::string(plexus::asBinary(out).view()) == "hello");
  CHECK(plexus::asBinary(out).contentType() == "text/plain; charset=utf-8");
}

TEST_CASE("binary.fromBase64 defaults to application/octet-stream", "[binary][fromBase64]") {
  const Json out = invoke("fromBase64", {{"text", ""}});
  REQUIRE(out.is_binary());
  CHECK(plexus::asBinary(out).empty());
  CHECK(plexus::asBinary(out).contentType() == "application/octet-stream");
}

TEST_CASE("binary.fromBase64 accepts unpadded, URL-safe and line-wrapped text", "[binary][fromBase64]") {
  using Row = std::tuple<std::string, std::string>;
  auto [text, bytes] = GENERATE(table<std::string, std::string>({
      Row{"aGVsbG8", "hello"},
      Row{"aGVs\r\nbG8=\n", "hello"},
      Row{"-_8", "\xfb\xff"},
      Row{"+/8=", "\xfb\xff"},
      Row{"YQ==", "a"},
  }));
  INFO("text " << text);
  CHECK(std::string(plexus::asBinary(invoke("fromBase64", {{"text", text}})).view()) == bytes);
}

TEST_CASE("binary.fromBase64 refuses text that is not base64, saying where", "[binary][fromBase64][errors]") {
  using Row = std::tuple<std::string, std::string>;
  auto [text, message] = GENERATE(table<std::string, std::string>({
      Row{"aGV$bG8=", "unexpected character '$' at character 4"},
      Row{"aGVsbG8=junk", "'j' after the '=' padding at character 9"},
      Row{"+-==", "mixes the standard (+/) and URL-safe (-_) alphabets at character 2"},
      Row{"a", "its length (1 characters and 0 '=') is not that of encoded data; is it cut short?"},
      Row{"aGVsbG8==", "its length (7 characters and 2 '=') is not that of encoded data; is it cut short?"},
  }));
  INFO("text " << text);
  CHECK(invokeError("fromBase64", {{"text", text}}) == "input 'text' is not valid base64: " + message);
}

TEST_CASE("binary.fromBase64 refuses a content type that is not a MIME type", "[binary][fromBase64][errors]") {
  CHECK(invokeError("fromBase64", {{"text", "YQ=="}, {"contentType", "png"}}) ==
        "input 'contentType' must be a MIME type like image/png, got 'png'");
  CHECK(invokeError("fromBase64", {{"text", "YQ=="}, {"contentType", "text/plain\r\nX-Evil: 1"}}) ==
        "input 'contentType' must not contain line breaks");
}

TEST_CASE("binary.toBase64 encodes on one line, round-tripping with fromBase64", "[binary][toBase64]") {
  std::string bytes;
  for (int i = 0; i < 300; ++i) bytes.push_back(static_cast<char>(i % 256));
  const Json text = invoke("toBase64", {{"data", plexus::makeBinary(bytes, "application/octet-stream")}});
  REQUIRE(text.is_string());
  CHECK(text.get<std::string>().find('\n') == std::string::npos);  // Poco wraps at 72 by default
  CHECK(text.get<std::string>().size() == 400);
  CHECK(std::string(plexus::asBinary(invoke("fromBase64", {{"text", text}})).view()) == bytes);
  CHECK(invoke("toBase64", {{"data", "hello"}}) == "aGVsbG8=");
}

TEST_CASE("binary.toBase64 refuses data that is not binary", "[binary][toBase64][errors]") {
  CHECK(invokeError("toBase64", {{"data", {{"a", 1}}}}) == "input 'data' must be binary, got an object");
}
