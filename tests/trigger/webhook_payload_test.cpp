#include <catch2/catch.hpp>

#include "server/settings.hpp"
#include "trigger/webhook/webhook_payload.hpp"

using namespace plexus::core;
using plexus::Json;

TEST_CASE("JSON bodies are parsed, including +json types", "[server][payload]") {
  CHECK(parseWebhookBody(R"({"a":1})", "application/json").data == Json{{"a", 1}});
  CHECK(parseWebhookBody(R"([1])", "application/vnd.api+json; charset=utf-8").data == Json::array({1}));
}

TEST_CASE("malformed JSON is refused with 400 saying where", "[server][payload]") {
  try {
    parseWebhookBody(R"({"a":)", "application/json");
    FAIL("no error");
  } catch (const PayloadError& error) {
    CHECK(error.status() == 400);
    CHECK_THAT(error.what(), Catch::StartsWith("request body is not valid JSON: parse error at line 1, column 6"));
  }
}

TEST_CASE("a JSON number past a double is refused with 400 like other malformed JSON", "[server][payload]") {
  // Found by fuzz/webhook_body_fuzzer: nlohmann throws out_of_range, not parse_error, for it.
  for (const std::string& body : {R"({"n":1e400})", "-1e400", R"({"part":[1,2,3e999]})"}) {
    try {
      parseWebhookBody(body, "application/json");
      FAIL("no error for " + body);
    } catch (const PayloadError& error) {
      CHECK(error.status() == 400);
      CHECK_THAT(error.what(), Catch::StartsWith("request body is not valid JSON: number at byte") && Catch::Contains("overflows a 64-bit float"));
    }
  }
}

TEST_CASE("text, forms, binary and empty bodies get their documented shapes", "[server][payload]") {
  CHECK(parseWebhookBody("hello", "text/plain").data == "hello");
  CHECK(parseWebhookBody("a=1&b=x+y%21&c", "application/x-www-form-urlencoded").data ==
        Json{{"a", "1"}, {"b", "x y!"}, {"c", ""}});
  WebhookBody png = parseWebhookBody(std::string("\x89PNG\r\n\x00\x01", 8), "image/png");
  REQUIRE(png.data.is_binary());
  CHECK(plexus::asBinary(png.data).size() == 8);
  CHECK(plexus::asBinary(png.data).contentType() == "image/png");
  CHECK(plexus::asBinary(png.data).data() == png.raw.data());  // shared, not copied
  CHECK(parseWebhookBody("", "").data.is_null());
}

TEST_CASE("multipart parts are typed: JSON parsed, text strings, files binary, repeats arrays",
          "[server][payload]") {
  std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"person\"\r\nContent-Type: application/json\r\n\r\n"
      "{\"firstname\":\"Taylor\"}\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi there\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"t.png\"\r\nContent-Type: image/png\r\n\r\n"
      "\x89PNG\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"tag\"\r\n\r\na\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"tag\"\r\n\r\nb\r\n"
      "--XyZ--\r\n";
  Json data = parseWebhookBody(body, "multipart/form-data; boundary=XyZ").data;
  CHECK(data["person"]["data"] == Json{{"firstname", "Taylor"}});
  CHECK(data["person"]["contentType"] == "application/json");
  CHECK(data["note"]["data"] == "hi there");
  REQUIRE(data["photo"]["data"].is_binary());
  CHECK(plexus::asBinary(data["photo"]["data"]).view() == "\x89PNG");
  CHECK(data["photo"]["filename"] == "t.png");
  REQUIRE(data["tag"].is_array());
  CHECK(data["tag"][1]["data"] == "b");
}

TEST_CASE("malformed percent-encoding in a form body is refused with 400", "[server][payload]") {
  try {
    parseWebhookBody("a=%zz", "application/x-www-form-urlencoded");
    FAIL("no error");
  } catch (const PayloadError& error) {
    CHECK(error.status() == 400);
    CHECK_THAT(error.what(), Catch::StartsWith("malformed percent-encoding in 'a=%zz'") ||
                                 Catch::StartsWith("malformed percent-encoding in '%zz'"));
  }
}

TEST_CASE("malformed multipart is refused with 400", "[server][payload]") {
  CHECK_THROWS_MATCHES(parseWebhookBody("--a\r\n", "multipart/form-data"), PayloadError,
                       Catch::Matchers::Message("multipart/form-data body without a boundary parameter in Content-Type"));
  CHECK_THROWS_AS(parseWebhookBody("garbage without boundaries", "multipart/form-data; boundary=q"), PayloadError);
  CHECK_THROWS_AS(parseWebhookBody(
                      "--q\r\nContent-Disposition: form-data; name=\"p\"\r\nContent-Type: application/json\r\n\r\n{bad\r\n--q--\r\n",
                      "multipart/form-data; boundary=q"),
                  PayloadError);
}

