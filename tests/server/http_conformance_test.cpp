// Black-box HTTP/1.1 conformance (RFC 9112) of a real `plexus serve`:
// hand-crafted bytes on a raw socket, as an attacker or a broken client
// sends them. Each refusal must be a JSON error, create no execution, and
// close the connection when bytes the server did not read remain on it, so
// that nothing in a body is ever taken for a second request (smuggling).
// Issue 10, items 1, 8 and 9. Written against the contract only, so the same
// tests judge any HTTP front end.
#include "server_fixture.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "raw_connection.hpp"

using namespace plexus::testing_support;

namespace {

/// How long a reply may take before the test calls the server hung. The
/// server's own idle timeouts are longer than this on today's main (60 s).
constexpr double kReplySeconds = 5;
/// How long a connection may stay open after an error reply.
constexpr double kCloseSeconds = 3;
/// Silence after which no second reply is coming.
constexpr double kQuietSeconds = 1.5;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string pathOf(const std::string& url) {
  auto start = url.find('/', url.find("://") + 3);
  return url.substr(start);
}

/// A server with the test integrations, and the paths an attacker aims at:
/// `target` (trigger-echo, asynchronous) and `smuggled` (render-status,
/// instance acme), which only a request smuggled inside a body would reach.
struct Conformance {
  ServerFolders folders;
  ServerProcess server;
  std::string target;
  std::string smuggled;
  std::map<std::string, std::string> auth;  ///< For /api when the flags set --api-token.

  explicit Conformance(std::vector<std::string> flags = {"--max-request-bytes", "100000"})
      : server(folders.integrations.path(), folders.data.path(), flags) {
    auto token = std::find(flags.begin(), flags.end(), "--api-token");
    if (token != flags.end()) auth["Authorization"] = "Bearer " + *std::next(token);
    target = pathOf(webhookUrl(server, "trigger-echo", "default", auth));
    smuggled = pathOf(webhookUrl(server, "render-status", "acme", auth));
  }

  json executions() const { return calledExecutions(server, auth); }
  std::size_t executionCount() const { return executions().size(); }
  std::size_t smuggledCount() const {
    std::size_t count = 0;
    for (const auto& execution : executions()) count += execution["integration"] == "render-status";
    return count;
  }
  bool alive() const {
    try {
      return http("GET", server.url() + "/healthz").status == 200;
    } catch (const std::exception&) {
      return false;
    }
  }
  /// A complete request to the smuggling target: if the server ever runs
  /// it, an execution of render-status appears.
  std::string smuggledRequest() const {
    return "POST " + smuggled + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
           "{\"renderId\":666}";
  }
};

/// Shows what came back when a check fails.
std::string describe(const RawExchange& exchange) {
  std::string out = std::to_string(exchange.replies.size()) + " replies";
  for (const auto& reply : exchange.replies) out += " | " + std::to_string(reply.status) + " " + reply.body.substr(0, 300);
  if (!exchange.unparsed.empty()) out += " | unparsed: " + exchange.unparsed.substr(0, 300);
  out += exchange.closedByServer ? " | closed by server" : "";
  out += exchange.timedOut ? " | timed out (no reply)" : "";
  return out;
}

/// The body is a JSON object with a non-empty string "error".
void checkJsonError(const RawReply& reply) {
  INFO("status " << reply.status << ", content-type '" << reply.header("content-type") << "', body: " << reply.body);
  CHECK_THAT(reply.header("content-type"), Catch::Contains("application/json"));
  json body;
  try {
    body = json::parse(reply.body);
  } catch (const std::exception& error) {
    FAIL_CHECK("the error body is not JSON: " << error.what());
    return;
  }
  CHECK(body.is_object());
  CHECK(body.contains("error"));
  if (body.contains("error")) {
    CHECK(body["error"].is_string());
    if (body["error"].is_string()) CHECK_FALSE(body["error"].get<std::string>().empty());
  }
}

/// Sends `bytes` (then EOF when `halfClose`) and checks the standard
/// refusal: exactly one reply within kReplySeconds with one of `statuses`,
/// a JSON error, no new execution, nothing taken for a second request, and
/// the connection closed. Returns the reply for further checks.
RawReply expectRefusal(Conformance& c, const std::string& bytes, std::set<int> statuses, bool halfClose = false) {
  std::size_t before = c.executionCount();
  RawConnection connection(c.server.port());
  connection.send(bytes);
  if (halfClose) connection.shutdownWrite();
  RawExchange exchange = connection.read(kReplySeconds);
  INFO("sent: " << bytes.substr(0, 400));
  INFO("got: " << describe(exchange));
  REQUIRE(exchange.replies.size() >= 1);
  const RawReply& reply = exchange.replies.front();
  INFO("status " << reply.status);
  CHECK(statuses.count(reply.status) == 1);
  checkJsonError(reply);
  RawExchange rest = connection.readUntilQuiet(kQuietSeconds);
  INFO("after the reply: " << describe(rest));
  CHECK(rest.replies.empty());  // No second request parsed out of the body.
  CHECK((rest.closedByServer || connection.closedWithin(kCloseSeconds)));
  CHECK(c.alive());
  CHECK(c.executionCount() == before);
  return reply;
}

std::string webhookHead(const std::string& path, const std::string& headers) {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n";
}

}  // namespace

