#include <catch2/catch.hpp>

#include "engine/config_values.hpp"

using namespace plexus::core;
using plexus::Json;

namespace {
IntegrationSpec integrationWithSecret() {
  IntegrationSpec spec;
  spec.key = "crm";
  spec.configVars = {{"region", plexus::InputType::String, Json("eu"), false, "", ""},
                     {"apiKey", plexus::InputType::Secret, std::nullopt, true, "", ""}};
  spec.instances = {{"acme", Json{{"apiKey", "s3cr3t-acme"}}, true}};
  return spec;
}
}  // namespace

TEST_CASE("effective config vars layer defaults, the file's values and API overrides", "[engine][config]") {
  IntegrationSpec spec = integrationWithSecret();
  InstanceRecord instance;
  instance.name = "acme";
  CHECK(effectiveConfigVars(spec, instance) == Json{{"region", "eu"}, {"apiKey", "s3cr3t-acme"}});
  instance.configVars = {{"region", "us"}};
  CHECK(effectiveConfigVars(spec, instance) == Json{{"region", "us"}, {"apiKey", "s3cr3t-acme"}});
}

TEST_CASE("secrets are masked in output and redacted from text", "[engine][config]") {
  IntegrationSpec spec = integrationWithSecret();
  Json values = {{"region", "eu"}, {"apiKey", "s3cr3t-acme"}};
  CHECK(maskSecrets(spec, values) == Json{{"region", "eu"}, {"apiKey", "********"}});
  auto secrets = secretValues(spec, values);
  REQUIRE(secrets == std::vector<std::string>{"s3cr3t-acme"});
  CHECK(redact("key s3cr3t-acme and s3cr3t-acme again", secrets) == "key ******** and ******** again");
}

TEST_CASE("a secret inside a longer secret does not leave the rest of the longer one showing", "[engine][config]") {
  CHECK(redact("token abcdef", {"abc", "abcdef"}) == "token ********");
}

// --- SecretRedactor: parts of secrets ---------------------------------------

namespace {
const std::string kSecret = "sk_live_51HqLyjWDarjtT1zdp7dcQ";  // 30 bytes: parts of 15 or more are masked.

/// True when `text` holds any 4-byte run of `secret`.
bool holdsAnyFourBytesOf(const std::string& text, const std::string& secret) {
  for (std::size_t i = 0; i + 4 <= secret.size(); ++i)
    if (text.find(secret.substr(i, 4)) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST_CASE("a part of a secret from half its length up is masked, wherever it starts", "[engine][config][redact]") {
  SecretRedactor redactor({kSecret});
  REQUIRE(SecretRedactor::fragmentLength(kSecret.size()) == 15);
  CHECK(redactor.redact("last read: '\"" + kSecret.substr(0, 15) + "'") == "last read: '\"********'");
  CHECK(redactor.redact("key ..." + kSecret.substr(10, 16) + "... end") == "key ...********... end");
  CHECK(redactor.redact("tail " + kSecret.substr(kSecret.size() - 15)) == "tail ********");
  // The whole secret, twice and run together, is one mask: the length does not show.
  CHECK(redactor.redact(kSecret + kSecret + " and " + kSecret) == "******** and ********");
}

TEST_CASE("a part shorter than half a secret is left: masking it would tell a caller which text is in the secret",
          "[engine][config][redact]") {
  SecretRedactor redactor({kSecret});
  std::string shortPart = kSecret.substr(0, 14);
  CHECK(redactor.redact("prefix " + shortPart + "!") == "prefix " + shortPart + "!");
  CHECK(redactor.redact("the live test") == "the live test");
}

TEST_CASE("short secrets are masked from 4 bytes, and secrets under 4 bytes only whole", "[engine][config][redact]") {
  CHECK(SecretRedactor::fragmentLength(3) == 3);
  CHECK(SecretRedactor::fragmentLength(6) == 4);
  CHECK(SecretRedactor::fragmentLength(9) == 5);
  CHECK(SecretRedactor::fragmentLength(1000) == 64);
  CHECK(redact("pin 123 and 12", {"123"}) == "pin ******** and 12");
  CHECK(redact("password hunt", {"hunter2"}) == "password ********");
}

TEST_CASE("a secret is masked JSON-escaped and percent-encoded too", "[engine][config][redact]") {
  std::string secret = "pa\"ss\\word/with spaces&more";
  SecretRedactor redactor({secret});
  CHECK(redactor.redact(R"({"password":"pa\"ss\\word/with spaces&more"})") == R"({"password":"********"})");
  CHECK(redactor.redact("GET /login?p=pa%22ss%5Cword%2Fwith%20spaces%26more HTTP/1.1") ==
        "GET /login?p=******** HTTP/1.1");
}

TEST_CASE("a mask never splits a UTF-8 character", "[engine][config][redact]") {
  std::string secret = "\xc3\xa9-secret-value-\xc3\xa9";  // "é-secret-value-é"
  SecretRedactor redactor({secret});
  // "©-secret-value-è": the bytes in common start inside "©" and end inside "è".
  std::string masked = redactor.redact("[\xc2\xa9-secret-value-\xc3\xa8]");
  CHECK(masked == "[********]");
  CHECK(Json(masked).dump() == "\"[********]\"");  // Still valid UTF-8.
}

TEST_CASE("several secrets are masked in one pass, and no secret is no cost", "[engine][config][redact]") {
  SecretRedactor redactor({"alpha-secret-one", "beta-secret-number-two"});
  CHECK(redactor.redact("a alpha-secret-one b beta-secret-number-two c") == "a ******** b ******** c");
  SecretRedactor none(std::vector<std::string>{});
  CHECK(none.empty());
  CHECK(none.redact("nothing to hide") == "nothing to hide");
}

TEST_CASE("what nlohmann's parse errors quote of a secret is masked", "[engine][config][redact]") {
  SecretRedactor redactor({kSecret});
  for (const std::string& text : {"{\"key\": \"" + kSecret + "\", oops}", "{\"key\": \"" + kSecret,
                                  "[\"" + kSecret + "\"" + " \"" + kSecret.substr(0, 20) + "\x01\"]"}) {
    std::string message;
    try {
      Json parsed = Json::parse(text);
      (void)parsed;
    } catch (const Json::parse_error& error) {
      message = error.what();
    }
    REQUIRE_FALSE(message.empty());
    INFO(redactor.redact(message));
    CHECK_FALSE(holdsAnyFourBytesOf(redactor.redact(message), kSecret));
  }
}
