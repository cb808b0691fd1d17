// The webhook-auth component: triggers that run a webhook request only when
// it proves who sent it (CONTRACT §8).
//   hmac     a signature over the raw body (presets github, stripe, slack,
//            shopify, generic)
//   api-key  a shared key in a header
//   basic    HTTP Basic credentials
// Every comparison of a secret-derived value is constant-time; refusals say
// what is missing or wrong, never a secret or the expected value.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include <Poco/Base64Decoder.h>
#include <Poco/Exception.h>

#include <plexus/sdk.hpp>
#include <plexus_builtin/signatures.hpp>

namespace {

using plexus::Inputs;
using plexus::InputType;
using plexus::Json;
using plexus::TriggerContext;
using plexus::TriggerRefusal;
using plexus::TriggerResult;
using plexus::WebhookRequest;
using namespace plexus::builtin;

long long toleranceFrom(const Inputs& inputs) {
  const double seconds = inputs.number("toleranceSeconds");
  if (!(seconds >= 1 && seconds <= 86400) || std::floor(seconds) != seconds)
    throw std::invalid_argument("input 'toleranceSeconds' must be a whole number of seconds from 1 to 86400");
  return static_cast<long long>(seconds);
}

/// Stripe: `stripe-signature: t=TIMESTAMP,v1=HEX[,v1=HEX...][,v0=...]`, HEX
/// the HMAC-SHA256 of "TIMESTAMP.BODY"; any v1 may match (Stripe sends
/// several while a secret is being rolled).
void checkStripe(const WebhookRequest& request, const std::string& secret, long long tolerance,
                 std::chrono::system_clock::time_point now) {
  const std::string header = request.header("stripe-signature");
  if (header.empty()) throw TriggerRefusal(401, "the request has no stripe-signature header");
  std::string timestamp;
  std::vector<std::string> signatures;
  std::stringstream items(header);
  for (std::string item; std::getline(items, item, ',');) {
    const auto equals = item.find('=');
    if (equals == std::string::npos) continue;
    std::string key = item.substr(0, equals);
    key.erase(0, key.find_first_not_of(' '));
    if (key == "t") timestamp = item.substr(equals + 1);
    else if (key == "v1") signatures.push_back(asciiLower(item.substr(equals + 1)));
  }
  if (timestamp.empty()) throw TriggerRefusal(401, "stripe-signature has no t= timestamp");
  if (signatures.empty()) throw TriggerRefusal(401, "stripe-signature has no v1= signature");
  checkFreshTimestamp(timestamp, "stripe-signature t=", tolerance, now);
  std::string message = timestamp + ".";
  message.append(request.rawBody.view());
  const std::string expected = toHex(hmac(EVP_sha256(), secret, message));
  bool matched = false;
  for (const std::string& signature : signatures) matched = sameSecretBytes(signature, expected) || matched;
  if (!matched) throw TriggerRefusal(401, "no v1 signature in stripe-signature matches the body signed with the secret");
}

/// Shopify: `x-shopify-hmac-sha256: BASE64` of HMAC-SHA256 over the body.
void checkShopify(const WebhookRequest& request, const std::string& secret) {
  const std::string signature = request.header("x-shopify-hmac-sha256");
  if (signature.empty()) throw TriggerRefusal(401, "the request has no x-shopify-hmac-sha256 header");
  const std::string expected = toBase64(hmac(EVP_sha256(), secret, request.rawBody.view()));
  if (!sameSecretBytes(signature, expected))
    throw TriggerRefusal(401, "x-shopify-hmac-sha256 does not match the body signed with the secret");
}

/// Any other sender: HEADER: PREFIX + hex or base64 of HMAC-ALGORITHM over the body.
void checkGeneric(const WebhookRequest& request, const Inputs& inputs) {
  if (!inputs.has("header") || inputs.string("header").empty())
    throw std::invalid_argument("preset 'generic' needs input 'header': the header that carries the signature");
  const std::string header = asciiLower(inputs.string("header"));
  const std::string encoding = inputs.string("encoding");
  if (encoding != "hex" && encoding != "base64")
    throw std::invalid_argument("input 'encoding' must be hex or base64, got '" + encoding + "'");
  const std::string digest = hmac(digestNamed(inputs.string("algorithm")), inputs.string("secret"),
                                  request.rawBody.view());
  const std::string prefix = inputs.string("prefix");
  const std::string given = request.header(header);
  if (given.empty()) throw TriggerRefusal(401, "the request has no " + header + " header");
  // Hex senders differ in case; base64 is case-sensitive.
  const bool hex = encoding == "hex";
  const std::string expected = prefix + (hex ? toHex(digest) : toBase64(digest));
  if (!sameSecretBytes(hex ? asciiLower(given) : given, hex ? asciiLower(expected) : expected))
    throw TriggerRefusal(401, header + " does not match the body signed with the secret");
}

TriggerResult checkHmac(const WebhookRequest& request, const Inputs& inputs, TriggerContext& context) {
  const std::string preset = inputs.string("preset");
  const std::string secret = inputs.string("secret");
  if (secret.empty()) throw std::invalid_argument("input 'secret' is empty: set the config variable it comes from");
  if (preset == "github") checkHubSignature(request, secret);
  else if (preset == "stripe") checkStripe(request, secret, toleranceFrom(inputs), context.now());
  else if (preset == "slack") checkSlackSignature(request, secret, toleranceFrom(inputs), context.now());
  else if (preset == "shopify") checkShopify(request, secret);
  else if (preset == "generic") checkGeneric(request, inputs);
  else
    throw std::invalid_argument("input 'preset' must be github, stripe, slack, shopify or generic, got '" +
                                preset + "'");
  return TriggerResult::run();
}

TriggerResult checkApiKey(const WebhookRequest& request, const Inputs& inputs, TriggerContext&) {
  const std::string header = asciiLower(inputs.string("header"));
  const std::string key = inputs.string("value");
  if (key.empty()) throw std::invalid_argument("input 'value' is empty: set the config variable it comes from");
  std::string given = request.header(header);
  if (given.empty()) throw TriggerRefusal(401, "the request has no " + header + " header");
  if (header == "authorization" && given.size() > 7 && asciiLower(given.substr(0, 7)) == "bearer ")
    given = given.substr(7);
  if (!sameSecret(given, key)) throw TriggerRefusal(401, "the key in " + header + " is wrong");
  return TriggerResult::run();
}

/// Standard base64 with its padding and nothing else (Poco's decoder skips
/// what it does not know, so that is checked first).
bool isStrictBase64(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0) return false;
  const std::size_t padding = text.find('=');
  if (padding != std::string::npos && (padding < text.size() - 2 || text.find_first_not_of('=', padding) != std::string::npos))
    return false;
  for (std::size_t i = 0; i < (padding == std::string::npos ? text.size() : padding); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (!std::isalnum(c) && c != '+' && c != '/') return false;
  }
  return true;
}