TEST_CASE("a Content-Length body cut short by EOF is refused with 400 and not executed",
          "[conformance][http][framing]") {
  Conformance c;
  std::string head = webhookHead(c.target, "Content-Type: text/plain\r\nContent-Length: 1000\r\n");
  expectRefusal(c, head + std::string(500, 'a'), {400}, true);
}

TEST_CASE("a chunked body that ends before its last chunk is refused with 400 at once",
          "[conformance][http][framing]") {
  Conformance c;
  std::string head = webhookHead(c.target, "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n");
  SECTION("EOF after a complete chunk") { expectRefusal(c, head + "5\r\nhello\r\n", {400}, true); }
  SECTION("EOF inside a chunk's data") { expectRefusal(c, head + "a\r\nhel", {400}, true); }
  SECTION("EOF after the chunk size line") { expectRefusal(c, head + "5\r\n", {400}, true); }
}

TEST_CASE("malformed chunk sizes are refused with 400 and the rest is not read as a second request",
          "[conformance][http][framing][smuggling]") {
  Conformance c;
  std::string head = webhookHead(c.target, "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n");
  for (std::string size : {"zz", "-5", "ffffffffffffffff", "10000000000000000", "0x5", " 5", "5 5"}) {
    DYNAMIC_SECTION("chunk size '" << size << "'") {
      expectRefusal(c, head + size + "\r\nhello\r\n0\r\n\r\n" + c.smuggledRequest(), {400});
      CHECK(c.smuggledCount() == 0);
    }
  }
}

TEST_CASE("a Content-Length that is not one decimal number is refused with a JSON 400",
          "[conformance][http][framing][smuggling]") {
  Conformance c;
  SECTION("two different Content-Length headers (2 and 5)") {
    expectRefusal(c, webhookHead(c.target, "Content-Type: text/plain\r\nContent-Length: 2\r\nContent-Length: 5\r\n") +
                         "hello",
                  {400});
  }
  SECTION("one Content-Length listing two different values") {
    expectRefusal(c, webhookHead(c.target, "Content-Type: text/plain\r\nContent-Length: 2, 5\r\n") + "hello", {400});
  }
  for (std::string value : {"abc", "-1", "+5", "0x5", "5 5", "1e3", ""}) {
    DYNAMIC_SECTION("Content-Length: '" << value << "'") {
      expectRefusal(c, webhookHead(c.target, "Content-Type: text/plain\r\nContent-Length: " + value + "\r\n") + "hello",
                    {400});
    }
  }
  SECTION("a Content-Length beyond 64 bits") {
    // Too large either way: 400 (cannot be parsed) or 413 (over the limit).
    expectRefusal(c, webhookHead(c.target, "Content-Type: text/plain\r\nContent-Length: 99999999999999999999999\r\n") +
                         "hello",
                  {400, 413});
  }
}

