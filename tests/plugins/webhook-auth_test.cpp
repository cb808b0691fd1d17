// Tests for the webhook-auth component, through <plexus/testing.hpp>. Every
// expected signature is computed outside the code under test: GitHub's and
// Slack's are the examples in their own documentation; Stripe's, Shopify's
// and the generic ones were computed with the openssl command line
// (`printf '%s' BODY | openssl dgst -sha256 -hmac SECRET`), as noted.
#include <catch2/catch.hpp>

#include <chrono>

#include <plexus/testing.hpp>

using plexus::Json;
using plexus::TriggerRefusal;
using plexus::testing::FakeTriggerContext;
using plexus::testing::Harness;
using plexus::testing::webhookRequest;

namespace {

std::chrono::system_clock::time_point unixSeconds(long long seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

/// The status of the TriggerRefusal `call` throws (0 when it runs).
template <typename Call>
int refusalStatus(Call call) {
  try {
    call();
  } catch (const TriggerRefusal& refusal) {
    return refusal.status();
  }
  return 0;
}

const char* kSlackBody =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
    "channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
    "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

}  // namespace

TEST_CASE("webhook-auth offers hmac, api-key and basic, every input documented", "[webhook-auth]") {
  Harness harness;
  REQUIRE(harness.components().size() == 1);
  CHECK(harness.components().front().actions.empty());
  for (const char* key : {"hmac", "api-key", "basic"}) {
    const auto& trigger = harness.trigger("webhook-auth", key);
    CHECK_FALSE(trigger.description.empty());
    for (const auto& input : trigger.inputs) {
      INFO(key << "." << input.key);
      CHECK_FALSE(input.label.empty());
      CHECK_FALSE(input.description.empty());
    }
  }
}

TEST_CASE("hmac github: GitHub's documented example runs; a changed body or secret is 401", "[webhook-auth]") {
  // docs.github.com, "Validating webhook deliveries": secret "It's a Secret to
  // Everybody", payload "Hello, World!".
  Harness harness;
  FakeTriggerContext context;
  const Json inputs = {{"preset", "github"}, {"secret", "It's a Secret to Everybody"}};
  auto request = webhookRequest(
      "POST", {{"X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}},
      "Hello, World!", "text/plain");
  CHECK(harness.invokeTrigger("webhook-auth", "hmac", request, inputs, context).runs());

  auto tampered = webhookRequest("POST", {{"x-hub-signature-256", request.header("x-hub-signature-256")}},
                                 "Hello, World?", "text/plain");
  CHECK(refusalStatus([&] { harness.invokeTrigger("webhook-auth", "hmac", tampered, inputs, context); }) == 401);
  Json otherSecret = inputs;
  otherSecret["secret"] = "another secret";
  CHECK(refusalStatus([&] { harness.invokeTrigger("webhook-auth", "hmac", request, otherSecret, context); }) == 401);
  auto unsigned_ = webhookRequest("POST", {}, "Hello, World!", "text/plain");
  try {
    harness.invokeTrigger("webhook-auth", "hmac", unsigned_, inputs, context);
    FAIL("an unsigned request ran");
  } catch (const TriggerRefusal& refusal) {
    CHECK(refusal.status() == 401);
    CHECK(std::string(refusal.what()) == "the request has no x-hub-signature-256 header");
  }
}

TEST_CASE("hmac slack: Slack's documented example runs within the tolerance, and not after", "[webhook-auth]") {
  // api.slack.com, "Verifying requests from Slack".
  Harness harness;
  FakeTriggerContext context;
  const Json inputs = {{"preset", "slack"}, {"secret", "8f742231b10e8888abcd99yyyzzz85a5"}};
  auto request = webhookRequest(
      "POST",
      {{"X-Slack-Request-Timestamp", "1531420618"},
       {"X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"}},
      kSlackBody, "application/x-www-form-urlencoded");
  context.time = unixSeconds(1531420618 + 299);
  CHECK(harness.invokeTrigger("webhook-auth", "hmac", request, inputs, context).runs());
  context.time = unixSeconds(1531420618 + 301);
  CHECK(refusalStatus([&] { harness.invokeTrigger("webhook-auth", "hmac", request, inputs, context); }) == 401);
  context.time = unixSeconds(1531420618 - 301);  // from the future: a replay trick, or a wrong clock
  CHECK(refusalStatus([&] { harness.invokeTrigger("webhook-auth", "hmac", request, inputs, context); }) == 401);
  Json wider = inputs;
  wider["toleranceSeconds"] = 600;
  context.time = unixSeconds(1531420618 + 500);
  CHECK(harness.invokeTrigger("webhook-auth", "hmac", request, wider, context).runs());

  // The timestamp is signed too: changing it breaks the signature.
  auto moved = request;
  moved.headers["x-slack-request-timestamp"] = "1531420619";
  context.time = unixSeconds(1531420619);
  CHECK(refusalStatus([&] { harness.invokeTrigger("webhook-auth", "hmac", moved, inputs, context); }) == 401);
}

TEST_CASE("hmac stripe: t=,v1= over t.body; any v1 may match; old timestamps are refused", "[webhook-auth]") {
  // printf '%s' '1700000000.{"id":"evt_1","type":"charge.succeeded"}' | openssl dgst -sha256 -hmac whsec_test_secret
  const std::string good = "c0475716eb2200f1fe97fcf35a3c05d1fd4f8ba9a07a596730c8d18bb87c0672";
  const std::string body = R"({"id":"evt_1","type":"charge.succeeded"})";
  Harness harness;
  FakeTriggerContext context;
  context.time = unixSeconds(1700000000 + 10);
  const Json inputs = {{"preset", "stripe"}, {"secret", "whsec_test_secret"}};
  auto signedWith = [&](const std::string& header) {
    return webhookRequest("POST", {{"Stripe-Signature", header}}, body, "application/json");
  };
  CHECK(harness.invokeTrigger("webhook-auth", "hmac", signedWith("t=1700000000,v1=" + good), inputs, context).runs());
  CHECK(harness
            .invokeTrigger("webhook-auth", "hmac",
                           signedWith("t=1700000000,v1=" + std::string(64, '0') + ",v1=" + good + ",v0=abc"), inputs,
                           context)
            .runs());
  CHECK(refusalStatus([&] {
          harness.invokeTrigger("webhook-auth", "hmac", signedWith("t=1700000001,v1=" + good), inputs, context);
        }) == 401);
  CHECK(refusalStatus([&] { harness.invokeTrigger("webhook-auth", "hmac", signedWith("v1=" + good), inputs, context); }) ==
        401);
  context.time = unixSeconds(1700000000 + 301);
  CHECK(refusalStatus([&] {
          harness.invokeTrigger("webhook-auth", "hmac", signedWith("t=1700000000,v1=" + good), inputs, context);
        }) == 401);
}

TEST_CASE("hmac shopify: base64 of HMAC-SHA256 in x-shopify-hmac-sha256", "[webhook-auth]") {
  // printf '%s' '{"id":1,"topic":"orders/create"}' | openssl dgst -sha256 -hmac shpss_secret -binary | base64
  Harness harness;
  FakeTriggerContext context;
  const Json inputs = {{"preset", "shopify"}, {"secret", "shpss_secret"}};
  auto request = webhookRequest("POST", {{"X-Shopify-Hmac-Sha256", "7CJMkwk95NxCIZ/lDNFtYTXok569L4I5Jub461+LJGU="}},
                                R"({"id":1,"topic":"orders/create"})", "application/json");
  CHECK(harness.invokeTrigger("webhook-auth", "hmac", request, inputs, context).runs());
  // base64 is case-sensitive: a lower-cased signature is another signature.
  request.headers["x-shopify-hmac-sha256"] = "7cjmkwk95nxciz/ldnftytxok569l4i5jub461+ljgu=";
  CHECK(refusalStatus([&] { harness.invokeTrigger("webhook-auth", "hmac", request, inputs, context); }) == 401);
}

TEST_CASE("hmac generic: header, algorithm, encoding and prefix", "[webhook-auth]") {
  Harness harness;
  FakeTriggerContext context;
  // printf '%s' 'payload bytes' | openssl dgst -sha512 -hmac generic-secret -binary | base64 -w0
  const Json sha512 = {{"preset", "generic"},  {"secret", "generic-secret"}, {"header", "X-Signature"},
                       {"algorithm", "sha512"}, {"encoding", "base64"},       {"prefix", "sha512="}};
  auto request = webhookRequest(
      "POST",
      {{"x-signature",
        "sha512=ZDKJx0YRqP4WGEL2kAX2gPLoP9Tp4H7WaoJQut0YRugJshVCQWEUHlCrSXRNa/9wYuP+uy1MmFTvQoddQmEkKw=="}},
      "payload bytes", "application/octet-stream");
  CHECK(harness.invokeTrigger("webhook-auth", "hmac", request, sha512, context).runs());
  // printf '%s' 'payload bytes' | openssl dgst -sha1 -hmac generic-secret (sent in capitals)
  const Json sha1 = {{"preset", "generic"}, {"secret", "generic-secret"}, {"header", "x-sig"}, {"algorithm", "sha1"}};
  auto upper = webhookRequest("POST", {{"x-sig", "1463B95FBF43EE1C62B8D443F691F78CF0F6232E"}}, "payload bytes",
                              "application/octet-stream");
  CHECK(harness.invokeTrigger("webhook-auth", "hmac", upper, sha1, context).runs());

  // Configuration mistakes are the integration's, not the caller's: not a refusal.
  Json noHeader = sha1;
  noHeader.erase("header");
  CHECK_THROWS_WITH(harness.invokeTrigger("webhook-auth", "hmac", upper, noHeader, context),
                    Catch::Contains("preset 'generic' needs input 'header'"));
  Json badAlgorithm = sha1;
  badAlgorithm["algorithm"] = "md5";
  CHECK_THROWS_WITH(harness.invokeTrigger("webhook-auth", "hmac", upper, badAlgorithm, context),
                    Catch::Contains("sha1, sha256 or sha512"));
  Json badPreset = sha1;
  badPreset["preset"] = "gitlab";
  CHECK_THROWS_WITH(harness.invokeTrigger("webhook-auth", "hmac", upper, badPreset, context),
                    Catch::Contains("github, stripe, slack, shopify or generic"));
}

TEST_CASE("api-key: the key in x-api-key, or Bearer in authorization", "[webhook-auth]") {
  Harness harness;
  FakeTriggerContext context;
  auto withHeader = [](const std::string& name, const std::string& value) {
    return webhookRequest("POST", {{name, value}}, "{}", "application/json");
  };
  const Json inputs = {{"value", "k-123"}};
  CHECK(harness.invokeTrigger("webhook-auth", "api-key", withHeader("X-Api-Key", "k-123"), inputs, context).runs());
  CHECK(refusalStatus([&] {
          harness.invokeTrigger("webhook-auth", "api-key", withHeader("x-api-key", "k-124"), inputs, context);
        }) == 401);
  CHECK(refusalStatus([&] {
          harness.invokeTrigger("webhook-auth", "api-key", withHeader("x-api-key", "k-1234"), inputs, context);
        }) == 401);
  CHECK(refusalStatus([&] { harness.invokeTrigger("webhook-auth", "api-key", withHeader("x-other", "k-123"), inputs, context); }) ==
        401);
  const Json bearer = {{"value", "k-123"}, {"header", "Authorization"}};
  CHECK(harness.invokeTrigger("webhook-auth", "api-key", withHeader("Authorization", "Bearer k-123"), bearer, context)
            .runs());
  CHECK(refusalStatus([&] {
          harness.invokeTrigger("webhook-auth", "api-key", withHeader("Authorization", "Bearer k-999"), bearer, context);
        }) == 401);
}

TEST_CASE("basic: right credentials run; wrong or missing ones are 401 with WWW-Authenticate", "[webhook-auth]") {
  Harness harness;
  FakeTriggerContext context;
  const Json inputs = {{"username", "Aladdin"}, {"password", "open sesame"}};
  // RFC 7617 §2's example: Aladdin / open sesame.
  auto request = webhookRequest("POST", {{"Authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}});
  CHECK(harness.invokeTrigger("webhook-auth", "basic", request, inputs, context).runs());
  // A wrong password; not base64; base64 with trailing junk (Poco's decoder
  // alone would skip it); another scheme; nothing.
  for (const char* header : {"Basic QWxhZGRpbjpvcGVuIHNlc2FtZg==", "Basic !!!", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==$$$$",
                             "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ", "Bearer x", ""}) {
    INFO(header);
    auto wrong = webhookRequest("POST", {{"Authorization", header}});
    try {
      harness.invokeTrigger("webhook-auth", "basic", wrong, inputs, context);
      FAIL("ran");
    } catch (const TriggerRefusal& refusal) {
      CHECK(refusal.status() == 401);
      CHECK(refusal.headers().at("WWW-Authenticate").rfind("Basic", 0) == 0);
    }
  }
  // An empty password (a config variable left unset) is a configuration
  // error, never "anyone with the user name".
  auto noPassword = webhookRequest("POST", {{"Authorization", "Basic QWxhZGRpbjo="}});  // "Aladdin:"
  CHECK_THROWS_AS(harness.invokeTrigger("webhook-auth", "basic", noPassword, {{"username", "Aladdin"}, {"password", ""}},
                                        context),
                  std::invalid_argument);
}
