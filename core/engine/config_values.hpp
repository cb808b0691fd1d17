// An instance's effective config variables and the secrets to keep out of
// logs and API output.
#pragma once

#include <string>
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

/// `text` with each occurrence of each secret replaced by "********".
std::string redact(std::string text, const std::vector<std::string>& secrets);

}  // namespace plexus::core
