// Webhook trigger options (CONTRACT §8) through a real `plexus serve` with the
// real webhook-auth and webhook-handshake plugins: signatures as senders make
// them, handshakes as providers send them, idempotency keys (across kill -9
// too) and custom replies. Signatures are computed by the openssl command
// line here, not by the code under test.
#include "server_fixture.hpp"

#include <chrono>
#include <thread>

using namespace plexus::testing_support;

namespace {

const char* kGithub = R"(name: GitHub Events
configVars:
  - key: githubSecret
    type: secret
    default: "It's a Secret to Everybody"
trigger:
  webhook:
    component: webhook-auth
    trigger: hmac
    inputs: { preset: github, secret: "{{ configVars.githubSecret }}" }
    idempotencyKey: "{{ trigger.results.headers.x-github-delivery }}"
steps:
  - name: event
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data }}" }
)";

const char* kSlack = R"(name: Slack Events
configVars:
  - key: signingSecret
    type: secret
    default: 8f742231b10e8888abcd99yyyzzz85a5
trigger:
  webhook:
    component: webhook-handshake
    trigger: challenge
    inputs: { provider: slack, secret: "{{ configVars.signingSecret }}" }
steps:
  - name: event
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data.event }}" }
)";

const char* kMeta = R"(name: Meta Events
configVars:
  - key: verifyToken
    type: secret
    default: meatyhamhock
trigger:
  webhook:
    component: webhook-handshake
    trigger: challenge
    inputs: { provider: meta, verifyToken: "{{ configVars.verifyToken }}" }
steps:
  - name: event
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data }}" }
)";

const char* kGraph = R"(name: Graph Notifications
trigger:
  webhook:
    component: webhook-handshake
    trigger: challenge
    inputs: { provider: graph }
steps:
  - name: event
    component: json
    action: value
    inputs: { value: 1 }
)";

const char* kApiKey = R"(name: Keyed Intake
configVars:
  - key: apiKey
    type: secret
    default: k-123
trigger:
  webhook:
    component: webhook-auth
    trigger: api-key
    inputs: { value: "{{ configVars.apiKey }}", header: authorization }
steps:
  - name: event
    component: json
    action: value
    inputs: { value: 1 }
)";

const char* kBasic = R"(name: Basic Intake
trigger:
  webhook:
    component: webhook-auth
    trigger: basic
    inputs: { username: Aladdin, password: open sesame }
steps:
  - name: event
    component: json
    action: value
    inputs: { value: 1 }
)";

const char* kAccepted = R"(name: Accepted Reply
trigger:
  webhook:
    response:
      statusCode: 202
      headers: { content-type: text/plain, x-order: "{{ trigger.results.body.data.order }}" }
      body: "accepted {{ execution.id }}"
steps:
  - name: event
    component: json
    action: value
    inputs: { value: 1 }
)";

const char* kSlowSync = R"(name: Slow Sync
execution: { synchronous: true }
trigger:
  webhook: {}
steps:
  - name: wait
    component: delay
    action: sleep
    inputs: { ms: 1500 }
  - name: done
    component: json
    action: value
    inputs: { value: { body: "{{ trigger.results.body.data }}" } }
)";

const char* kKeyedByTemplate = R"(name: Keyed By Template
trigger:
  webhook:
    idempotencyKey: "{{ trigger.results.body.data.order }}-{{ trigger.results.body.data.line }}"
steps:
  - name: event
    component: json
    action: value
    inputs: { value: 1 }
)";

const char* kUnsetSecret = R"(name: Unset Secret
configVars:
  - key: signingSecret
    type: secret
trigger:
  webhook:
    component: webhook-handshake
    trigger: challenge
    inputs: { provider: slack, secret: "{{ configVars.signingSecret }}" }
steps:
  - name: event
    component: json
    action: value
    inputs: { value: 1 }
)";

