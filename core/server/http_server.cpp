#include "server/http_server.hpp"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include "server/request_router.hpp"

namespace plexus::core {

HttpServer::HttpServer(Runtime& runtime, const ServerSettings& settings) {
  // A pool smaller than the clients' connection count would silently serve
  // only that many connections; size it explicitly.
  pool_ = std::make_unique<Poco::ThreadPool>(8, std::max(16, settings.httpThreads));
  auto* params = new Poco::Net::HTTPServerParams;  // Ref-counted; the server takes it.
  params->setMaxThreads(std::max(16, settings.httpThreads));
  params->setMaxQueued(4096);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);  // Unlimited requests per connection.
  params->setTimeout(Poco::Timespan(60, 0));
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(settings.host, static_cast<Poco::UInt16>(settings.port)), 1024);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new RequestRouter(runtime), *pool_, socket, params);
}

void HttpServer::start() { server_->start(); }

HttpServer::~HttpServer() { stop(); }

int HttpServer::port() const { return server_->port(); }

void HttpServer::stop() {
  if (server_) {
    server_->stopAll(true);
    server_.reset();
  }
  if (pool_) {
    pool_->joinAll();
    pool_.reset();
  }
}

}  // namespace plexus::core
