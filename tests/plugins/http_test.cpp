// Tests for the http component, through <plexus/testing.hpp>, against a
// real Poco HTTP server started in the test on 127.0.0.1, port 0.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <unistd.h>

#include <Poco/Event.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#if PLEXUS_HTTP_HAVE_SSL
#include <Poco/Crypto/EVPPKey.h>
#include <Poco/Crypto/X509Certificate.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/SecureServerSocket.h>
#endif

#include <plexus/testing.hpp>

using plexus::Json;
using plexus::LogLevel;
using plexus::testing::FakeContext;
using plexus::testing::Harness;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

const std::string kPng("\x89PNG\r\n\x1a\n\0\x01", 10);

/// Answers the test endpoints. Runs on the server's threads; it touches
/// only the request, the response and the server's `release` event.
class TestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit TestHandler(Poco::Event& release) : release_(release) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    const Poco::URI uri(request.getURI());
    Poco::URI::QueryParameters query = uri.getQueryParameters();
    auto param = [&](const std::string& name, const std::string& otherwise) {
      for (const auto& [key, value] : query)
        if (key == name) return value;
      return otherwise;
    };
    const std::string& path = uri.getPath();
    if (path == "/echo") return echo(request, response);
    if (path == "/text") return send(response, "text/plain; charset=utf-8", "hello text");
    if (path == "/binary") return send(response, "image/png", kPng);
    if (path == "/vendor-json") return send(response, "application/vnd.api+json", R"({"data":{"id":"7"}})");
    if (path == "/bad-json") return send(response, "application/json", "{oops");
    if (path == "/missing") {
      response.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
      return send(response, "application/json", R"({"error":"not here"})");
    }
    if (path == "/empty") {
      response.setStatus(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
      response.send();
      return;
    }
    if (path == "/repeated") {
      response.add("X-Multi", "one");
      response.add("X-Multi", "two");
      return send(response, "text/plain", "ok");
    }
    if (path == "/redirect") {
      response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(std::stoi(param("code", "302"))));
      response.set("Location", param("to", "/echo"));
      return send(response, "text/plain", "moved");
    }
    if (path == "/loop") {
      response.setStatus(Poco::Net::HTTPResponse::HTTP_FOUND);
      response.set("Location", "/loop");
      return send(response, "text/plain", "again");
    }
    if (path == "/slow") {
      release_.tryWait(5000);  // set when the test's server stops
      return send(response, "text/plain", "late");
    }
    response.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
    send(response, "text/plain", "no such test endpoint");
  }

 private:
  static void send(Poco::Net::HTTPServerResponse& response, const std::string& type, const std::string& body) {
    response.setContentType(type);
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body;
  }

  /// {method, uri, headers (lower-cased names), body} of the request.
  static void echo(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [name, value] : request) headers[Poco::toLower(name)] = value;
    nlohmann::json echoed{{"method", request.getMethod()}, {"uri", request.getURI()}, {"headers", headers},
                          {"body", body}};
    // replace: a binary body is not UTF-8; only its length matters then.
    send(response, "application/json; charset=utf-8", echoed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  Poco::Event& release_;
};

class TestHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit TestHandlerFactory(Poco::Event& release) : release_(release) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new TestHandler(release_);
  }

 private:
  Poco::Event& release_;
};

/// A real HTTP server on 127.0.0.1 and a free port, for one test.
/// Members are destroyed in reverse order: the server stops, slow handlers
/// are released and the pool joined before the event they wait on goes.
class TestServer {
 public:
  explicit TestServer(Poco::Net::ServerSocket socket = Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)))
      : port_(socket.address().port()),
        server_(new TestHandlerFactory(release_), pool_, socket, new Poco::Net::HTTPServerParams) {
    server_.start();
  }
  ~TestServer() {
    release_.set();
    server_.stopAll(true);
    pool_.joinAll();
  }

  std::string url(const std::string& pathAndQuery, const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_) + pathAndQuery;
  }
  Poco::UInt16 port() const { return port_; }

 private:
  Poco::Event release_{Poco::Event::EVENT_MANUALRESET};
  Poco::ThreadPool pool_{2, 8};
  Poco::UInt16 port_;
  Poco::Net::HTTPServer server_;
};

