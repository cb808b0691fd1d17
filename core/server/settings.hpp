// The server's settings: flags, PLEXUS_* env vars and plexus.yaml keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace plexus::core {

struct ServerSettings {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string integrationsDir = "./integrations";
  std::string pluginsDir;        ///< Empty: ../plugins beside the executable.
  std::string dataDir = "./var";
  std::string publicUrl;         ///< Empty: http://HOST:PORT (with the bound port).
  int syncTimeoutSeconds = 29;
  std::int64_t maxRequestBytes = 100LL * 1024 * 1024;
  std::int64_t maxResponseBytes = 500LL * 1024 * 1024;
  std::string apiToken;          ///< Empty: /api is open.
  int workers = 8;               ///< Executions that run at once.
  int httpThreads = 1024;        ///< Connections served at once (a sync caller parks one, asleep).
  /// An execution running during this many crashes of the server in a row
  /// is ended failed instead of run again (docs/operating.md).
  int maxCrashRestarts = 3;
  /// Start with an empty database where the data folder had one that is now
  /// missing or was replaced (else the server refuses to start).
  bool allowNewDatabase = false;
};

}  // namespace plexus::core

#include <map>

namespace plexus::core {

/// The setting names, as flags (--port), plexus.yaml keys (port:) and, upper-
/// cased with '-' as '_' and a PLEXUS_ prefix, env vars (PLEXUS_PORT).
const std::vector<std::string>& settingNames();
/// Of those, the yes/no ones: as a flag, the value may be left out
/// (`--allow-new-database` means true).
bool isSwitchSetting(const std::string& name);

/// Builds the settings: defaults, overlaid by `configFile` (plexus.yaml, if
/// it exists), by PLEXUS_* environment variables, then by `flags`
/// (name -> value). Throws std::invalid_argument naming the setting and
/// where it came from when a value is malformed.
ServerSettings resolveSettings(const std::map<std::string, std::string>& flags, const std::string& configFile);

}  // namespace plexus::core