std::string decodeBase64(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  std::string out;
  char c;
  while (decoder.get(c)) out.push_back(c);
  return out;
}

TriggerResult checkBasic(const WebhookRequest& request, const Inputs& inputs, TriggerContext&) {
  const std::map<std::string, std::string> challenge = {{"WWW-Authenticate", "Basic realm=\"plexus\", charset=\"UTF-8\""}};
  const std::string given = request.header("authorization");
  if (given.size() < 6 || asciiLower(given.substr(0, 6)) != "basic ")
    throw TriggerRefusal(401, "the request has no Basic credentials in authorization", challenge);
  if (inputs.string("username").empty() || inputs.string("password").empty())
    throw std::invalid_argument("inputs 'username' and 'password' must not be empty: set the config variables "
                                "they come from");
  const std::string encoded = given.substr(6);
  std::string credentials;
  try {
    if (!isStrictBase64(encoded)) throw Poco::DataFormatException("not base64");
    credentials = decodeBase64(encoded);
  } catch (const Poco::Exception&) {
    throw TriggerRefusal(401, "the Basic credentials are not valid base64", challenge);
  }
  const std::string expected = inputs.string("username") + ":" + inputs.string("password");
  if (!sameSecret(credentials, expected))
    throw TriggerRefusal(401, "the username or password is wrong", challenge);
  return TriggerResult::run();
}

plexus::TriggerSpec hmacTrigger() {
  return {"hmac",
          "HMAC signature",
          "Runs requests whose signature header holds the HMAC of the raw body with the secret; refuses others "
          "with 401",
          {{"secret", InputType::Secret, true, std::nullopt, "Secret", "The signing secret the sender was given"},
           {"preset", InputType::String, false, Json("generic"), "Preset",
            "github, stripe, slack, shopify or generic (header, algorithm, encoding, prefix)"},
           {"header", InputType::String, false, std::nullopt, "Header", "generic: the header with the signature"},
           {"algorithm", InputType::String, false, Json("sha256"), "Algorithm", "generic: sha1, sha256 or sha512"},
           {"encoding", InputType::String, false, Json("hex"), "Encoding", "generic: hex or base64"},
           {"prefix", InputType::String, false, Json(""), "Prefix", "generic: text before the signature (sha256=)"},
           {"toleranceSeconds", InputType::Number, false, Json(300), "Tolerance",
            "stripe and slack: refuse requests whose timestamp is further than this from now"}},
          checkHmac};
}

plexus::TriggerSpec apiKeyTrigger() {
  return {"api-key",
          "API key",
          "Runs requests that carry the key in a header (authorization also takes 'Bearer KEY'); refuses others "
          "with 401",
          {{"value", InputType::Secret, true, std::nullopt, "Key", "The key callers must send"},
           {"header", InputType::String, false, Json("x-api-key"), "Header", "The header that carries it"}},
          checkApiKey};
}

plexus::TriggerSpec basicTrigger() {
  return {"basic",
          "Basic authentication",
          "Runs requests with these HTTP Basic credentials; refuses others with 401 and WWW-Authenticate",
          {{"username", InputType::String, true, std::nullopt, "Username", "The user name callers must send"},
           {"password", InputType::Secret, true, std::nullopt, "Password", "The password callers must send"}},
          checkBasic};
}

}  // namespace

PLEXUS_COMPONENT(registrar) {
  registrar.add({"webhook-auth", "1.0.0", "Refuses webhook requests that do not prove who sent them", {},
                 {hmacTrigger(), apiKeyTrigger(), basicTrigger()}});
}