/// A context that reports itself cancelled from a given time on, so a test
/// can cancel a running request without a second thread touching it.
class CancelledAt : public FakeContext {
 public:
  explicit CancelledAt(Clock::time_point when) : when_(when) {}
  bool cancelled() const override { return Clock::now() >= when_; }

 private:
  Clock::time_point when_;
};

Json request(Json inputs, FakeContext& context) {
  Harness harness;
  auto result = harness.invoke("http", "request", std::move(inputs), context);
  REQUIRE_FALSE(result.isStatus());
  return result.data();
}

Json request(Json inputs) {
  FakeContext context;
  return request(std::move(inputs), context);
}

std::string requestError(Json inputs, FakeContext& context) {
  Harness harness;
  try {
    harness.invoke("http", "request", std::move(inputs), context);
  } catch (const std::exception& e) {
    return e.what();
  }
  FAIL("http.request did not fail");
  return "";
}

std::string requestError(Json inputs) {
  FakeContext context;
  return requestError(std::move(inputs), context);
}

long long msSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

/// A port nothing listens on: bound, then released.
Poco::UInt16 closedPort() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  const Poco::UInt16 port = socket.address().port();
  socket.close();
  return port;
}

}  // namespace

TEST_CASE("http declares version 1.2.0 and documents every input", "[http]") {
  Harness harness;
  REQUIRE(harness.components().size() == 1);
  CHECK(harness.components().front().key == "http");
  CHECK(harness.components().front().version == "1.2.0");
  for (const auto& input : harness.action("http", "request").inputs) {
    CHECK_FALSE(input.label.empty());
    CHECK_FALSE(input.description.empty());
  }
}

TEST_CASE("http.request GETs JSON and returns it parsed, with status and lower-cased headers", "[http]") {
  TestServer server;
  FakeContext context;
  const Json out = request({{"url", server.url("/echo?token=secret")}}, context);
  CHECK(out["status"] == 200);
  CHECK(out["headers"]["content-type"] == "application/json; charset=utf-8");
  CHECK(out["body"]["method"] == "GET");
  CHECK(out["body"]["uri"] == "/echo?token=secret");
  CHECK(out["body"]["headers"]["user-agent"] == "Plexus-http/1.2.0");
  CHECK(out["body"]["body"] == "");
  REQUIRE(context.logs.size() == 1);
  CHECK(context.logs[0].level == LogLevel::Info);
  // The query may hold secrets: the log names the URL without it.
  CHECK_THAT(context.logs[0].message, Catch::StartsWith("GET " + server.url("/echo") + " -> 200 in "));
}

TEST_CASE("http.request sends a JSON body as application/json", "[http]") {
  TestServer server;
  const Json out = request({{"method", "post"},
                            {"url", server.url("/echo")},
                            {"headers", {{"X-Request-Id", "r-1"}, {"X-Page", 2}}},
                            {"body", {{"render", 42}}}});
  CHECK(out["body"]["method"] == "POST");
  CHECK(out["body"]["headers"]["content-type"] == "application/json");
  CHECK(out["body"]["headers"]["x-request-id"] == "r-1");
  CHECK(out["body"]["headers"]["x-page"] == "2");
  CHECK(out["body"]["body"] == R"({"render":42})");
}

