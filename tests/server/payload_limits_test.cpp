// What a caller sends cannot crash the server or make it hold unbounded
// memory (issue 10, items 1 and 5): deeply nested JSON, numbers that
// overflow, bodies whose parsed value would cost far more than their
// bytes, forms with a million fields. Each through a real `plexus serve`.
#include "server_fixture.hpp"

using namespace plexus::testing_support;

namespace {

const char* const kIntegrations[][2] = {
    {"take.yaml", R"(name: Take
trigger: { webhook: {} }
steps:
  - name: keep
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data }}" }
)"},
    {"parse-text.yaml", R"(name: Parse Text
trigger: { webhook: {} }
steps:
  - name: parsed
    component: json
    action: parse
    inputs: { text: "{{ trigger.results.body.data }}" }
)"},
    {"echo-chain.yaml", R"(name: Echo Chain
trigger: { webhook: {} }
execution: { synchronous: true }
steps:
  - name: first
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data }}" }
  - name: second
    component: json
    action: value
    inputs: { value: "{{ steps.first.results }}" }
)"},
    {"parse-chain.yaml", R"(name: Parse Chain
trigger: { webhook: {} }
execution: { synchronous: true }
steps:
  - name: parsed
    component: json
    action: parse
    inputs: { text: "{{ trigger.results.body.data }}" }
  - name: again
    component: json
    action: value
    inputs: { value: "{{ steps.parsed.results }}" }
)"}};

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

struct LimitsServer {
  TempDir integrations;
  TempDir data;
  std::unique_ptr<ServerProcess> server;
  LimitsServer() {
    for (const auto& [name, text] : kIntegrations) writeFile(integrations.file(name), text);
    start();
  }
  void start() { server = std::make_unique<ServerProcess>(integrations.path(), data.path()); }
  HttpResult post(const std::string& integration, const std::string& body, const std::string& contentType) {
    return http("POST", webhookUrl(*server, integration), body, {{"Content-Type", contentType}});
  }
  bool healthy() const { return http("GET", server->url() + "/healthz").status == 200; }
};

std::string errorOf(const HttpResult& reply) {
  INFO(reply.body);
  return parse(reply.body).value("error", "");
}

}  // namespace

TEST_CASE("deeply nested JSON bodies are a 400 naming the limit, and the server stays up", "[server][limits][e2e]") {
  LimitsServer s;

  SECTION("40,000 levels to an async webhook") {
    HttpResult reply = s.post("take", nested(40000), "application/json");
    CHECK(reply.status == 400);
    CHECK(errorOf(reply) ==
          "request body is refused: JSON nested deeper than 512 levels of arrays and objects (at byte 512); "
          "flatten the data, or raise the server's --max-json-depth");
    CHECK(reply.header("plexus-execution-id").empty());
    CHECK(s.healthy());
  }

  SECTION("512 levels are accepted and served back; 513 are refused") {
    HttpResult ok = s.post("echo-chain", nested(512), "application/json");
    REQUIRE(ok.status == 303);
    HttpResult result = http("GET", ok.header("location"));
    CHECK(result.status == 200);
    CHECK(result.body == nested(512));
    CHECK(s.post("echo-chain", nested(513), "application/json").status == 400);
  }

  SECTION("a JSON part of a multipart body is held to the same limit") {
    std::string body = "--XyZ\r\nContent-Disposition: form-data; name=\"doc\"\r\nContent-Type: application/json\r\n\r\n" +
                       nested(40000) + "\r\n--XyZ--\r\n";
    HttpResult reply = s.post("take", body, "multipart/form-data; boundary=XyZ");
    CHECK(reply.status == 400);
    CHECK_THAT(errorOf(reply), Catch::StartsWith("multipart field 'doc' is refused: JSON nested deeper than 512"));
    CHECK(s.healthy());
  }

  SECTION("a synchronous json.value chain over 20,000 levels answers instead of crashing") {
    HttpResult reply = s.post("echo-chain", nested(20000), "application/json");
    CHECK(reply.status == 400);
    CHECK_THAT(errorOf(reply), Catch::Contains("nested deeper than 512"));
    CHECK(s.healthy());
  }
}