TEST_CASE("the request limit is enforced while reading", "[server][payload]") {
  std::istringstream small("12345");
  CHECK(readLimited(small, 5) == "12345");
  std::istringstream big(std::string(100000, 'x'));
  try {
    readLimited(big, 1000);
    FAIL("no error");
  } catch (const PayloadError& error) {
    CHECK(error.status() == 413);
  }
}

TEST_CASE("multipart file parts are slices of the raw body, not copies", "[server][payload]") {
  std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.bin\"\r\nContent-Type: application/pdf\r\n\r\n"
      "%PDF-1.4 bytes\r\n--b--\r\n";
  plexus::Binary raw(body, "multipart/form-data; boundary=b");
  WebhookBody parsed = parseWebhookBody(raw, "multipart/form-data; boundary=b");
  const plexus::Binary& photo = plexus::asBinary(parsed.data["photo"]["data"]);
  CHECK(photo.view() == "%PDF-1.4 bytes");
  CHECK(photo.contentType() == "application/pdf");
  CHECK(photo.data() >= raw.data());
  CHECK(photo.data() + photo.size() <= raw.data() + raw.size());
}

TEST_CASE("a multipart body without its closing boundary is refused, naming the part", "[server][payload]") {
  std::string body = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue without end";
  CHECK_THROWS_MATCHES(parseWebhookBody(body, "multipart/form-data; boundary=b"), PayloadError,
                       Catch::Matchers::Message("malformed multipart/form-data body: part 1 is not closed by the boundary"));
}

TEST_CASE("body limits come from the settings and bound depth, memory and fields", "[server][payload][limits]") {
  ServerSettings settings = resolveSettings(
      {{"max-json-depth", "8"}, {"json-memory-factor", "3"}, {"max-form-fields", "2"}}, "");
  BodyLimits limits = bodyLimits(settings);
  CHECK(limits.maxJsonDepth == 8);
  CHECK(parseWebhookBody("[[[[[[[[1]]]]]]]]", "application/json", limits).data.is_array());
  auto statusOf = [&](const std::string& body, const std::string& type) {
    try {
      parseWebhookBody(body, type, limits);
    } catch (const PayloadError& error) {
      return error.status();
    }
    return 200;
  };
  CHECK(statusOf("[[[[[[[[[1]]]]]]]]]", "application/json") == 400);
  limits.jsonMemoryFloor = 0;  // so that a small body meets the factor
  CHECK(statusOf("[1,2,3,4,5,6,7,8]", "application/json") == 413);
  CHECK(statusOf("a=1&b=2", "application/x-www-form-urlencoded") == 200);
  CHECK(statusOf("a=1&b=2&c=3", "application/x-www-form-urlencoded") == 413);
  std::string part = "--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n";
  CHECK(statusOf(part + part + "--B--\r\n", "multipart/form-data; boundary=B") == 200);
  CHECK(statusOf(part + part + part + "--B--\r\n", "multipart/form-data; boundary=B") == 413);
  CHECK_THROWS_WITH(resolveSettings({{"max-json-depth", "0"}}, ""),
                    "max-json-depth (from --max-json-depth) must be a whole number from 1 to 8192, got '0'");
}

TEST_CASE("a deferred JSON body is checked at intake, kept as bytes, and parsed when resolved", "[server][payload][limits]") {
  BodyLimits limits;
  limits.deferJson = true;
  WebhookBody body = parseWebhookBody(R"({"a":[1,2]})", "application/json", limits);
  REQUIRE(body.data.is_binary());
  CHECK(plexus::asBinary(body.data).contentType() == kDeferredJsonType);
  CHECK(plexus::asBinary(body.data).view().data() == body.raw.view().data());  // no copy
  Json results = {{"body", {{"data", body.data}, {"contentType", "application/json"}}}};
  CHECK(deferredJsonSize(results) == 11);
  resolveDeferredJson(results, limits);
  CHECK(results["body"]["data"] == Json{{"a", {1, 2}}});
  CHECK(deferredJsonSize(results) == 0);
  resolveDeferredJson(results, limits);  // nothing left to do
  CHECK(results["body"]["data"] == Json{{"a", {1, 2}}});

  auto statusOf = [&](const std::string& text) {
    try {
      parseWebhookBody(text, "application/json", limits);
    } catch (const PayloadError& error) {
      return error.status();
    }
    return 200;
  };
  CHECK(statusOf(std::string(513, '[') + std::string(513, ']')) == 400);
  CHECK(statusOf(R"({"a":)") == 400);
  CHECK(statusOf("[1e400]") == 400);
}