TEST_CASE("a transfer coding the server does not implement is refused at once, not a hang",
          "[conformance][http][framing]") {
  Conformance c;
  // RFC 9112 §6.1: 501 for an unknown coding; §6.3: 400 when chunked is not last.
  for (std::string coding : {"gzip, chunked", "identity", "gzip", "deflate, chunked"}) {
    DYNAMIC_SECTION("Transfer-Encoding: " << coding) {
      expectRefusal(c, webhookHead(c.target, "Content-Type: text/plain\r\nTransfer-Encoding: " + coding + "\r\n") +
                           "5\r\nhello\r\n0\r\n\r\n",
                    {400, 501});
    }
  }
  SECTION("Transfer-Encoding: chunked, gzip (chunked not the final coding)") {
    expectRefusal(c, webhookHead(c.target, "Content-Type: text/plain\r\nTransfer-Encoding: chunked, gzip\r\n") +
                         "5\r\nhello\r\n0\r\n\r\n",
                  {400});
  }
}

TEST_CASE("Transfer-Encoding together with Content-Length is refused with 400 and the connection closed",
          "[conformance][http][framing][smuggling]") {
  Conformance c;
  std::string body = "5\r\nhello\r\n0\r\n\r\n";
  expectRefusal(c, webhookHead(c.target, "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nContent-Length: " +
                                               std::to_string(body.size()) + "\r\n") +
                       body,
                {400});
}

TEST_CASE("a request with neither Content-Length nor Transfer-Encoding has an empty body and is answered at once (black box)",
          "[conformance][http][framing]") {
  Conformance c;
  SECTION("a webhook POST: null body, and the connection serves the next request") {
    RawConnection connection(c.server.port());
    connection.send(webhookHead(c.target, ""));
    RawExchange exchange = connection.read(kReplySeconds);
    INFO(describe(exchange));
    REQUIRE(exchange.replies.size() == 1);
    CHECK(exchange.replies[0].status == 200);
    std::string id = parse(exchange.replies[0].body)["executionId"];
    json execution = waitForEnd(c.server, id);
    CHECK(execution["status"] == "succeeded");
    json results = parse(http("GET", c.server.url() + "/executions/" + id + "/result").body);
    CHECK(results["body"]["data"].is_null());
    CHECK(results["rawBody"]["data"]["$binary"]["size"] == 0);

    connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    RawExchange next = connection.read(kReplySeconds);
    INFO(describe(next));
    REQUIRE(next.replies.size() == 1);
    CHECK(next.replies[0].status == 200);
  }
  SECTION("a synchronous integration told prismatic-synchronous: false") {
    RawConnection connection(c.server.port());
    connection.send(webhookHead(pathOf(webhookUrl(c.server, "echo")), "prismatic-synchronous: false\r\n"));
    RawExchange exchange = connection.read(kReplySeconds);
    INFO(describe(exchange));
    REQUIRE(exchange.replies.size() == 1);
    CHECK(exchange.replies[0].status == 200);
    CHECK(parse(exchange.replies[0].body).contains("executionId"));
  }
  SECTION("POST /api/instances with no body is answered at once, with a JSON error") {
    RawConnection connection(c.server.port());
    connection.send("POST /api/instances HTTP/1.1\r\nHost: x\r\n\r\n");
    RawExchange exchange = connection.read(kReplySeconds);
    INFO(describe(exchange));
    REQUIRE(exchange.replies.size() == 1);
    CHECK(exchange.replies[0].status == 400);
    checkJsonError(exchange.replies[0]);
  }
  SECTION("PATCH /api/instances/ID with no body is answered at once") {
    std::string id = parse(http("GET", c.server.url() + "/api/instances").body)[0]["id"];
    RawConnection connection(c.server.port());
    connection.send("PATCH /api/instances/" + id + " HTTP/1.1\r\nHost: x\r\n\r\n");
    RawExchange exchange = connection.read(kReplySeconds);
    INFO(describe(exchange));
    REQUIRE(exchange.replies.size() == 1);
    CHECK(exchange.replies[0].status < 500);
  }
}

