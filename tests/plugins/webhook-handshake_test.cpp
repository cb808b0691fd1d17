// Tests for the webhook-handshake component, through <plexus/testing.hpp>,
// with the verification requests as each provider documents them.
#include <catch2/catch.hpp>

#include <plexus/testing.hpp>

using plexus::Json;
using plexus::TriggerRefusal;
using plexus::testing::FakeTriggerContext;
using plexus::testing::Harness;
using plexus::testing::webhookRequest;

namespace {

/// The reply's body as text, checking it is a 200 text/plain reply.
std::string echoed(const plexus::TriggerResult& result) {
  REQUIRE_FALSE(result.runs());
  REQUIRE(result.immediateReply());
  CHECK(result.immediateReply()->statusCode == 200);
  CHECK(result.immediateReply()->headers.at("content-type").rfind("text/plain", 0) == 0);
  CHECK(result.immediateReply()->headers.at("x-content-type-options") == "nosniff");
  return result.immediateReply()->body->get<std::string>();
}

}  // namespace

TEST_CASE("challenge is documented", "[webhook-handshake]") {
  Harness harness;
  const auto& trigger = harness.trigger("webhook-handshake", "challenge");
  for (const auto& input : trigger.inputs) {
    CHECK_FALSE(input.label.empty());
    CHECK_FALSE(input.description.empty());
  }
}

TEST_CASE("slack: url_verification is answered with its challenge; events run", "[webhook-handshake]") {
  // api.slack.com/events/url_verification
  Harness harness;
  FakeTriggerContext context;
  auto verification = webhookRequest(
      "POST", {},
      R"({"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"})",
      "application/json");
  CHECK(echoed(harness.invokeTrigger("webhook-handshake", "challenge", verification, {{"provider", "slack"}}, context)) ==
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
  auto event = webhookRequest("POST", {}, R"({"type":"event_callback","event":{"type":"app_mention"}})",
                              "application/json");
  CHECK(harness.invokeTrigger("webhook-handshake", "challenge", event, {{"provider", "slack"}}, context).runs());
}

TEST_CASE("slack with a signing secret: unsigned handshakes and events are refused", "[webhook-handshake]") {
  Harness harness;
  FakeTriggerContext context;
  auto unsigned_ = webhookRequest("POST", {}, R"({"type":"url_verification","challenge":"c"})", "application/json");
  const Json inputs = {{"provider", "slack"}, {"secret", "8f742231b10e8888abcd99yyyzzz85a5"}};
  CHECK_THROWS_AS(harness.invokeTrigger("webhook-handshake", "challenge", unsigned_, inputs, context), TriggerRefusal);
  // A secret given but empty (its config variable unset) fails closed: a
  // configuration error, not "accept unsigned requests".
  for (const Json& empty : {Json(""), Json()}) {
    Json unset = inputs;
    unset["secret"] = empty;
    CHECK_THROWS_AS(harness.invokeTrigger("webhook-handshake", "challenge", unsigned_, unset, context),
                    std::invalid_argument);
  }
}

TEST_CASE("meta: hub.challenge is echoed only with the right verify token", "[webhook-handshake]") {
  // developers.facebook.com/docs/graph-api/webhooks/getting-started
  Harness harness;
  FakeTriggerContext context;
  const Json inputs = {{"provider", "meta"}, {"verifyToken", "meatyhamhock"}};
  auto verify = [](const std::string& token) {
    return webhookRequest("GET", {}, "", "",
                          {{"hub.mode", "subscribe"}, {"hub.challenge", "1158201444"}, {"hub.verify_token", token}});
  };
  CHECK(echoed(harness.invokeTrigger("webhook-handshake", "challenge", verify("meatyhamhock"), inputs, context)) ==
        "1158201444");
  try {
    harness.invokeTrigger("webhook-handshake", "challenge", verify("wrong"), inputs, context);
    FAIL("a wrong verify token was answered");
  } catch (const TriggerRefusal& refusal) {
    CHECK(refusal.status() == 403);
  }
  auto event = webhookRequest("POST", {}, R"({"object":"page","entry":[]})", "application/json");
  CHECK(harness.invokeTrigger("webhook-handshake", "challenge", event, inputs, context).runs());
  // With the app secret, events must carry x-hub-signature-256.
  Json signedInputs = inputs;
  signedInputs["secret"] = "app-secret";
  CHECK_THROWS_AS(harness.invokeTrigger("webhook-handshake", "challenge", event, signedInputs, context), TriggerRefusal);
  // printf '%s' '{"object":"page","entry":[]}' | openssl dgst -sha256 -hmac app-secret
  event.headers["x-hub-signature-256"] = "sha256=e6e9d7a842a48e17f43a34d6125d0d933e2aab92ee37f0993a4d493b50e3d438";
  CHECK(harness.invokeTrigger("webhook-handshake", "challenge", event, signedInputs, context).runs());
}

TEST_CASE("graph: validationToken is echoed as text; notifications run", "[webhook-handshake]") {
  // learn.microsoft.com/graph/change-notifications-delivery-webhooks: "POST
  // https://{notificationUrl}?validationToken={opaqueTokenCreatedByMicrosoftGraph}"
  Harness harness;
  FakeTriggerContext context;
  auto validation = webhookRequest("POST", {}, "", "", {{"validationToken", "Validation: Testing client application"}});
  CHECK(echoed(harness.invokeTrigger("webhook-handshake", "challenge", validation, {{"provider", "graph"}}, context)) ==
        "Validation: Testing client application");
  auto notification = webhookRequest("POST", {}, R"({"value":[{"changeType":"created"}]})", "application/json");
  CHECK(harness.invokeTrigger("webhook-handshake", "challenge", notification, {{"provider", "graph"}}, context).runs());
  auto tooLong = webhookRequest("POST", {}, "", "", {{"validationToken", std::string(2000, 'x')}});
  CHECK_THROWS_AS(harness.invokeTrigger("webhook-handshake", "challenge", tooLong, {{"provider", "graph"}}, context),
                  TriggerRefusal);
}
