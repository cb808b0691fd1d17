// The HTTP front end against hostile or broken callers, over raw sockets
// to a real `plexus serve`: framing (RFC 9112 §6), Expect, limits,
// timeouts, connection caps, the bearer scheme, the listening socket.
#include "server_fixture.hpp"

#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/StreamCopier.h>

#include "raw_http.hpp"

using namespace plexus::testing_support;
using namespace plexus::testing_support::raw_http;

namespace {

std::string pathOf(const std::string& url) {
  std::size_t start = url.find('/', url.find("//") + 2);
  return url.substr(start);
}

std::size_t executionCount(const ServerProcess& server) {
  return calledExecutions(server).size();
}

std::string post(const std::string& path, const std::string& headers) {
  return "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n" + headers + "\r\n";
}

/// The reply is a JSON error containing `text`.
void checkJsonError(const RawReply& reply, const std::string& text) {
  INFO(reply.body);
  CHECK(reply.header("content-type") == "application/json");
  json body = parse(reply.body);
  REQUIRE(body.contains("error"));
  CHECK_THAT(body["error"].get<std::string>(), Catch::Contains(text));
}

}  // namespace

TEST_CASE("broken request framing is a JSON 400 (or 501), runs nothing and closes the connection",
          "[server][http][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  std::string path = pathOf(webhookUrl(server, "render-status"));
  std::size_t before = executionCount(server);
  RawConnection connection(server.port());

  SECTION("a body shorter than its Content-Length, then EOF") {
    connection.send(post(path, "Content-Length: 1000\r\n") + std::string(500, 'x'));
    connection.shutdownWrite();
    auto reply = connection.readReply();
    REQUIRE(reply);
    CHECK(reply->status == 400);
    checkJsonError(*reply, "ended after 500 of the 1000 bytes");
    CHECK(connection.closedWithin(5));
  }

  SECTION("a chunked body without its last chunk, then EOF") {
    connection.send(post(path, "Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n");
    connection.shutdownWrite();
    auto reply = connection.readReply();
    REQUIRE(reply);
    CHECK(reply->status == 400);
    checkJsonError(*reply, "before its last (zero-size) chunk");
  }

  SECTION("an invalid chunk size, and what follows is not taken for a second request") {
    std::string size = GENERATE(as<std::string>{}, "zz", "-5", "ffffffffffffffff");
    INFO("chunk size " << size);
    connection.send(post(path, "Transfer-Encoding: chunked\r\n") + size + "\r\nhello\r\n0\r\n\r\n" +
                    "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n");
    auto reply = connection.readReply();
    REQUIRE(reply);
    CHECK(reply->status == 400);
    checkJsonError(*reply, "invalid chunk");
    CHECK_FALSE(connection.readReply(3));  // No reply to the smuggled GET: the connection closed.
  }

  SECTION("two Content-Length headers that differ") {
    connection.send(post(path, "Content-Length: 2\r\nContent-Length: 5\r\n") + "hello");
    auto reply = connection.readReply();
    REQUIRE(reply);
    CHECK(reply->status == 400);
    checkJsonError(*reply, "Content-Length");
    CHECK(connection.closedWithin(5));
  }

  SECTION("a Content-Length that is not a number") {
    connection.send(post(path, "Content-Length: abc\r\n") + "hello");
    auto reply = connection.readReply();
    REQUIRE(reply);
    CHECK(reply->status == 400);
    checkJsonError(*reply, "Content-Length");
  }

  SECTION("a transfer coding other than chunked alone is 501") {
    std::string coding = GENERATE(as<std::string>{}, "gzip, chunked", "gzip", "chunked, chunked");
    INFO("Transfer-Encoding: " << coding);
    connection.send(post(path, "Transfer-Encoding: " + coding + "\r\n") + "5\r\nhello\r\n0\r\n\r\n");
    auto reply = connection.readReply(5);
    REQUIRE(reply);
    CHECK(reply->status == 501);
    checkJsonError(*reply, "is not supported");
    CHECK(connection.closedWithin(5));
  }

  // Each case above must have run nothing.
  CHECK(executionCount(server) == before);
}

TEST_CASE("a request with neither Content-Length nor Transfer-Encoding has an empty body, answered at once",
          "[server][http][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  RawConnection connection(server.port());

  // The reference documentation's `curl --request POST URL` with no data.
  connection.send("POST " + pathOf(webhookUrl(server, "echo")) +
                  " HTTP/1.1\r\nHost: test\r\nprismatic-synchronous: false\r\n\r\n");
  auto reply = connection.readReply(5);
  REQUIRE(reply);
  CHECK(reply->status == 200);
  CHECK(parse(reply->body).contains("executionId"));

  connection.send("POST /api/instances HTTP/1.1\r\nHost: test\r\n\r\n");
  auto instance = connection.readReply(5);
  REQUIRE(instance);
  CHECK(instance->status == 400);  // {} names no integration.
  checkJsonError(*instance, "");

  // Two requests in one write (pipelining): two replies, in order.
  connection.send("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\nGET /api/nothing HTTP/1.1\r\nHost: test\r\n\r\n");
  auto first = connection.readReply(5);
  auto second = connection.readReply(5);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->status == 200);
  CHECK(second->status == 404);
}