struct OptionsFolders : ServerFolders {
  OptionsFolders() {
    writeFile(integrations.file("github.yaml"), kGithub);
    writeFile(integrations.file("slack.yaml"), kSlack);
    writeFile(integrations.file("meta.yaml"), kMeta);
    writeFile(integrations.file("graph.yaml"), kGraph);
    writeFile(integrations.file("api-key.yaml"), kApiKey);
    writeFile(integrations.file("basic.yaml"), kBasic);
    writeFile(integrations.file("accepted.yaml"), kAccepted);
    writeFile(integrations.file("slow-sync.yaml"), kSlowSync);
    writeFile(integrations.file("keyed-by-template.yaml"), kKeyedByTemplate);
    writeFile(integrations.file("unset-secret.yaml"), kUnsetSecret);
  }
};

/// Hex HMAC-SHA256 of `message` with `secret`, by the openssl command line.
std::string opensslHmac(const std::string& secret, const std::string& message, const TempDir& scratch) {
  writeFile(scratch.file("message"), message);
  writeFile(scratch.file("secret"), secret);
  std::string out = shell("openssl dgst -sha256 -hmac \"$(cat '" + scratch.file("secret") + "')\" < '" +
                          scratch.file("message") + "'");
  return out.substr(out.rfind(' ') + 1, 64);
}

/// How many executions an integration has.
std::size_t executionsOf(const ServerProcess& server, const std::string& integration) {
  std::size_t count = 0;
  for (const auto& execution : calledExecutions(server)) count += execution["integration"] == integration;
  return count;
}

}  // namespace

TEST_CASE("a GitHub webhook with its signature runs; without it, 401 and no execution", "[server][webhook-options]") {
  OptionsFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  const std::string url = webhookUrl(server, "github-events");

  // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
  const std::string signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
  CurlResult reply = curl("--header 'X-Hub-Signature-256: " + signature +
                          "' --header 'X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958' "
                          "--header 'Content-Type: text/plain' --data-binary 'Hello, World!' '" + url + "'");
  REQUIRE(reply.status == 200);
  const std::string id = parse(reply.body)["executionId"];
  CHECK(waitForEnd(server, id)["status"] == "succeeded");
  CHECK(http("GET", server.url() + "/executions/" + id + "/result").body == "Hello, World!");

  // GitHub redelivers with the same X-GitHub-Delivery: the first execution answers.
  CurlResult again = curl("--header 'X-Hub-Signature-256: " + signature +
                          "' --header 'X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958' "
                          "--header 'Content-Type: text/plain' --data-binary 'Hello, World!' '" + url + "'");
  CHECK(again.status == 200);
  CHECK(parse(again.body)["executionId"] == id);
  CHECK_THAT(again.headers, Catch::Contains("plexus-idempotent-replay: true"));

  for (const std::string& headers : {std::string(""), std::string("--header 'X-Hub-Signature-256: sha256=00'")}) {
    CurlResult refused = curl(headers + " --header 'Content-Type: text/plain' --data-binary 'Hello, World!' '" + url + "'");
    CHECK(refused.status == 401);
    CHECK(parse(refused.body).contains("error"));
    CHECK_THAT(refused.headers, !Catch::Contains("plexus-execution-id"));
  }
  // A tampered body with the right signature for another one.
  CurlResult tampered = curl("--header 'X-Hub-Signature-256: " + signature +
                             "' --header 'Content-Type: text/plain' --data-binary 'Hello, World?' '" + url + "'");
  CHECK(tampered.status == 401);
  CHECK(executionsOf(server, "github-events") == 1);
  // The secret never reaches the log.
  CHECK_THAT(server.output(), !Catch::Contains("It's a Secret to Everybody"));
}

