// plexus::Context: what the runtime tells an action about the run it is in.
#pragma once

#include <chrono>
#include <string>

#include "plexus/value.hpp"

namespace plexus {

/// Severity of a log line written into an execution's log.
enum class LogLevel { Debug, Info, Warn, Error };

/// "debug", "info", "warn" or "error".
inline const char* toString(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
  }
  return "info";
}

/// The execution an action runs in. Implemented by the runtime (and by
/// plexus::testing::FakeContext in component tests).
///
/// Ownership: the runtime owns the Context; it is valid only during the
/// perform call that receives it — do not keep a pointer to it.
/// Threads: perform is called on one of the runtime's worker threads; the
/// Context may be used from that thread only.
class Context {
 public:
  virtual ~Context() = default;

  /// The execution's id (random, URL-safe).
  virtual const std::string& executionId() const = 0;
  /// The instance being run: its id and its name.
  virtual const std::string& instanceId() const = 0;
  virtual const std::string& instanceName() const = 0;
  /// The instance's config variables as an object, key → value. Secret
  /// values are included: an action may use them but must not log them.
  virtual const Json& configVars() const = 0;
  /// Appends a line to the execution's log (shown by the API and `plexus run`).
  virtual void log(LogLevel level, const std::string& message) = 0;
  /// When this step must stop: the earlier of the step's `timeoutMs` and
  /// the execution's `execution.timeoutMs`; time_point::max() when there is
  /// none. An action that waits (a slow call) should not wait past it. To
  /// wait for a while without holding a thread, return
  /// Result::afterDelay instead of sleeping.
  virtual std::chrono::steady_clock::time_point deadline() const = 0;
  /// True once the runtime wants the step to stop: its deadline passed, the
  /// execution was cancelled (POST /api/executions/ID/cancel), or the server
  /// is shutting down. Long actions should check it and return or throw
  /// early: an action still running 1 s after that is given up (the
  /// execution goes on without it, and what it returns is dropped).
  virtual bool cancelled() const = 0;
};

}  // namespace plexus