TEST_CASE("Expect: 100-continue is answered before the body is sent: 100, or the refusal",
          "[server][http][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path(), {"--max-request-bytes", "1000"});
  std::string path = pathOf(webhookUrl(server, "render-status"));
  RawConnection connection(server.port());

  SECTION("an oversized Content-Length is 413, not 100") {
    connection.send(post(path, "Content-Length: 5000\r\nExpect: 100-continue\r\n"));
    auto reply = connection.readReply(5);
    REQUIRE(reply);
    CHECK(reply->status == 413);
    checkJsonError(*reply, "request body of 5000 bytes is larger than the limit of 1000 bytes");
  }

  SECTION("an unknown webhook token is 404, not 100, and its body is not read") {
    connection.send(post("/trigger/no-such-token", "Content-Length: 5000\r\nExpect: 100-continue\r\n"));
    auto reply = connection.readReply(5);
    REQUIRE(reply);
    CHECK(reply->status == 404);
    checkJsonError(*reply, "no webhook at this URL");
  }

  SECTION("a body within the limit gets 100 Continue, then the reply") {
    connection.send(post(path, "Content-Length: 5\r\nExpect: 100-continue\r\n"));
    auto interim = connection.readReply(5);
    REQUIRE(interim);
    CHECK(interim->status == 100);
    connection.send("hello");
    auto reply = connection.readReply(5);
    REQUIRE(reply);
    CHECK(reply->status == 200);
  }

  SECTION("a chunked body over the limit is 413 as it arrives") {
    connection.send(post(path, "Transfer-Encoding: chunked\r\n") + "800\r\n" + std::string(0x800, 'x') + "\r\n0\r\n\r\n");
    auto reply = connection.readReply(5);
    REQUIRE(reply);
    CHECK(reply->status == 413);
    checkJsonError(*reply, "limit of 1000 bytes");
  }
}

TEST_CASE("the front end's own errors are JSON", "[server][http][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  RawConnection connection(server.port());

  SECTION("a request head over 64 KiB is 431") {
    connection.send("GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n");
    auto reply = connection.readReply(5);
    REQUIRE(reply);
    CHECK(reply->status == 431);
    checkJsonError(*reply, "--max-header-bytes");
  }

  SECTION("a malformed request line is 400") {
    connection.send("NOT HTTP AT ALL\r\n\r\n");
    auto reply = connection.readReply(5);
    REQUIRE(reply);
    CHECK(reply->status == 400);
    checkJsonError(*reply, "malformed request");
  }
}

TEST_CASE("the bearer scheme of Authorization is case-insensitive", "[server][http][api][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path(), {"--api-token", "s3cret"});
  for (const char* header : {"Bearer s3cret", "bearer s3cret", "BEARER s3cret", "Bearer  s3cret"}) {
    INFO(header);
    CHECK(http("GET", server.url() + "/api/instances", "", {{"Authorization", header}}).status == 200);
  }
  for (const char* header : {"Basic s3cret", "bearers3cret", "Bearer s3cre", "Bearer s3cretX", "s3cret"}) {
    INFO(header);
    HttpResult denied = http("GET", server.url() + "/api/instances", "", {{"Authorization", header}});
    CHECK(denied.status == 401);
    CHECK(parse(denied.body).contains("error"));
  }
}

