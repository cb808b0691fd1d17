#include "engine/config_values.hpp"

#include <algorithm>

namespace plexus::core {

namespace {
constexpr const char* kMask = "********";
constexpr std::size_t kMinFragment = 4;
constexpr std::size_t kMaxFragment = 64;
/// Past this a secret (a certificate, say) is masked whole only: indexing
/// every window would cost memory per byte of it in every execution.
constexpr std::size_t kMaxIndexedSecret = 64 * 1024;
constexpr std::uint64_t kHashBase = 0x100000001b3ULL;

void overlay(plexus::Json& target, const plexus::Json& values) {
  if (!values.is_object()) return;
  for (const auto& [key, value] : values.items()) target[key] = value;
}

/// The secret as it appears inside a JSON string (a log of a stringified
/// value), or "" when that is the secret itself or it is not UTF-8.
std::string jsonEscaped(const std::string& secret) {
  std::string dumped = plexus::Json(secret).dump(-1, ' ', false, plexus::Json::error_handler_t::ignore);
  std::string inner = dumped.size() >= 2 ? dumped.substr(1, dumped.size() - 2) : "";
  return inner == secret ? "" : inner;
}

/// The secret percent-encoded as in a URL's query (RFC 3986 unreserved
/// characters kept), or "" when that is the secret itself.
std::string percentEncoded(const std::string& secret) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : secret) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out == secret ? "" : out;
}

std::uint64_t power(std::uint64_t base, std::size_t exponent) {
  std::uint64_t result = 1;
  while (exponent--) result *= base;
  return result;
}

std::uint64_t hashOf(std::string_view text) {
  std::uint64_t hash = 0;
  for (unsigned char c : text) hash = hash * kHashBase + c;
  return hash;
}

bool isContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

plexus::Json effectiveConfigVars(const IntegrationSpec& integration, const InstanceRecord& instance) {
  plexus::Json values = plexus::Json::object();
  for (const auto& spec : integration.configVars)
    values[spec.key] = spec.defaultValue.value_or(plexus::Json());
  if (const InstanceSpec* declared = integration.declaredInstance(instance.name))
    overlay(values, declared->configVars);
  overlay(values, instance.configVars);
  return values;
}

plexus::Json maskSecrets(const IntegrationSpec& integration, plexus::Json configVars) {
  for (const auto& spec : integration.configVars) {
    if (spec.type != plexus::InputType::Secret || !configVars.contains(spec.key)) continue;
    if (!configVars[spec.key].is_null()) configVars[spec.key] = kMask;
  }
  return configVars;
}

std::vector<std::string> secretValues(const IntegrationSpec& integration, const plexus::Json& configVars) {
  std::vector<std::string> secrets;
  for (const auto& spec : integration.configVars) {
    if (spec.type != plexus::InputType::Secret) continue;
    auto it = configVars.find(spec.key);
    if (it != configVars.end() && it->is_string() && !it->get<std::string>().empty())
      secrets.push_back(it->get<std::string>());
  }
  return secrets;
}

std::size_t SecretRedactor::fragmentLength(std::size_t secretLength) {
  std::size_t half = (secretLength + 1) / 2;
  return std::min(secretLength, std::clamp(half, kMinFragment, kMaxFragment));
}

SecretRedactor::SecretRedactor(const std::vector<std::string>& secrets) {
  std::vector<std::size_t> fragments;
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    std::size_t fragment = fragmentLength(secret.size());
    for (std::string form : {secret, jsonEscaped(secret), percentEncoded(secret)}) {
      if (form.empty()) continue;
      patterns_.push_back(std::move(form));
      fragments.push_back(fragment);
    }
  }
  // Indexed only now: string_views into patterns_ must not see it grow.
  for (std::size_t i = 0; i < patterns_.size(); ++i) index(patterns_[i], fragments[i]);
}

void SecretRedactor::index(const std::string& pattern, std::size_t fragment) {
  if (pattern.size() > kMaxIndexedSecret) {
    whole_.push_back(pattern);
    return;
  }
  auto it = std::find_if(windows_.begin(), windows_.end(),
                         [&](const Windows& windows) { return windows.length == fragment; });
  if (it == windows_.end()) {
    windows_.push_back(Windows{fragment, {}});
    it = windows_.end() - 1;
  }
  std::string_view view(pattern);
  for (std::size_t start = 0; start + fragment <= view.size(); ++start) {
    std::string_view window = view.substr(start, fragment);
    it->byHash.emplace(hashOf(window), window);
  }
}

void SecretRedactor::markWindows(const std::string& text, const Windows& windows, std::vector<bool>& masked,
                                 bool& any) const {
  std::size_t length = windows.length;
  if (text.size() < length) return;
  std::string_view view(text);
  std::uint64_t hash = hashOf(view.substr(0, length));
  std::uint64_t outgoing = power(kHashBase, length - 1);
  for (std::size_t start = 0;; ++start) {
    auto [first, last] = windows.byHash.equal_range(hash);
    for (auto it = first; it != last; ++it) {
      if (it->second != view.substr(start, length)) continue;  // A hash collision.
      if (!any) masked.assign(text.size(), false);
      any = true;
      std::fill(masked.begin() + static_cast<std::ptrdiff_t>(start),
                masked.begin() + static_cast<std::ptrdiff_t>(start + length), true);
      break;
    }
    if (start + length >= text.size()) return;
    hash = (hash - static_cast<unsigned char>(text[start]) * outgoing) * kHashBase +
           static_cast<unsigned char>(text[start + length]);
  }
}

std::string SecretRedactor::redact(const std::string& text) const {
  if (empty() || text.empty()) return text;
  std::vector<bool> masked;
  bool any = false;
  for (const Windows& windows : windows_) markWindows(text, windows, masked, any);
  for (const std::string& pattern : whole_) {
    for (auto pos = text.find(pattern); pos != std::string::npos; pos = text.find(pattern, pos + 1)) {
      if (!any) masked.assign(text.size(), false);
      any = true;
      std::fill(masked.begin() + static_cast<std::ptrdiff_t>(pos),
                masked.begin() + static_cast<std::ptrdiff_t>(pos + pattern.size()), true);
    }
  }
  if (!any) return text;
  // A mask never splits a UTF-8 character (logs are stored as JSON text):
  // a run that starts inside one takes its first byte too...
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (!masked[i] || masked[i - 1] || !isContinuationByte(text[i])) continue;
    for (std::size_t j = i; j > 0 && isContinuationByte(text[j]);) masked[--j] = true;
  }
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (!masked[i]) {
      out += text[i++];
      continue;
    }
    // ...and one that ends inside one takes the rest of it.
    while (i < text.size() && (masked[i] || isContinuationByte(text[i]))) ++i;
    out += kMask;
  }
  return out;
}

std::string redact(const std::string& text, const std::vector<std::string>& secrets) {
  if (secrets.empty()) return text;
  return SecretRedactor(secrets).redact(text);
}

}  // namespace plexus::core
