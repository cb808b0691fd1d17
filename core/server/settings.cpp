#include "server/settings.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

namespace plexus::core {

const std::vector<std::string>& settingNames() {
  static const std::vector<std::string> kNames = {
      "host", "port", "integrations", "plugins", "data", "public-url", "sync-timeout",
      "max-request-bytes", "max-response-bytes", "api-token", "workers", "http-threads",
      "max-crash-restarts", "allow-new-database",
      "header-timeout", "keepalive-timeout", "body-timeout", "min-body-rate", "max-header-bytes",
      "max-connections", "max-connections-per-client", "io-threads",
      "max-json-depth", "json-memory-factor", "max-form-fields", "max-parse-memory",
      "max-workers", "shutdown-grace", "max-outbound-connections", "idempotency-ttl"};
  return kNames;
}

bool isSwitchSetting(const std::string& name) { return name == "allow-new-database"; }

namespace {

std::string envName(const std::string& name) {
  std::string out = "PLEXUS_";
  for (char c : name) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::int64_t parseInteger(const std::string& name, const std::string& value, const std::string& source,
                          std::int64_t min, std::int64_t max) {
  std::size_t used = 0;
  std::int64_t number = 0;
  try {
    number = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || value.empty() || number < min || number > max)
    throw std::invalid_argument(name + " (from " + source + ") must be a whole number from " +
                                std::to_string(min) + " to " + std::to_string(max) + ", got '" + value + "'");
  return number;
}

bool parseSwitch(const std::string& name, const std::string& value, const std::string& source) {
  std::string word;
  for (char c : value) word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (word.empty() || word == "true" || word == "yes" || word == "1") return true;
  if (word == "false" || word == "no" || word == "0") return false;
  throw std::invalid_argument(name + " (from " + source + ") must be true or false, got '" + value + "'");
}

void apply(ServerSettings& settings, const std::string& name, const std::string& value, const std::string& source) {
  if (name == "host") settings.host = value;
  else if (name == "port") settings.port = static_cast<int>(parseInteger(name, value, source, 0, 65535));
  else if (name == "integrations") settings.integrationsDir = value;
  else if (name == "plugins") settings.pluginsDir = value;
  else if (name == "data") settings.dataDir = value;
  else if (name == "public-url") settings.publicUrl = value;
  else if (name == "sync-timeout") settings.syncTimeoutSeconds = static_cast<int>(parseInteger(name, value, source, 1, 86400));
  else if (name == "max-request-bytes") settings.maxRequestBytes = parseInteger(name, value, source, 1, INT64_MAX);
  else if (name == "max-response-bytes") settings.maxResponseBytes = parseInteger(name, value, source, 1, INT64_MAX);
  else if (name == "api-token") settings.apiToken = value;
  else if (name == "workers") settings.workers = static_cast<int>(parseInteger(name, value, source, 1, 1024));
  else if (name == "max-workers") settings.maxWorkers = static_cast<int>(parseInteger(name, value, source, 1, 4096));
  else if (name == "max-outbound-connections")
    settings.maxOutboundConnections = parseInteger(name, value, source, 1, 1000000);
  else if (name == "idempotency-ttl")
    settings.idempotencyTtlSeconds = parseInteger(name, value, source, 1, 365LL * 86400);
  else if (name == "shutdown-grace")
    settings.shutdownGraceSeconds = static_cast<int>(parseInteger(name, value, source, 0, 3600));
  else if (name == "http-threads") settings.httpThreads = static_cast<int>(parseInteger(name, value, source, 16, 10000));
  else if (name == "max-crash-restarts") settings.maxCrashRestarts = static_cast<int>(parseInteger(name, value, source, 1, 1000));
  else if (name == "allow-new-database") settings.allowNewDatabase = parseSwitch(name, value, source);
  else if (name == "header-timeout") settings.headerTimeoutSeconds = static_cast<int>(parseInteger(name, value, source, 1, 3600));
  else if (name == "keepalive-timeout") settings.keepAliveTimeoutSeconds = static_cast<int>(parseInteger(name, value, source, 1, 3600));
  else if (name == "body-timeout") settings.bodyTimeoutSeconds = static_cast<int>(parseInteger(name, value, source, 1, 3600));
  else if (name == "min-body-rate") settings.minBodyRate = parseInteger(name, value, source, 1, INT64_MAX);
  else if (name == "max-header-bytes") settings.maxHeaderBytes = static_cast<int>(parseInteger(name, value, source, 1024, 16 * 1024 * 1024));
  else if (name == "max-connections") settings.maxConnections = static_cast<int>(parseInteger(name, value, source, 1, 1000000));
  else if (name == "max-connections-per-client") settings.maxConnectionsPerClient = static_cast<int>(parseInteger(name, value, source, 0, 1000000));
  else if (name == "io-threads") settings.ioThreads = static_cast<int>(parseInteger(name, value, source, 1, 64));
  // The depth stays far below what recursive code (dump, ==, copies) can
  // take on a thread's stack; see docs/limits.md.
  else if (name == "max-json-depth") settings.maxJsonDepth = static_cast<std::size_t>(parseInteger(name, value, source, 1, 8192));
  else if (name == "json-memory-factor") settings.jsonMemoryFactor = static_cast<std::size_t>(parseInteger(name, value, source, 1, 1000));
  else if (name == "max-form-fields") settings.maxFormFields = static_cast<std::size_t>(parseInteger(name, value, source, 1, 100000000));
  else if (name == "max-parse-memory") settings.maxParseMemory = static_cast<std::size_t>(parseInteger(name, value, source, 1, INT64_MAX));
  else throw std::invalid_argument("unknown setting '" + name + "' in " + source);
}

}  // namespace

ServerSettings resolveSettings(const std::map<std::string, std::string>& flags, const std::string& configFile) {
  ServerSettings settings;
  if (!configFile.empty() && std::filesystem::exists(configFile)) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(configFile);
    } catch (const YAML::Exception& error) {
      throw std::invalid_argument(configFile + ":" + std::to_string(error.mark.line + 1) + ":" +
                                  std::to_string(error.mark.column + 1) + ": " + error.msg);
    }
    if (root && !root.IsMap()) throw std::invalid_argument(configFile + ": expected a mapping of settings");
    for (const auto& item : root) {
      std::string name = item.first.as<std::string>();
      if (!item.second.IsScalar())
        throw std::invalid_argument(configFile + ":" + std::to_string(item.second.Mark().line + 1) +
                                    ": setting '" + name + "' must be a single value");
      apply(settings, name, item.second.as<std::string>(), configFile);
    }
  }
  for (const std::string& name : settingNames())
    if (const char* value = std::getenv(envName(name).c_str())) apply(settings, name, value, envName(name));
  for (const auto& [name, value] : flags) apply(settings, name, value, "--" + name);
  return settings;
}

BodyLimits bodyLimits(const ServerSettings& settings) {
  BodyLimits limits;
  limits.maxJsonDepth = settings.maxJsonDepth;
  limits.jsonMemoryFactor = settings.jsonMemoryFactor;
  limits.maxFormFields = settings.maxFormFields;
  return limits;
}

}  // namespace plexus::core
