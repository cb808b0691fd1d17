// The HTTP listener: an event-driven front end (Boost.Asio + Boost.Beast)
// in front of a pool of handler threads. docs/http.md describes the limits.
#pragma once

#include <memory>

#include "server/runtime.hpp"

namespace plexus::core {

/// Listens on settings.host:settings.port (0 = any free port) and routes
/// requests to the runtime.
///
/// A few I/O threads (--io-threads) own every socket: they accept, read
/// each request head and body under deadlines, and write replies, so an
/// idle or slow connection costs a socket and a few hundred bytes, never a
/// thread. Only a complete request reaches a handler thread, from a pool
/// that grows on demand up to --http-threads and shrinks when idle (a
/// synchronous caller waiting for its execution parks one, asleep).
class HttpServer {
 public:
  /// Binds the port (without SO_REUSEPORT: a second server on the same port
  /// fails here with "address in use"); serves nothing until start().
  HttpServer(Runtime& runtime, const ServerSettings& settings);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Starts accepting connections.
  void start();
  /// The bound port (useful with port 0).
  int port() const;
  /// Stops accepting new connections (the ones open go on). For a shutdown
  /// that lets synchronous callers get their result first.
  void stopAccepting();
  /// Stops accepting, closes idle connections, lets requests in flight
  /// finish (their replies close the connection), then closes the rest.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Raises the soft limit of open files to the hard limit (each connection
/// is a descriptor); returns the limit now in force.
long raiseOpenFileLimit();

}  // namespace plexus::core
