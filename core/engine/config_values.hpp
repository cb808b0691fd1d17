// An instance's effective config variables and the secrets to keep out of
// logs and API output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <plexus/value.hpp>

#include "integration/model.hpp"
#include "store/store.hpp"

namespace plexus::core {

/// Defaults, overlaid by the values the YAML file gives the instance,
/// overlaid by values set through the API (stored on the instance record).
plexus::Json effectiveConfigVars(const IntegrationSpec& integration, const InstanceRecord& instance);

/// The same object with every secret-typed value replaced by "********".
plexus::Json maskSecrets(const IntegrationSpec& integration, plexus::Json configVars);

/// The non-empty string values of the secret-typed config variables.
std::vector<std::string> secretValues(const IntegrationSpec& integration, const plexus::Json& configVars);

/// Masks an execution's secrets in text meant for people: step errors,
/// execution errors and log lines (docs/security.md, "Secrets and
/// redaction").
///
/// Every run of the text that lies inside some window of at least
/// fragmentLength(secret) bytes equal to a part of a secret (as written,
/// JSON-escaped or percent-encoded) becomes one "********", whatever its
/// length. A whole secret is always such a window, so it is always masked,
/// and so is any part of at least half of it (at least 4 bytes, at most 64).
///
/// Why half, and not every part of 4 bytes: the mask answers a question.
/// When a message repeats text the caller chose (a missing key it sent, a
/// value it put in a quoted error) and the caller can read that message (a
/// synchronous webhook's 500, the result URL's 409, the API's logs), a mask
/// over "ve_4" tells it that "ve_4" is part of the secret. From a known
/// prefix ("sk_live_") the caller then learns the secret one character at a
/// time, whatever the smallest masked part is, as long as it knows that
/// many characters already. Masking from half the secret up means a caller
/// must already know half of it to ask, and a message that slips through
/// shows less than half. Plexus's own messages do not quote values, so this
/// is the net under components that do.
///
/// Cost: building is linear in the secrets' total size; redact() is linear
/// in the text (one rolling hash per distinct fragment length). Secrets
/// over 64 KiB are masked whole only. Immutable after construction: safe to
/// share between threads.
class SecretRedactor {
 public:
  SecretRedactor() = default;
  explicit SecretRedactor(const std::vector<std::string>& secrets);

  /// The shortest part of a secret of `secretLength` bytes that is masked.
  static std::size_t fragmentLength(std::size_t secretLength);

  /// `text` with every part of a secret masked (see the class comment).
  std::string redact(const std::string& text) const;

  bool empty() const { return windows_.empty() && whole_.empty(); }

 private:
  /// Every window of one length of every pattern, by rolling hash.
  struct Windows {
    std::size_t length = 0;
    std::unordered_multimap<std::uint64_t, std::string_view> byHash;
  };
  void index(const std::string& pattern, std::size_t fragment);
  void markWindows(const std::string& text, const Windows& windows, std::vector<bool>& masked,
                   bool& any) const;

  std::vector<std::string> patterns_;  ///< What the string_views point into; filled before indexing.
  std::vector<Windows> windows_;
  std::vector<std::string> whole_;     ///< Patterns too long to index: masked whole.
};

/// `text` with the secrets masked: SecretRedactor(secrets).redact(text).
std::string redact(const std::string& text, const std::vector<std::string>& secrets);

}  // namespace plexus::core
