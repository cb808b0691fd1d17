#include "engine/config_values.hpp"

#include <algorithm>

namespace plexus::core {

namespace {
constexpr const char* kMask = "********";

void overlay(plexus::Json& target, const plexus::Json& values) {
  if (!values.is_object()) return;
  for (const auto& [key, value] : values.items()) target[key] = value;
}
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

std::string redact(std::string text, const std::vector<std::string>& secrets) {
  // Longest first: a secret inside another must not leave the rest showing.
  std::vector<std::string> ordered = secrets;
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& secret : ordered) {
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos))
      text.replace(pos, secret.size(), kMask), pos += std::char_traits<char>::length(kMask);
  }
  return text;
}

}  // namespace plexus::core