TEST_CASE("a second server on the same port fails to start with 'address in use'", "[server][http][e2e]") {
  ServerFolders folders;
  ServerProcess first(folders.integrations.path(), folders.data.path());
  TempDir otherData;
  Poco::Pipe out;
  std::vector<std::string> args = {"serve",         "--port",         std::to_string(first.port()),
                                   "--host",        "127.0.0.1",      "--plugins",
                                   pluginsDir(),    "--integrations", folders.integrations.path(),
                                   "--data",        otherData.path()};
  Poco::ProcessHandle second = Poco::Process::launch(plexusBinary(), args, nullptr, &out, &out);
  Poco::PipeInputStream stream(out);
  std::string output;
  Poco::StreamCopier::copyToString(stream, output);
  int code = second.wait();
  INFO(output);
  CHECK(code != 0);
  CHECK_THAT(output, Catch::Contains("address in use"));
  CHECK(http("GET", first.url() + "/healthz").status == 200);
}

TEST_CASE("idle, slow and stalled connections are closed by their deadlines", "[server][http][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path(),
                       {"--header-timeout", "1", "--keepalive-timeout", "1", "--body-timeout", "1",
                        "--min-body-rate", "100000"});

  SECTION("a connection that sends nothing") {
    RawConnection silent(server.port());
    CHECK(silent.closedWithin(6));
  }

  SECTION("a head sent a byte at a time is cut at the header timeout with 408") {
    RawConnection slow(server.port());
    std::string head = "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: " + std::string(40, 'a');
    std::optional<RawReply> reply;
    for (char c : head) {
      if (!slow.send(std::string(1, c))) break;
      reply = slow.readReply(0.1);
      if (reply) break;
    }
    REQUIRE(reply);
    CHECK(reply->status == 408);
    checkJsonError(*reply, "--header-timeout");
    CHECK(slow.closedWithin(5));
  }

  SECTION("an idle keep-alive connection is closed after the keep-alive timeout") {
    RawConnection idle(server.port());
    idle.send("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n");
    auto reply = idle.readReply(5);
    REQUIRE(reply);
    CHECK(reply->status == 200);
    CHECK(idle.closedWithin(6));
  }

  SECTION("a body below the minimum rate is cut with 408") {
    RawConnection trickle(server.port());
    trickle.send(post(pathOf(webhookUrl(server, "render-status")), "Content-Length: 1000000\r\n"));
    std::optional<RawReply> reply;
    for (int i = 0; i < 100 && !reply; ++i) {
      if (!trickle.send(std::string(10, 'x'))) break;
      reply = trickle.readReply(0.1);
    }
    REQUIRE(reply);
    CHECK(reply->status == 408);
    checkJsonError(*reply, "too slowly");
  }
}

TEST_CASE("connection caps: per client address, and in all (the longest-waiting connection gives way)",
          "[server][http][e2e]") {
  ServerFolders folders;

  SECTION("over --max-connections-per-client is 503 for that address only") {
    ServerProcess server(folders.integrations.path(), folders.data.path(), {"--max-connections-per-client", "3"});
    std::vector<RawConnection> held;
    for (int i = 0; i < 3; ++i) held.emplace_back(server.port(), "127.0.0.2");
    CHECK(held.back().silentFor(0.5));  // Admitted: nothing said, still open.
    RawConnection extra(server.port(), "127.0.0.2");
    auto refused = extra.readReply(5);
    REQUIRE(refused);
    CHECK(refused->status == 503);
    checkJsonError(*refused, "--max-connections-per-client");
    CHECK(http("GET", server.url() + "/healthz").status == 200);  // From 127.0.0.1.
  }

  SECTION("at --max-connections a new caller takes an idle connection's place") {
    ServerProcess server(folders.integrations.path(), folders.data.path(),
                         {"--max-connections", "4", "--max-connections-per-client", "0"});
    std::vector<RawConnection> idle;
    for (int i = 0; i < 4; ++i) idle.emplace_back(server.port(), "127.0.0.2");
    CHECK(idle.back().silentFor(0.5));
    CHECK(http("GET", server.url() + "/healthz").status == 200);
    CHECK(idle.front().closedWithin(5));  // The longest-waiting one was closed.
  }
}
