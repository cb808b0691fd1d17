// The webhook-handshake component: `challenge` answers a provider's URL
// verification request the way the provider documents it, and runs every
// other request (CONTRACT §8).
//   slack  POST {"type": "url_verification", "challenge": C}  -> 200 C
//   meta   GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C
//          -> 200 C when T is verifyToken, else 403
//   graph  any request with ?validationToken=C                -> 200 C
// With `secret`, Slack requests (the handshake too) must carry a valid
// x-slack-signature, and Meta's event POSTs a valid x-hub-signature-256, so
// one trigger both verifies the URL and authenticates the events.
#include <cmath>
#include <string>

#include <plexus/sdk.hpp>
#include <plexus_builtin/signatures.hpp>

namespace {

using plexus::Inputs;
using plexus::InputType;
using plexus::Json;
using plexus::StatusResult;
using plexus::TriggerContext;
using plexus::TriggerRefusal;
using plexus::TriggerResult;
using plexus::WebhookRequest;
using namespace plexus::builtin;

/// The longest challenge echoed back: providers send a few dozen bytes, and
/// an echo must not become a way to reflect large attacker-chosen text.
constexpr std::size_t kMaxChallengeBytes = 1024;

TriggerResult echo(const std::string& challenge) {
  if (challenge.size() > kMaxChallengeBytes)
    throw TriggerRefusal(400, "the challenge is longer than " + std::to_string(kMaxChallengeBytes) + " bytes");
  // nosniff: the echo is attacker-chosen text; a browser must not take it for HTML.
  return TriggerResult::reply(StatusResult{
      200, {{"content-type", "text/plain; charset=utf-8"}, {"x-content-type-options", "nosniff"}}, Json(challenge)});
}

/// The signing secret, "" when the integration does not give one. Given but
/// empty (a config variable left unset) is a configuration error: failing
/// open would run every forged request.
std::string secretFrom(const Inputs& inputs) {
  if (!inputs.all().contains("secret")) return "";
  if (!inputs.has("secret") || inputs.string("secret").empty())
    throw std::invalid_argument("input 'secret' is empty: set the config variable it comes from, or remove "
                                "the input to accept unsigned requests");
  return inputs.string("secret");
}

TriggerResult slack(const WebhookRequest& request, const Inputs& inputs, TriggerContext& context) {
  const std::string secret = secretFrom(inputs);
  if (!secret.empty()) checkSlackSignature(request, secret, 300, context.now());
  const Json& data = request.body.value("data", Json());
  if (data.is_object() && data.value("type", Json()) == "url_verification") {
    const Json challenge = data.value("challenge", Json());
    if (!challenge.is_string()) throw TriggerRefusal(400, "url_verification without a challenge string");
    return echo(challenge.get<std::string>());
  }
  return TriggerResult::run();
}

TriggerResult meta(const WebhookRequest& request, const Inputs& inputs, TriggerContext&) {
  if (request.method == "GET" && !request.query("hub.mode").empty()) {
    if (!inputs.has("verifyToken") || inputs.string("verifyToken").empty())
      throw std::invalid_argument("provider 'meta' needs input 'verifyToken': the token set in the app's "
                                  "webhook settings");
    if (request.query("hub.mode") != "subscribe")
      throw TriggerRefusal(400, "hub.mode must be subscribe");
    if (!sameSecret(request.query("hub.verify_token"), inputs.string("verifyToken")))
      throw TriggerRefusal(403, "hub.verify_token does not match");
    return echo(request.query("hub.challenge"));
  }
  const std::string secret = secretFrom(inputs);
  if (!secret.empty()) checkHubSignature(request, secret);
  return TriggerResult::run();
}

TriggerResult graph(const WebhookRequest& request, const Inputs&, TriggerContext&) {
  if (request.queryParameters.contains("validationToken")) return echo(request.query("validationToken"));
  return TriggerResult::run();
}

TriggerResult challenge(const WebhookRequest& request, const Inputs& inputs, TriggerContext& context) {
  const std::string provider = inputs.string("provider");
  if (provider == "slack") return slack(request, inputs, context);
  if (provider == "meta") return meta(request, inputs, context);
  if (provider == "graph") return graph(request, inputs, context);
  throw std::invalid_argument("input 'provider' must be slack, meta or graph, got '" + provider + "'");
}

plexus::TriggerSpec challengeTrigger() {
  return {"challenge",
          "URL verification",
          "Answers the provider's URL verification request and runs every other request",
          {{"provider", InputType::String, true, std::nullopt, "Provider", "slack, meta or graph"},
           {"verifyToken", InputType::Secret, false, std::nullopt, "Verify token",
            "meta: the verify token set in the app's webhook settings"},
           {"secret", InputType::Secret, false, std::nullopt, "Signing secret",
            "slack: the signing secret; meta: the app secret. Requests must then be signed"}},
          challenge};
}

}  // namespace

PLEXUS_COMPONENT(registrar) {
  registrar.add({"webhook-handshake", "1.0.0", "Answers webhook providers' URL verification requests", {},
                 {challengeTrigger()}});
}