TEST_CASE("http.request sends a string body as text unless a Content-Type header is given", "[http]") {
  TestServer server;
  Json out = request({{"method", "PUT"}, {"url", server.url("/echo")}, {"body", "plain words"}});
  CHECK(out["body"]["headers"]["content-type"] == "text/plain; charset=utf-8");
  CHECK(out["body"]["body"] == "plain words");
  out = request({{"method", "POST"},
                 {"url", server.url("/echo")},
                 {"headers", {{"Content-Type", "application/x-www-form-urlencoded"}}},
                 {"body", "a=1&b=2"}});
  CHECK(out["body"]["headers"]["content-type"] == "application/x-www-form-urlencoded");
  CHECK(out["body"]["body"] == "a=1&b=2");
}

TEST_CASE("http.request sends a binary body with its own content type", "[http]") {
  TestServer server;
  const Json out = request({{"method", "POST"}, {"url", server.url("/echo")}, {"body", plexus::makeBinary(kPng, "image/png")}});
  CHECK(out["body"]["headers"]["content-type"] == "image/png");
  CHECK(out["body"]["headers"]["content-length"] == "10");
}

TEST_CASE("http.request returns a text/* body as a string", "[http]") {
  TestServer server;
  const Json out = request({{"url", server.url("/text")}});
  CHECK(out["body"] == "hello text");
}

TEST_CASE("http.request returns other bodies as binary with their content type", "[http]") {
  TestServer server;
  const Json out = request({{"url", server.url("/binary")}});
  REQUIRE(out["body"].is_binary());
  CHECK(plexus::asBinary(out["body"]).contentType() == "image/png");
  CHECK(std::string(plexus::asBinary(out["body"]).view()) == kPng);
}

TEST_CASE("http.request parses +json types and returns an empty body as null", "[http]") {
  TestServer server;
  CHECK(request({{"url", server.url("/vendor-json")}})["body"] == Json{{"data", {{"id", "7"}}}});
  const Json empty = request({{"url", server.url("/empty")}});
  CHECK(empty["status"] == 204);
  CHECK(empty["body"].is_null());
}

TEST_CASE("http.request returns 4xx answers instead of failing", "[http]") {
  TestServer server;
  const Json out = request({{"url", server.url("/missing")}});
  CHECK(out["status"] == 404);
  CHECK(out["body"] == Json{{"error", "not here"}});
}

TEST_CASE("http.request with failOnStatus fails on 4xx and 5xx, naming the status, not the query", "[http]") {
  TestServer server;
  CHECK(requestError({{"url", server.url("/missing?token=secret")}, {"failOnStatus", true}}) ==
        "GET " + server.url("/missing") + " answered 404 (failOnStatus: a status of 400 or above fails the step)");
  CHECK(request({{"url", server.url("/echo")}, {"failOnStatus", true}})["status"] == 200);
}

TEST_CASE("http.request returns malformed JSON as a string and logs a warning", "[http]") {
  TestServer server;
  FakeContext context;
  const Json out = request({{"url", server.url("/bad-json")}}, context);
  CHECK(out["body"] == "{oops");
  REQUIRE(context.logs.size() == 2);
  CHECK(context.logs[1].level == LogLevel::Warn);
  CHECK_THAT(context.logs[1].message,
             Catch::StartsWith("the response says application/json but its body is not valid JSON (parse error at line 1, "));
}

TEST_CASE("http.request joins a repeated response header with commas", "[http]") {
  TestServer server;
  CHECK(request({{"url", server.url("/repeated")}})["headers"]["x-multi"] == "one, two");
}

TEST_CASE("http.request turns user info in the URL into Basic authentication", "[http]") {
  TestServer server;
  const std::string url = "http://user:pass@127.0.0.1:" + std::to_string(server.port()) + "/echo";
  CHECK(request({{"url", url}})["body"]["headers"]["authorization"] == "Basic dXNlcjpwYXNz");
}

TEST_CASE("http.request follows redirects, logging each hop", "[http][redirects]") {
  TestServer server;
  FakeContext context;
  const Json out = request({{"url", server.url("/redirect?code=302&to=/echo")}}, context);
  CHECK(out["status"] == 200);
  CHECK(out["body"]["uri"] == "/echo");
  REQUIRE(context.logs.size() == 2);
  CHECK_THAT(context.logs[0].message, Catch::StartsWith("GET " + server.url("/redirect") + " -> 302 in "));
  CHECK_THAT(context.logs[1].message, Catch::StartsWith("GET " + server.url("/echo") + " -> 200 in "));
}

