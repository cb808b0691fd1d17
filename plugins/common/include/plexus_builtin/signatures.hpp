// Signature checks shared by webhook-auth and webhook-handshake: HMAC over
// the raw bytes (OpenSSL's libcrypto; a plugin that includes this links
// OpenSSL::Crypto), hex and base64 encodings, and a constant-time compare.
#pragma once

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <plexus/trigger.hpp>

namespace plexus::builtin {

/// The digest named "sha1", "sha256" or "sha512"; throws
/// std::invalid_argument for anything else.
inline const EVP_MD* digestNamed(const std::string& name) {
  if (name == "sha1") return EVP_sha1();
  if (name == "sha256") return EVP_sha256();
  if (name == "sha512") return EVP_sha512();
  throw std::invalid_argument("input 'algorithm' must be sha1, sha256 or sha512, got '" + name + "'");
}

/// HMAC of `message` with `key`, as raw bytes.
inline std::string hmac(const EVP_MD* digest, std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(digest, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
            message.size(), out, &length))
    throw std::runtime_error("HMAC failed in libcrypto");
  return std::string(reinterpret_cast<const char*>(out), length);
}

/// Lower-case hex of `bytes`.
inline std::string toHex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xF]);
  }
  return out;
}

/// Standard base64 (with padding) of `bytes`.
inline std::string toBase64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

/// True when `given` and `expected` are the same bytes, in time that does not
/// depend on where they differ (CRYPTO_memcmp). Only the length may leak,
/// and a signature's length is public.
inline bool sameSecretBytes(std::string_view given, std::string_view expected) {
  if (given.size() != expected.size()) return false;
  return CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

/// True when `given` equals the secret `expected` (an API key, a password, a
/// verify token), in time that depends on neither's length nor content:
/// both are hashed (SHA-256) and the digests compared with CRYPTO_memcmp.
inline bool sameSecret(std::string_view given, std::string_view expected) {
  unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
  unsigned int aLength = 0, bLength = 0;
  if (!EVP_Digest(given.data(), given.size(), a, &aLength, EVP_sha256(), nullptr) ||
      !EVP_Digest(expected.data(), expected.size(), b, &bLength, EVP_sha256(), nullptr))
    throw std::runtime_error("SHA-256 failed in libcrypto");
  return CRYPTO_memcmp(a, b, aLength) == 0;
}

/// `text` lower-cased (ASCII), for hex signatures senders may write in capitals.
inline std::string asciiLower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

/// Refuses (401) a timestamp (Unix seconds, as text) that is not a number
/// or is more than `tolerance` seconds away from now, either way; `header`
/// names where it came from.
inline void checkFreshTimestamp(const std::string& text, const std::string& header, long long tolerance,
                                std::chrono::system_clock::time_point now) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    throw TriggerRefusal(401, header + " must be a Unix time in seconds");
  const long long sent = std::stoll(text);
  const long long current = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const long long age = current - sent;
  if (age > tolerance || age < -tolerance)
    throw TriggerRefusal(401, "the request's timestamp (" + header + ") is " + std::to_string(age < 0 ? -age : age) +
                                  " s " + (age < 0 ? "in the future" : "old") + "; requests more than " +
                                  std::to_string(tolerance) + " s off are refused (toleranceSeconds)");
}

/// Slack's scheme: `x-slack-signature: v0=HEX` of HMAC-SHA256 over
/// "v0:{x-slack-request-timestamp}:{raw body}". Throws TriggerRefusal(401).
inline void checkSlackSignature(const WebhookRequest& request, const std::string& secret, long long tolerance,
                                std::chrono::system_clock::time_point now) {
  const std::string signature = request.header("x-slack-signature");
  const std::string timestamp = request.header("x-slack-request-timestamp");
  if (signature.empty()) throw TriggerRefusal(401, "the request has no x-slack-signature header");
  if (timestamp.empty()) throw TriggerRefusal(401, "the request has no x-slack-request-timestamp header");
  checkFreshTimestamp(timestamp, "x-slack-request-timestamp", tolerance, now);
  std::string message = "v0:" + timestamp + ":";
  message.append(request.rawBody.view());
  const std::string expected = "v0=" + toHex(hmac(EVP_sha256(), secret, message));
  if (!sameSecretBytes(asciiLower(signature), expected))
    throw TriggerRefusal(401, "x-slack-signature does not match the body signed with the signing secret");
}

/// GitHub's (and Meta's) scheme: HEADER: sha256=HEX of HMAC-SHA256 over the
/// raw body. Throws TriggerRefusal(401).
inline void checkHubSignature(const WebhookRequest& request, const std::string& secret,
                              const std::string& header = "x-hub-signature-256") {
  const std::string signature = request.header(header);
  if (signature.empty()) throw TriggerRefusal(401, "the request has no " + header + " header");
  const std::string expected = "sha256=" + toHex(hmac(EVP_sha256(), secret, request.rawBody.view()));
  if (!sameSecretBytes(asciiLower(signature), expected))
    throw TriggerRefusal(401, header + " does not match the body signed with the secret");
}

}  // namespace plexus::builtin
