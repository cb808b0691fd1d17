// The server's settings: flags, PLEXUS_* env vars and plexus.yaml keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trigger/webhook/webhook_payload.hpp"

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
  int workers = 8;               ///< Threads that always run steps (the pool grows past it while they block).
  int maxWorkers = 256;          ///< The most threads running steps (docs/execution-model.md).
  /// Connections Result::afterHttp exchanges keep open at once; more wait for one.
  long long maxOutboundConnections = 4096;
  /// On SIGTERM, how long running executions may go on before their steps
  /// are told to stop; what still runs then resumes after the restart.
  int shutdownGraceSeconds = 10;

  /// An execution running during this many crashes of the server in a row
  /// is ended failed instead of run again (docs/operating.md).
  int maxCrashRestarts = 3;
  /// Start with an empty database where the data folder had one that is now
  /// missing or was replaced (else the server refuses to start).
  bool allowNewDatabase = false;
  int httpThreads = 1024;        ///< Most requests handled at once (a sync caller parks one thread, asleep).
  // The HTTP front end (docs/http.md): what a slow or idle caller may hold.
  int headerTimeoutSeconds = 10;      ///< A request head (line + headers) must arrive whole within this.
  int keepAliveTimeoutSeconds = 5;    ///< An idle keep-alive connection is closed after this.
  int bodyTimeoutSeconds = 10;        ///< Grace before a body (or a reply) must keep up minBodyRate.
  std::int64_t minBodyRate = 4096;    ///< Bytes per second a body (or a reply) must average after the grace.
  int maxHeaderBytes = 64 * 1024;     ///< Request line + headers; more is 431.
  int maxConnections = 10000;         ///< Open connections in all; at the cap the longest-idle one is closed.
  int maxConnectionsPerClient = 256;  ///< Open connections per client IP address; 0 = no limit.
  int ioThreads = 1;                  ///< Threads that own every socket (accept, read, write).
  // Limits on what a request body may become once parsed (docs/limits.md).
  std::size_t maxJsonDepth = 512;      ///< Nesting of a JSON body; deeper is a 400.
  std::size_t jsonMemoryFactor = 12;   ///< A parsed JSON body may take this many times its bytes; more is a 413.
  std::size_t maxFormFields = 10000;   ///< Fields of a form or parts of a multipart body; more is a 413.
  /// Bytes of deferred JSON bodies parsed at once (each counted as
  /// jsonMemoryFactor times its size); executions beyond it wait their turn.
  std::size_t maxParseMemory = 1024ULL * 1024 * 1024;
  /// How long a webhook's Idempotency-Key is remembered (CONTRACT §8).
  std::int64_t idempotencyTtlSeconds = 86400;
};

/// The body limits the settings configure (--max-json-depth, ...).
BodyLimits bodyLimits(const ServerSettings& settings);

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