TEST_CASE("http.request continues a POST as GET after 303 but keeps it after 307", "[http][redirects]") {
  TestServer server;
  Json out = request({{"method", "POST"}, {"url", server.url("/redirect?code=303&to=/echo")}, {"body", {{"a", 1}}}});
  CHECK(out["body"]["method"] == "GET");
  CHECK(out["body"]["body"] == "");
  CHECK_FALSE(out["body"]["headers"].contains("content-type"));
  out = request({{"method", "POST"}, {"url", server.url("/redirect?code=307&to=/echo")}, {"body", {{"a", 1}}}});
  CHECK(out["body"]["method"] == "POST");
  CHECK(out["body"]["body"] == R"({"a":1})");
}

TEST_CASE("http.request drops Authorization when a redirect changes host", "[http][redirects]") {
  TestServer server;
  const std::string elsewhere = "http://localhost:" + std::to_string(server.port()) + "/echo";
  const Json out = request({{"url", server.url("/redirect?code=302&to=" + Poco::URI(elsewhere).toString())},
                            {"headers", {{"Authorization", "Bearer t"}, {"X-Keep", "yes"}}}});
  CHECK(out["body"]["headers"]["host"] == "localhost:" + std::to_string(server.port()));
  CHECK_FALSE(out["body"]["headers"].contains("authorization"));
  CHECK(out["body"]["headers"]["x-keep"] == "yes");
}

TEST_CASE("http.request drops credentials when a redirect goes to another port of the same host", "[http][redirects]") {
  TestServer first;
  TestServer second;
  const std::string elsewhere = second.url("/echo");
  const Json out = request({{"url", first.url("/redirect?code=307&to=" + Poco::URI(elsewhere).toString())},
                            {"headers", {{"Authorization", "Bearer t"}, {"Cookie", "s=1"}, {"X-Keep", "yes"}}}});
  CHECK(out["body"]["headers"]["host"] == "127.0.0.1:" + std::to_string(second.port()));
  CHECK_FALSE(out["body"]["headers"].contains("authorization"));
  CHECK_FALSE(out["body"]["headers"].contains("cookie"));
  CHECK(out["body"]["headers"]["x-keep"] == "yes");
}

TEST_CASE("http.request gives up after ten redirects", "[http][redirects][errors]") {
  TestServer server;
  FakeContext context;
  CHECK(requestError({{"url", server.url("/loop")}}, context) ==
        "GET " + server.url("/loop") + " was redirected more than 10 times; the last Location was '/loop'");
  CHECK(context.logs.size() == 11);
}

TEST_CASE("http.request times out after timeoutMs with a clear message", "[http][timeouts][errors]") {
  TestServer server;
  const auto start = Clock::now();
  CHECK(requestError({{"url", server.url("/slow")}, {"timeoutMs", 200}}) ==
        "GET " + server.url("/slow") + " timed out after 200 ms (raise input 'timeoutMs' for slow servers)");
  const auto took = msSince(start);
  CHECK(took >= 200);
  CHECK(took < 200 + 300);
}

TEST_CASE("http.request never waits past the execution's deadline", "[http][timeouts][errors]") {
  TestServer server;
  FakeContext context;
  const auto start = Clock::now();
  context.until = start + milliseconds(150);
  CHECK(requestError({{"url", server.url("/slow")}, {"timeoutMs", 30000}}, context) ==
        "GET " + server.url("/slow") + " stopped at the execution's deadline");
  CHECK(msSince(start) < 150 + 300);
}