TEST_CASE("100,000 levels parsed by a step fail that execution, and the server restarts healthy", "[server][limits][e2e]") {
  LimitsServer s;
  HttpResult reply = s.post("parse-text", nested(100000), "text/plain");
  REQUIRE(reply.status == 200);
  std::string id = parse(reply.body)["executionId"];
  json execution = waitForEnd(*s.server, id);
  CHECK(execution["status"] == "failed");
  CHECK_THAT(execution["error"].get<std::string>(),
             Catch::StartsWith("step 'parsed': ") &&
                 Catch::EndsWith("input 'text' is refused: JSON nested deeper than 512 levels of arrays and objects "
                                 "(at byte 512); flatten the data, or raise json.parse's limit (the SDK's "
                                 "plexus::kDefaultMaxJsonDepth)"));
  CHECK(http("GET", s.server->url() + "/executions/" + id + "/result").status == 409);

  s.server->stop();
  s.start();
  CHECK(s.healthy());
  CHECK(parse(http("GET", s.server->url() + "/api/executions/" + id).body)["status"] == "failed");

  SECTION("synchronously, through a chain, the caller gets the failure") {
    HttpResult sync = s.post("parse-chain", nested(20000), "text/plain");
    CHECK(sync.status == 500);
    CHECK_THAT(errorOf(sync), Catch::Contains("nested deeper than 512"));
    CHECK(parse(sync.body)["step"] == "parsed");
    CHECK(s.healthy());
  }
}

TEST_CASE("a number that overflows a double is a 400 like other malformed JSON", "[server][limits][e2e]") {
  LimitsServer s;
  HttpResult reply = s.post("take", R"({"n": 1e400})", "application/json");
  CHECK(reply.status == 400);
  CHECK(errorOf(reply) == "request body is not valid JSON: number at byte 11 overflows a 64-bit float: '1e400' "
                          "(send a smaller number, or send it as a string)");
}

TEST_CASE("bodies whose parsed value would cost far more than their bytes are a 413 naming the budget", "[server][limits][e2e]") {
  LimitsServer s;

  SECTION("JSON of empty strings costs over 20 times its size") {
    std::string body = "[\"\"";
    for (int i = 0; i < 100000; ++i) body += ",\"\"";
    body += "]";
    HttpResult reply = s.post("take", body, "application/json");
    CHECK(reply.status == 413);
    CHECK_THAT(errorOf(reply), Catch::StartsWith("request body is refused: JSON value would take more than ") &&
                                   Catch::Contains("raise the server's --json-memory-factor (12 times the body's "));
  }

  SECTION("realistic JSON of the same size is accepted") {
    std::string body = "[";
    for (int i = 0; i < 5000; ++i)
      body += std::string(i ? "," : "") + R"({"id":)" + std::to_string(i) + R"(,"name":"user)" + std::to_string(i) +
              R"(","email":"user@example.com","active":true})";
    body += "]";
    CHECK(s.post("take", body, "application/json").status == 200);
  }

  SECTION("a form with more than 10,000 fields") {
    std::string body = "a0=1";
    for (int i = 1; i <= 10000; ++i) body += "&a" + std::to_string(i) + "=1";
    HttpResult reply = s.post("take", body, "application/x-www-form-urlencoded");
    CHECK(reply.status == 413);
    CHECK(errorOf(reply) == "form body has more than 10000 fields (the server's --max-form-fields); "
                            "send fewer, or send them as JSON");
    CHECK(s.post("take", body.substr(0, body.rfind('&')), "application/x-www-form-urlencoded").status == 200);
  }
  CHECK(s.healthy());
}