TEST_CASE("Expect: 100-continue with a body over the limit is answered 413 without reading it",
          "[conformance][http][expect]") {
  Conformance c({"--max-request-bytes", "1000"});
  SECTION("over the limit: 413, not 100 Continue") {
    std::size_t before = c.executionCount();
    RawConnection connection(c.server.port());
    connection.send(webhookHead(c.target, "Content-Type: text/plain\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n"));
    RawExchange exchange = connection.read(kReplySeconds);
    INFO(describe(exchange));
    REQUIRE(exchange.replies.size() >= 1);
    CHECK(exchange.replies[0].status == 413);
    checkJsonError(exchange.replies[0]);
    CHECK((exchange.closedByServer || connection.closedWithin(kCloseSeconds)));
    CHECK(c.executionCount() == before);
  }
  SECTION("within the limit: 100 Continue (or straight to the reply), then 200") {
    RawConnection connection(c.server.port());
    connection.send(webhookHead(c.target, "Content-Type: text/plain\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"));
    RawExchange interim = connection.read(1);
    INFO(describe(interim));
    if (!interim.replies.empty()) CHECK(interim.replies[0].status == 100);
    connection.send("hello");
    RawExchange exchange = connection.read(kReplySeconds);
    INFO(describe(exchange));
    REQUIRE(exchange.replies.size() == 1);
    CHECK(exchange.replies[0].status == 200);
  }
}

TEST_CASE("a JSON number that overflows is a 400 like other malformed JSON, not a 500",
          "[conformance][http][json]") {
  Conformance c;
  for (std::string text : {R"({"n":1e400})", R"({"n":-1e400})", R"([1e99999])"}) {
    DYNAMIC_SECTION("webhook body " << text) {
      std::size_t before = c.executionCount();
      HttpResult reply = http("POST", c.server.url() + c.target, text, {{"Content-Type", "application/json"}});
      INFO(reply.body);
      CHECK(reply.status == 400);
      CHECK(parse(reply.body).contains("error"));
      CHECK(c.executionCount() == before);
    }
  }
  SECTION("API body") {
    std::string id = parse(http("GET", c.server.url() + "/api/instances").body)[0]["id"];
    HttpResult reply = http("PATCH", c.server.url() + "/api/instances/" + id, R"({"enabled":1e400})",
                            {{"Content-Type", "application/json"}});
    INFO(reply.body);
    CHECK(reply.status == 400);
    CHECK(parse(reply.body).contains("error"));
  }
}

TEST_CASE("the Authorization scheme Bearer is case-insensitive; a wrong token is a JSON 401",
          "[conformance][http][auth]") {
  Conformance c({"--api-token", "s3cret-t0ken"});
  std::string url = c.server.url() + "/api/executions";
  for (std::string scheme : {"Bearer", "bearer", "BEARER", "bEaReR"}) {
    DYNAMIC_SECTION("scheme '" << scheme << "'") {
      HttpResult reply = http("GET", url, "", {{"Authorization", scheme + " s3cret-t0ken"}});
      INFO(reply.body);
      CHECK(reply.status == 200);
    }
  }
  for (std::string value : {"Bearer wrong-token", "bearer s3cret-t0ke", "Basic czNjcmV0LXQwa2Vu", "s3cret-t0ken", ""}) {
    DYNAMIC_SECTION("refused: Authorization '" << value << "'") {
      std::map<std::string, std::string> headers;
      if (!value.empty()) headers["Authorization"] = value;
      HttpResult reply = http("GET", url, "", headers);
      INFO(reply.body);
      CHECK(reply.status == 401);
      CHECK(reply.header("content-type").find("application/json") == 0);
      CHECK(parse(reply.body).contains("error"));
    }
  }
}