TEST_CASE("http.request stops waiting when the execution is cancelled", "[http][timeouts][errors]") {
  TestServer server;
  const auto start = Clock::now();
  CancelledAt context(start + milliseconds(100));
  CHECK(requestError({{"url", server.url("/slow")}}, context) ==
        "GET " + server.url("/slow") + " stopped: the execution was cancelled");
  CHECK(msSince(start) < 100 + 300);
}

TEST_CASE("http.request names the URL and cause when it cannot connect", "[http][errors]") {
  const std::string base = "http://127.0.0.1:" + std::to_string(closedPort()) + "/x";
  const std::string message = requestError({{"url", base + "?key=secret"}});
  CHECK_THAT(message, Catch::StartsWith("GET " + base + " failed: Connection refused"));
  CHECK_THAT(message, Catch::EndsWith("(is the server running, and are the host and port right?)"));
  CHECK_THAT(message, !Catch::Contains("secret"));
}

TEST_CASE("http.request refuses bad inputs before sending anything", "[http][errors]") {
  using Row = std::tuple<Json, std::string>;
  auto [inputs, message] = GENERATE(table<Json, std::string>({
      Row{Json::object(), "input 'url' is required"},
      Row{{{"url", "ftp://example.com/file"}}, "input 'url' must start with http:// or https://, got 'ftp://example.com/file'"},
      Row{{{"url", "/relative/path"}}, "input 'url' must start with http:// or https://, got '/relative/path'"},
      Row{{{"url", "http:///nohost"}}, "input 'url' has no host: 'http:///nohost'"},
      Row{{{"url", "http://x/"}, {"method", "GE T"}}, "input 'method' must be an HTTP method like GET or POST, got 'GE T'"},
      Row{{{"url", "http://x/"}, {"timeoutMs", 0}}, "input 'timeoutMs' must be between 1 and 86400000 (24 hours), got 0"},
      Row{{{"url", "http://x/"}, {"headers", "X-A: 1"}}, "input 'headers' must be an object of header name to value, got a string"},
      Row{{{"url", "http://x/"}, {"headers", {{"X-A", "1\r\nX-B: 2"}}}}, "input 'headers': header 'X-A' must not contain line breaks"},
      Row{{{"url", "http://x/"}, {"body", {{"file", plexus::makeBinary("x", "a/b")}}}},
          "input 'body' holds binary data at 'file', which a JSON body cannot carry: send the binary alone as the "
          "body, or convert it with binary.toBase64 first"},
  }));
  INFO("inputs " << inputs.dump());
  FakeContext context;
  CHECK(requestError(inputs, context) == message);
  CHECK(context.logs.empty());
}

#if PLEXUS_HTTP_HAVE_SSL

namespace {

// A self-signed test certificate for 127.0.0.1 and localhost (EC P-256,
// valid until 2126), made with `openssl req -x509`. Test-only.
const char* const kTestCertificate = R"(-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUIy5qgF5iDAw7JYHwaYTHVzXFd6EwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEzMDA2MDAwMVoYDzIxMjYxMTA2
MDYwMDAxWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQHxy44s20K1svVImEdRU3Ox8W5EFJjcD6gtv+QBh3BQhb1VXSAwufB
s35Rp+th/MnPAbY/z6ZUiCNItte32+BPo28wbTAdBgNVHQ4EFgQUxssaNFuZu+9J
JNqtSsLuOjj1PUYwHwYDVR0jBBgwFoAUxssaNFuZu+9JJNqtSsLuOjj1PUYwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI
zj0EAwIDSAAwRQIgERVrrJbuj2scbAnvo7sTdJIJp/3oVFXVsHR7haExUEgCIQC+
K8xV+8a/RAgdiXg7ZheAGHiVW2kT5CAnIvG41YjV6g==
-----END CERTIFICATE-----
)";
const char* const kTestPrivateKey = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgmsYve0gZKINnyODM
3fEbUc7MM9lurOqWN28vcjHL+JGhRANCAAQHxy44s20K1svVImEdRU3Ox8W5EFJj
cD6gtv+QBh3BQhb1VXSAwufBs35Rp+th/MnPAbY/z6ZUiCNItte32+BP
-----END PRIVATE KEY-----
)";

