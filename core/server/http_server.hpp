// The HTTP listener: a Poco HTTPServer with its own thread pool.
#pragma once

#include <memory>

#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include "server/runtime.hpp"

namespace plexus::core {

/// Listens on settings.host:settings.port (0 = any free port) and routes
/// requests to the runtime. Each connection is served by one pool thread;
/// the pool holds up to settings.httpThreads, so a synchronous caller
/// waiting for its execution occupies a sleeping thread, not a core.
class HttpServer {
 public:
  /// Binds the port; serves nothing until start().
  HttpServer(Runtime& runtime, const ServerSettings& settings);
  ~HttpServer();
  /// Starts accepting connections.
  void start();
  /// The bound port (useful with port 0).
  int port() const;
  /// Stops accepting and closes connections.
  void stop();

 private:
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace plexus::core