TEST_CASE("a Slack app's event URL: the signed url_verification is answered, events run", "[server][webhook-options]") {
  OptionsFolders folders;
  TempDir scratch;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  const std::string url = webhookUrl(server, "slack-events");
  const std::string secret = "8f742231b10e8888abcd99yyyzzz85a5";
  auto signedCurl = [&](const std::string& body) {
    const std::string timestamp = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    const std::string signature = "v0=" + opensslHmac(secret, "v0:" + timestamp + ":" + body, scratch);
    writeFile(scratch.file("body.json"), body);
    return curl("--header 'Content-Type: application/json' --header 'X-Slack-Request-Timestamp: " + timestamp +
                "' --header 'X-Slack-Signature: " + signature + "' --data-binary '@" + scratch.file("body.json") +
                "' '" + url + "'");
  };

  CurlResult handshake = signedCurl(
      R"({"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"})");
  CHECK(handshake.status == 200);
  CHECK(handshake.body == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
  CHECK_THAT(handshake.headers, Catch::Contains("Content-Type: text/plain", Catch::CaseSensitive::No));
  CHECK_THAT(handshake.headers, !Catch::Contains("plexus-execution-id"));

  CurlResult event = signedCurl(R"({"type":"event_callback","event":{"type":"app_mention","text":"hi"}})");
  REQUIRE(event.status == 200);
  const std::string id = parse(event.body)["executionId"];
  CHECK(waitForEnd(server, id)["status"] == "succeeded");
  CHECK(parse(http("GET", server.url() + "/executions/" + id + "/result").body)["text"] == "hi");

  CurlResult forged = curl(R"(--header 'Content-Type: application/json' --data '{"type":"url_verification","challenge":"x"}' ')" +
                           url + "'");
  CHECK(forged.status == 401);
  CHECK(executionsOf(server, "slack-events") == 1);
}

TEST_CASE("Meta's and Microsoft Graph's verification requests are answered as they document", "[server][webhook-options]") {
  OptionsFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  const std::string meta = webhookUrl(server, "meta-events");
  CurlResult verified =
      curl("'" + meta + "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock'");
  CHECK(verified.status == 200);
  CHECK(verified.body == "1158201444");
  CurlResult wrong = curl("'" + meta + "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess'");
  CHECK(wrong.status == 403);
  CHECK(executionsOf(server, "meta-events") == 0);

  const std::string graph = webhookUrl(server, "graph-notifications");
  CurlResult validation = curl("--request POST '" + graph + "?validationToken=Validation%3A%20Testing%20client'");
  CHECK(validation.status == 200);
  CHECK(validation.body == "Validation: Testing client");
  CHECK_THAT(validation.headers, Catch::Contains("Content-Type: text/plain", Catch::CaseSensitive::No));
  CurlResult notification = curl(R"(--header 'Content-Type: application/json' --data '{"value":[]}' ')" + graph + "'");
  CHECK(notification.status == 200);
  CHECK(parse(notification.body).contains("executionId"));
}

TEST_CASE("api-key and basic refuse with 401; basic asks for credentials", "[server][webhook-options]") {
  OptionsFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  const std::string keyed = webhookUrl(server, "keyed-intake");
  CHECK(curl("--header 'Authorization: Bearer k-123' --data '{}' '" + keyed + "'").status == 200);
  CHECK(curl("--header 'Authorization: Bearer k-124' --data '{}' '" + keyed + "'").status == 401);
  CHECK(curl("--data '{}' '" + keyed + "'").status == 401);

  const std::string basic = webhookUrl(server, "basic-intake");
  CHECK(curl("--user 'Aladdin:open sesame' --data '{}' '" + basic + "'").status == 200);
  CurlResult refused = curl("--user 'Aladdin:guess' --data '{}' '" + basic + "'");
  CHECK(refused.status == 401);
  CHECK_THAT(refused.headers, Catch::Contains("WWW-Authenticate: Basic"));
  CHECK(executionsOf(server, "keyed-intake") == 1);
  CHECK(executionsOf(server, "basic-intake") == 1);
}

TEST_CASE("trigger.webhook.response answers asynchronous calls", "[server][webhook-options]") {
  OptionsFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  CurlResult reply =
      curl(R"(--header 'Content-Type: application/json' --data '{"order":"A-17"}' ')" + webhookUrl(server, "accepted-reply") + "'");
  CHECK(reply.status == 202);
  CHECK_THAT(reply.headers, Catch::Contains("Content-Type: text/plain", Catch::CaseSensitive::No));
  CHECK_THAT(reply.headers, Catch::Contains("x-order: A-17"));
  const auto at = reply.headers.find("plexus-execution-id: ");
  REQUIRE(at != std::string::npos);
  const std::string id = reply.headers.substr(at + 21, reply.headers.find('\r', at) - at - 21);
  CHECK(reply.body == "accepted " + id);
  CHECK(waitForEnd(server, id)["status"] == "succeeded");
}

TEST_CASE("Idempotency-Key: a repeat replays the first execution, another body is 422", "[server][webhook-options]") {
  OptionsFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  const std::string url = webhookUrl(server, "render-status");
  const std::map<std::string, std::string> keyA = {{"Content-Type", "application/json"}, {"Idempotency-Key", "order-1"}};
  HttpResult first = http("POST", url, R"({"renderId":1})", keyA);
  REQUIRE(first.status == 200);
  const std::string id = parse(first.body)["executionId"];
  CHECK(first.header("plexus-idempotent-replay").empty());

  HttpResult repeat = http("POST", url, R"({"renderId":1})", keyA);
  CHECK(repeat.status == 200);
  CHECK(parse(repeat.body)["executionId"] == id);
  CHECK(repeat.header("plexus-idempotent-replay") == "true");
  CHECK(repeat.header("plexus-execution-id") == id);

  HttpResult otherBody = http("POST", url, R"({"renderId":2})", keyA);
  CHECK(otherBody.status == 422);
  CHECK_THAT(parse(otherBody.body)["error"].get<std::string>(), Catch::Contains("another request body"));

  HttpResult otherKey = http("POST", url, R"({"renderId":1})", {{"Content-Type", "application/json"}, {"Idempotency-Key", "order-2"}});
  CHECK(parse(otherKey.body)["executionId"] != id);
  // The key is per instance: the same key on another instance starts its own.
  HttpResult tooLong = http("POST", url, "{}", {{"Content-Type", "application/json"}, {"Idempotency-Key", std::string(256, 'k')}});
  CHECK(tooLong.status == 400);
  HttpResult atBound = http("POST", url, "{}", {{"Content-Type", "application/json"}, {"Idempotency-Key", std::string(255, 'k')}});
  CHECK(atBound.status == 200);
  CHECK(executionsOf(server, "render-status") == 3);
}

TEST_CASE("an idempotencyKey template alone keys its integration's requests", "[server][webhook-options]") {
  OptionsFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  const std::string url = webhookUrl(server, "keyed-by-template");
  const std::map<std::string, std::string> json = {{"Content-Type", "application/json"}};
  const std::string first = parse(http("POST", url, R"({"order":"A","line":1})", json).body)["executionId"];
  HttpResult repeat = http("POST", url, R"({"order":"A","line":1})", json);
  CHECK(parse(repeat.body)["executionId"] == first);
  CHECK(repeat.header("plexus-idempotent-replay") == "true");
  // The caller's header cannot take the key the template makes for another request.
  HttpResult squatter = http("POST", url, R"({"junk":true})", {{"Content-Type", "application/json"}, {"Idempotency-Key", "B-2"}});
  CHECK(squatter.status == 200);
  CHECK(squatter.header("plexus-idempotent-replay").empty());
  HttpResult real = http("POST", url, R"({"order":"B","line":2})", json);
  CHECK(real.status == 200);
  CHECK(real.header("plexus-idempotent-replay").empty());
  // A key the template renders longer than 255 bytes is a 400, not silently no key.
  HttpResult tooLong = http("POST", url, R"({"order":")" + std::string(300, 'x') + R"(","line":1})", json);
  CHECK(tooLong.status == 400);
}

TEST_CASE("a handshake whose secret config variable is unset refuses instead of running", "[server][webhook-options]") {
  OptionsFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  CurlResult forged = curl(R"(--header 'Content-Type: application/json' --data '{"type":"event_callback"}' ')" +
                           webhookUrl(server, "unset-secret") + "'");
  CHECK(forged.status == 500);
  CHECK_THAT(parse(forged.body)["error"].get<std::string>(), Catch::Contains("input 'secret' is empty"));
  CHECK(executionsOf(server, "unset-secret") == 0);
}

TEST_CASE("Idempotency-Key: a synchronous repeat waits for the first run's outcome", "[server][webhook-options]") {
  OptionsFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  const std::string url = webhookUrl(server, "slow-sync");
  const std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", "sync-1"}};
  HttpResult first;
  std::thread caller([&] { first = http("POST", url, R"({"n":1})", headers); });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the first is inside its 1.5 s step
  HttpResult repeat = http("POST", url, R"({"n":1})", headers);
  caller.join();
  CHECK(first.status == 303);
  CHECK(repeat.status == 303);
  CHECK(repeat.header("location") == first.header("location"));
  CHECK(repeat.header("plexus-idempotent-replay") == "true");
  CHECK(parse(http("GET", repeat.header("location")).body) == json{{"body", {{"n", 1}}}});
  CHECK(executionsOf(server, "slow-sync") == 1);
}

TEST_CASE("Idempotency-Key: a kill -9 between two identical keyed calls does not let both run",
          "[server][webhook-options]") {
  OptionsFolders folders;
  const std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", "crash-1"}};
  std::string id;
  {
    ServerProcess server(folders.integrations.path(), folders.data.path());
    HttpResult first = http("POST", webhookUrl(server, "render-status"), R"({"renderId":9})", headers);
    REQUIRE(first.status == 200);
    id = parse(first.body)["executionId"];
    server.kill9();  // acknowledged: its key must be durable with it
  }
  ServerProcess restarted(folders.integrations.path(), folders.data.path());
  HttpResult repeat = http("POST", webhookUrl(restarted, "render-status"), R"({"renderId":9})", headers);
  CHECK(repeat.status == 200);
  CHECK(parse(repeat.body)["executionId"] == id);
  CHECK(repeat.header("plexus-idempotent-replay") == "true");
  CHECK(waitForEnd(restarted, id)["status"] == "succeeded");
  CHECK(executionsOf(restarted, "render-status") == 1);
}

TEST_CASE("Idempotency-Key: a key expires after --idempotency-ttl", "[server][webhook-options]") {
  OptionsFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path(), {"--idempotency-ttl", "1"});
  const std::string url = webhookUrl(server, "render-status");
  const std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", "ttl-1"}};
  const std::string first = parse(http("POST", url, "{}", headers).body)["executionId"];
  CHECK(parse(http("POST", url, "{}", headers).body)["executionId"] == first);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  HttpResult later = http("POST", url, "{}", headers);
  CHECK(parse(later.body)["executionId"] != first);
  CHECK(later.header("plexus-idempotent-replay").empty());
}

