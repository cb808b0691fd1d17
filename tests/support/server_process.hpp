// Test support: a real `plexus serve` child process and a small HTTP client.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Process.h>

namespace plexus::testing_support {

/// A fresh temporary directory, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Writes `text` to `path`.
void writeFile(const std::string& path, const std::string& text);
/// Reads a whole file.
std::string readFile(const std::string& path);

/// `build/bin/plexus`, `build/plugins` and the source tree, from compile
/// definitions; PLEXUS_TEST_BINARY and PLEXUS_TEST_PLUGINS override the
/// first two (to run the end-to-end tests against another build).
std::string plexusBinary();
std::string pluginsDir();
std::string sourceDir();

/// Runs `plexus serve --port 0` with the given folders and extra flags
/// (--plugins among them replaces the built-in plugins folder);
/// the constructor returns once /healthz answers 200 (or throws with the
/// server's output). The destructor stops it (SIGINT, then SIGKILL).
class ServerProcess {
 public:
  ServerProcess(const std::string& integrationsDir, const std::string& dataDir,
                std::vector<std::string> extraArgs = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  /// The server's process id (for /proc/PID: threads, descriptors).
  int pid() const;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// Everything the server printed so far.
  std::string output() const;
  /// SIGKILL, no cleanup: what a crash looks like.
  void kill9();
  /// SIGINT and wait for exit; returns the exit code.
  int stop();
  /// Waits up to `seconds` for the server to end by itself (a crash) and
  /// returns its exit code as Poco reports it (256 + the signal number when
  /// a signal ended it), or -1 when it still runs (it is then killed).
  int waitForExit(double seconds);

 private:
  void readOutput(std::unique_ptr<std::istream> stream);

  std::unique_ptr<Poco::ProcessHandle> handle_;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::string output_;
  int port_ = 0;
  bool running_ = false;
};

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< Lower-cased names.
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

/// One HTTP request with Poco's client; does not follow redirects.
HttpResult http(const std::string& method, const std::string& url, const std::string& body = "",
                const std::map<std::string, std::string>& headers = {});

/// Runs a command through /bin/sh and returns its stdout; exit code in `status`.
std::string shell(const std::string& command, int* status = nullptr);

/// Polls `condition` every 20 ms until it is true or `seconds` pass.
bool eventually(const std::function<bool()>& condition, double seconds = 20);

}  // namespace plexus::testing_support