TEST_CASE("errors the HTTP layer itself sends are JSON too, and close the connection",
          "[conformance][http][errors]") {
  Conformance c;
  SECTION("a malformed request line") { expectRefusal(c, "GARBAGE\r\n\r\n", {400}); }
  SECTION("a request line with an extra field") { expectRefusal(c, "GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n", {400}); }
  SECTION("a header line without a colon") { expectRefusal(c, "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", {400}); }
  SECTION("a header name with a space inside") {
    expectRefusal(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", {400});
  }
  SECTION("a header value of 100 KB") {
    expectRefusal(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n", {400, 431});
  }
  SECTION("10,000 header fields") {
    std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 10000; ++i) head += "X-" + std::to_string(i) + ": y\r\n";
    expectRefusal(c, head + "\r\n", {400, 431});
  }
  SECTION("a URI of 100 KB") {
    expectRefusal(c, "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", {400, 414, 431});
  }
  SECTION("an unsupported HTTP version") { expectRefusal(c, "GET /healthz HTTP/3.7\r\nHost: x\r\n\r\n", {400, 505}); }
  SECTION("a NUL byte in a header value") {
    const char bytes[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n";
    expectRefusal(c, std::string(bytes, sizeof bytes - 1), {400});
  }
}

TEST_CASE("request smuggling: bytes inside a body are never executed as a request of their own",
          "[conformance][http][smuggling]") {
  Conformance c;
  std::string smuggled = c.smuggledRequest();
  auto hex = [](std::size_t n) {
    char text[32];
    std::snprintf(text, sizeof text, "%zx", n);
    return std::string(text);
  };
  struct Variant {
    std::string name;
    std::string bytes;
    bool mustRefuse;  ///< RFC 9112 requires a 400 here; otherwise one correct handling passes too.
    std::set<int> refusals = {400};
  };
  std::string clte = "0\r\n\r\n" + smuggled;
  std::string tecl = hex(smuggled.size()) + "\r\n" + smuggled + "\r\n0\r\n\r\n";
  std::string tePrefix = hex(smuggled.size()) + "\r\n";
  std::vector<Variant> variants = {
      {"CL.TE: the body ends early if Transfer-Encoding wins",
       webhookHead(c.target, "Content-Length: " + std::to_string(clte.size()) + "\r\nTransfer-Encoding: chunked\r\n") + clte,
       true},
      {"TE.CL: the body ends early if Content-Length wins",
       webhookHead(c.target, "Transfer-Encoding: chunked\r\nContent-Length: " + std::to_string(tePrefix.size()) + "\r\n") + tecl,
       true},
      {"Transfer-Encoding : chunked (whitespace before the colon)",
       webhookHead(c.target, "Content-Length: " + std::to_string(clte.size()) + "\r\nTransfer-Encoding : chunked\r\n") + clte,
       true},
      {"Transfer-Encoding folded onto the previous line (obs-fold)",
       webhookHead(c.target, "Content-Length: " + std::to_string(clte.size()) + "\r\nX-Note: a\r\n Transfer-Encoding: chunked\r\n") + clte,
       false},
      {"Transfer-Encoding value folded (obs-fold)",
       webhookHead(c.target, "Content-Length: " + std::to_string(clte.size()) + "\r\nTransfer-Encoding:\r\n chunked\r\n") + clte,
       true},
      // Chunked applied twice (RFC 9112 §7: "MUST NOT"): malformed (400), or a
      // coding the server does not implement (501); either way refused.
      {"Transfer-Encoding: chunked, chunked",
       webhookHead(c.target, "Transfer-Encoding: chunked, chunked\r\n") + "0\r\n\r\n" + smuggled, true, {400, 501}},
      {"Transfer-Encoding: chunked twice as two header lines",
       webhookHead(c.target, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n" + smuggled, true},
      {"Transfer-Encoding: xchunked with Content-Length",
       webhookHead(c.target, "Content-Length: " + std::to_string(clte.size()) + "\r\nTransfer-Encoding: xchunked\r\n") + clte,
       true},
      {"Transfer-Encoding: chunked then a second, unknown coding line",
       webhookHead(c.target, "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n") + "0\r\n\r\n" + smuggled, true},
      // A quoted-string cannot hold CR or LF (RFC 9110 §5.6.4): a parser that
      // reads on to the closing quote and one that stops at the CRLF disagree.
      {"a chunk extension with an unterminated quoted string",
       webhookHead(c.target, "Transfer-Encoding: chunked\r\n") + "0;ext=\"\r\n\r\n" + smuggled, true},
      {"a bare LF ending the chunk size line, CL.TE",
       webhookHead(c.target, "Content-Length: " + std::to_string(clte.size() + 1) + "\r\nTransfer-Encoding: chunked\r\n") +
           "0\n\r\n" + smuggled + "x",
       true},
      {"a chunked body whose trailer section holds a request",
       webhookHead(c.target, "Transfer-Encoding: chunked\r\n") + "0\r\n" + smuggled, false},
      {"GET /healthz with a Content-Length body holding a request",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled,
       false},
      {"GET /api/instances with a Content-Length body holding a request",
       "GET /api/instances HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" +
           smuggled,
       false},
      {"GET /executions/none/result with a chunked body holding a request",
       "GET /executions/none/result HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
           hex(smuggled.size()) + "\r\n" + smuggled + "\r\n0\r\n\r\n",
       false},
      {"a GET with a Content-Length body holding a request",
       "GET " + c.target + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" +
           smuggled,
       false},
  };
  for (const auto& variant : variants) {
    DYNAMIC_SECTION(variant.name) {
      std::size_t before = c.executionCount();
      RawConnection connection(c.server.port());
      connection.send(variant.bytes);
      RawExchange exchange = connection.readUntilQuiet(kQuietSeconds);
      INFO("sent: " << variant.bytes);
      INFO("got: " << describe(exchange));
      // Answered, once; the smuggled request never ran.
      REQUIRE(exchange.replies.size() >= 1);
      CHECK(exchange.replies.size() == 1);
      const RawReply& reply = exchange.replies.front();
      INFO("status " << reply.status);
      if (variant.mustRefuse) CHECK(variant.refusals.count(reply.status) == 1);
      if (reply.status >= 400) {
        checkJsonError(reply);
        CHECK(c.executionCount() == before);
      }
      if (!exchange.closedByServer) {
        // Kept open: then the body was read to its end, and the connection
        // serves exactly the next request, with nothing left over from this one.
        connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        RawExchange next = connection.readUntilQuiet(kQuietSeconds);
        INFO("follow-up GET /healthz on the same connection: " << describe(next));
        REQUIRE(next.replies.size() >= 1);
        CHECK(next.replies.size() == 1);
        CHECK(next.replies[0].status == 200);
      }
      if (reply.status < 400) {
        CHECK(c.executionCount() <= before + 1);
      }
      CHECK(c.smuggledCount() == 0);
      CHECK(c.alive());
    }
  }
}

TEST_CASE("deeply nested JSON is refused with 400 naming the nesting, and the server stays up",
          "[conformance][http][json][nesting]") {
  Conformance c({"--max-request-bytes", "10000000"});
  auto checkNestingRefused = [&](const std::string& contentType, const std::string& body) {
    std::size_t before = c.executionCount();
    HttpResult reply;
    try {
      reply = http("POST", c.server.url() + c.target, body, {{"Content-Type", contentType}});
    } catch (const std::exception& error) {
      FAIL_CHECK("no reply (the server died?): " << error.what());
    }
    INFO(reply.body.substr(0, 500));
    CHECK(reply.status == 400);
    std::string message = lower(reply.body);
    CHECK((message.find("nest") != std::string::npos || message.find("depth") != std::string::npos));
    REQUIRE(c.alive());
    CHECK(c.executionCount() == before);
  };
  SECTION("40,000 [ as application/json") {
    checkNestingRefused("application/json", std::string(40000, '[') + std::string(40000, ']'));
  }
  SECTION("40,000 unclosed [ (the parser must stop before the end)") {
    checkNestingRefused("application/json", std::string(40000, '['));
  }
  SECTION("40,000 {\"a\": as application/vnd.api+json") {
    std::string body;
    for (int i = 0; i < 40000; ++i) body += "{\"a\":";
    body += "1" + std::string(40000, '}');
    checkNestingRefused("application/vnd.api+json", body);
  }
  SECTION("a multipart part of type application/json nested 40,000 deep") {
    std::string part = std::string(40000, '[') + std::string(40000, ']');
    std::string body = "--b\r\nContent-Disposition: form-data; name=\"deep\"\r\nContent-Type: application/json\r\n\r\n" +
                       part + "\r\n--b--\r\n";
    checkNestingRefused("multipart/form-data; boundary=b", body);
  }
  SECTION("an API body nested 40,000 deep") {
    std::string id = parse(http("GET", c.server.url() + "/api/instances").body)[0]["id"];
    HttpResult reply;
    try {
      reply = http("PATCH", c.server.url() + "/api/instances/" + id,
                   "{\"configVars\":" + std::string(40000, '[') + std::string(40000, ']') + "}",
                   {{"Content-Type", "application/json"}});
    } catch (const std::exception& error) {
      FAIL_CHECK("no reply (the server died?): " << error.what());
    }
    INFO(reply.body.substr(0, 500));
    CHECK(reply.status == 400);
    REQUIRE(c.alive());
  }
  SECTION("512 levels, the default limit, are still accepted") {
    HttpResult reply = http("POST", c.server.url() + c.target, std::string(500, '[') + std::string(500, ']'),
                            {{"Content-Type", "application/json"}});
    CHECK(reply.status == 200);
  }
}

TEST_CASE("chunk extensions and trailer fields are bounded: a megabyte of them is not buffered forever",
          "[conformance][http][framing]") {
  Conformance c;
  std::string head = webhookHead(c.target, "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n");
  auto checkAnsweredOnce = [&](const std::string& bytes) {
    std::size_t before = c.executionCount();
    RawConnection connection(c.server.port());
    connection.send(bytes);
    RawExchange exchange = connection.readUntilQuiet(kReplySeconds);
    INFO("got: " << describe(exchange));
    REQUIRE(exchange.replies.size() >= 1);
    CHECK(exchange.replies.size() == 1);
    int status = exchange.replies[0].status;
    // A server may accept them (200) or refuse them (400, 413, 431); either
    // way once, and a refusal runs nothing.
    CHECK((status == 200 || status == 400 || status == 413 || status == 431));
    if (status >= 400) {
      checkJsonError(exchange.replies[0]);
      CHECK(c.executionCount() == before);
    }
    CHECK(c.alive());
  };
  SECTION("a chunk extension of 1 MB") {
    checkAnsweredOnce(head + "5;ext=" + std::string(1 << 20, 'a') + "\r\nhello\r\n0\r\n\r\n");
  }
  SECTION("a trailer field of 1 MB") {
    checkAnsweredOnce(head + "5\r\nhello\r\n0\r\nX-Trailer: " + std::string(1 << 20, 'a') + "\r\n\r\n");
  }
  SECTION("100,000 empty chunk extensions") {
    std::string extensions;
    for (int i = 0; i < 100000; ++i) extensions += ";e";
    checkAnsweredOnce(head + "5" + extensions + "\r\nhello\r\n0\r\n\r\n");
  }
}