TEST_CASE("webhook options are checked when the integration loads", "[server][webhook-options]") {
  TempDir folder;
  writeFile(folder.file("bad.yaml"), R"(name: Bad
trigger:
  webhook:
    component: webhook-auth
    trigger: hmak
    idempotencyKey: "{{ steps.x.results }}"
steps:
  - name: x
    component: json
    action: value
    inputs: { value: 1 }
)");
  int status = 0;
  std::string out = shell(plexusBinary() + " validate " + folder.file("bad.yaml") + " --plugins " + pluginsDir() + " 2>&1",
                          &status);
  CHECK(status != 0);
  CHECK_THAT(out, Catch::Contains("bad.yaml:5:14: component 'webhook-auth' has no trigger 'hmak' (did you mean 'hmac'?)"));
  CHECK_THAT(out, Catch::Contains("no step has run when the webhook answers"));

  writeFile(folder.file("bad2.yaml"), R"(name: Bad Two
trigger:
  webhook:
    idempotencyKey: "{{ execution.id }}"
    response: { statusCode: 101 }
steps:
  - name: x
    component: json
    action: value
    inputs: { value: 1 }
)");
  out = shell(plexusBinary() + " validate " + folder.file("bad2.yaml") + " --plugins " + pluginsDir() + " 2>&1", &status);
  CHECK(status != 0);
  CHECK_THAT(out, Catch::Contains("the key decides whether an execution starts"));
  CHECK_THAT(out, Catch::Contains("'statusCode' must be a whole number from 200 to 599"));
}