Poco::Net::SecureServerSocket tlsSocket() {
  Poco::Net::Context::Params params;
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;  // no client certificates
  Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
  std::istringstream certificate(kTestCertificate);
  std::istringstream key(kTestPrivateKey);
  context->useCertificate(Poco::Crypto::X509Certificate(certificate));
  context->usePrivateKey(Poco::Crypto::EVPPKey(nullptr, &key));
  return Poco::Net::SecureServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0), 64, context);
}

}  // namespace

TEST_CASE("http.request refuses an https server whose certificate is not trusted", "[http][tls][errors]") {
  TestServer server(tlsSocket());
  const std::string message = requestError({{"url", server.url("/echo", "https")}});
  CHECK_THAT(message, Catch::StartsWith("GET " + server.url("/echo", "https") + " failed: "));
  CHECK_THAT(message, Catch::Contains("certificate"));
  CHECK_THAT(message, Catch::EndsWith("trusted by this machine and valid for this host?)"));
}

TEST_CASE("http.request says so when an https URL reaches a plain http server", "[http][tls][errors]") {
  // A server that answers every connection with plain HTTP at once, so the
  // TLS handshake reliably meets non-TLS bytes (a real HTTP server may wait
  // for a line break the ClientHello never sends).
  Poco::Net::ServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0));
  std::thread answerer([&listener] {
    Poco::Net::StreamSocket connection = listener.acceptConnection();
    const std::string plain = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    connection.sendBytes(plain.data(), static_cast<int>(plain.size()));
    connection.shutdownSend();
  });
  const std::string url = "https://127.0.0.1:" + std::to_string(listener.address().port()) + "/echo";
  const std::string message = requestError({{"url", url}, {"timeoutMs", 5000}});
  answerer.join();
  CHECK_THAT(message, Catch::StartsWith("GET " + url + " failed: "));
  CHECK_THAT(message, Catch::EndsWith("(the TLS connection failed: does the server speak https on this port, with a "
                                      "certificate trusted by this machine and valid for this host?)"));
}




TEST_CASE("http.request talks https to a server with a trusted certificate", "[.tls-trusted]") {
  struct TempFile {
    std::filesystem::path path;
    ~TempFile() { std::filesystem::remove(path); }
  } caFile{std::filesystem::temp_directory_path() / ("plexus-http-test-ca-" + std::to_string(::getpid()) + ".pem")};
  std::ofstream(caFile.path) << kTestCertificate;
  ::setenv("SSL_CERT_FILE", caFile.path.c_str(), 1);
  TestServer server(tlsSocket());
  const Json out = request({{"url", server.url("/echo", "https")}});
  CHECK(out["status"] == 200);
  CHECK(out["body"]["method"] == "GET");
}

#endif

TEST_CASE("an exchange refuses a body over its maxResponseBytes, and no request lifts the runtime's limit",
          "[http][limits]") {
  TestServer server;
  FakeContext context;
  plexus::HttpRequest request;
  request.url = server.url("/text");  // "hello text": 10 bytes
  request.maxResponseBytes = 10;
  CHECK(plexus::testing::sendHttp(request, context).body == "hello text");
  request.maxResponseBytes = 9;
  plexus::HttpResponse refused = plexus::testing::sendHttp(request, context);
  CHECK(refused.failure == plexus::HttpFailure::TooLarge);
  CHECK(refused.error == "the response body is larger than the limit of 9 bytes");
  CHECK(refused.body.empty());

  request.maxResponseBytes = std::numeric_limits<std::size_t>::max();
  plexus::detail::CurlExchange exchange(request, milliseconds(1000), false);
  CHECK(exchange.maxResponseBytes() == plexus::kMaxHttpResponseBytes);
}
