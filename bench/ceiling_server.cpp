// The ceiling: the least a webhook server on Poco::Net can do per request.
// It reads the body, parses it as JSON (nlohmann, as Plexus does) and
// answers {"executionId": ID} with a fresh random id. No store, no engine:
// what Plexus adds on top is measured against this, in the same run.
//
//   bench_ceiling_server [--host 127.0.0.1] [--port 0] [--threads 256]
//
// Prints "listening on HOST:PORT" once it accepts connections and stops on
// SIGINT or SIGTERM.
//
// Two Poco pitfalls it avoids, as Plexus must: the thread pool and
// HTTPServerParams::maxThreads are sized above the client's connection
// count (else only that many connections are served, silently), and the id
// comes from plexus::core::randomId: getrandom(2), no lock (Poco's
// UUIDGenerator::createRandom locks and reads /dev/urandom on every call).
#include <csignal>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <nlohmann/json.hpp>

#include "util/ids.hpp"  // The same id generator as Plexus.

namespace {


void reply(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPResponse::HTTPStatus status,
           const std::string& body) {
  response.setStatusAndReason(status);
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.sendBuffer(body.data(), body.size());
}

class IntakeHandler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return reply(response, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, R"({"error":"not JSON"})");
    reply(response, Poco::Net::HTTPResponse::HTTP_OK, nlohmann::json{{"executionId", plexus::core::randomId()}}.dump());
  }
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new IntakeHandler;
  }
};

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int threads = 256;
};

Options parseArgs(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
    std::string value = argv[++i];
    if (flag == "--host") options.host = value;
    else if (flag == "--port") options.port = std::stoi(value);
    else if (flag == "--threads") options.threads = std::stoi(value);
    else throw std::invalid_argument("unknown flag " + flag + " (expected --host, --port, --threads)");
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parseArgs(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "bench_ceiling_server: " << error.what() << "\n";
    return 2;
  }
  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  Poco::ThreadPool pool(8, options.threads);
  auto* params = new Poco::Net::HTTPServerParams;  // Ref-counted; the server takes it.
  params->setMaxThreads(options.threads);
  params->setMaxQueued(4096);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(options.host, static_cast<Poco::UInt16>(options.port)), 1024);
  Poco::Net::HTTPServer server(new Factory, pool, socket, params);
  server.start();
  std::cout << "listening on " << options.host << ":" << server.port() << std::endl;

  int signal = 0;
  sigwait(&stopSignals, &signal);
  server.stopAll(true);
  pool.joinAll();
  return 0;
}
