// Webhook invokers' view: the curl commands of the trigger documentation,
// replayed against a real `plexus serve`.
#include "server_fixture.hpp"

#include <atomic>

using namespace plexus::testing_support;

namespace {
std::string sha256Of(const std::string& path) {
  return shell("sha256sum '" + path + "' | cut -d' ' -f1").substr(0, 64);
}
const std::string kPng = sourceDir() + "/tests/fixtures/data/taylor.png";
}  // namespace

TEST_CASE("webhooks behave as the trigger documentation's curl commands show", "[server][webhook][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());

  SECTION("a JSON payload runs asynchronously and its fields reach later steps") {
    std::string url = webhookUrl(server, "render-status");
    CurlResult reply = curl(R"(--data '{"renderId":51266,"s3Bucket":"test-customer-renders","status":"complete"}' )"
                            R"(--header "Content-Type: application/json" ')" + url + "'");
    CHECK(reply.status == 200);
    json body = parse(reply.body);
    std::string id = body["executionId"];
    CHECK(id.size() >= 22);
    CHECK_THAT(reply.headers, Catch::Contains("plexus-execution-id: " + id));
    CHECK_THAT(reply.headers, Catch::Contains("Content-Type: application/json"));

    json execution = waitForEnd(server, id);
    CHECK(execution["status"] == "succeeded");
    CHECK(execution["steps"].size() == 3);
    CHECK(parse(http("GET", server.url() + "/api/executions/" + id + "/steps/lookup/result").body) == 51266);
    HttpResult result = http("GET", server.url() + "/executions/" + id + "/result");
    CHECK(parse(result.body) == json{{"renderId", 51266}, {"bucket", "test-renders"}});
    bool logged = false;
    for (const auto& line : execution["logs"])
      logged |= line["message"] == "render 51266 finished; files in test-renders";
    CHECK(logged);
  }

  SECTION("--data-binary of a PNG arrives byte for byte") {
    std::string url = webhookUrl(server, "raw-echo");
    CurlResult reply = curl("--header 'Content-Type: image/png' --data-binary '@" + kPng + "' --location '" + url + "'");
    CHECK(reply.status == 200);
    CHECK(reply.body == readFile(kPng));
    CHECK_THAT(reply.headers, Catch::Contains("303 See Other"));
    CHECK_THAT(reply.headers, Catch::Contains("Content-Type: image/png"));

    HttpResult info = http("POST", webhookUrl(server, "image-info"), readFile(kPng), {{"Content-Type", "image/png"}});
    CHECK(info.status == 303);
    json described = parse(http("GET", info.header("location")).body);
    CHECK(described["contentType"] == "image/png");
    CHECK(described["size"] == readFile(kPng).size());
    CHECK(described["sha256"] == sha256Of(kPng));
  }

  SECTION("a large binary body (spooled, mapped, stored as a blob file) arrives byte for byte") {
    TempDir scratch;
    std::string big;
    for (std::int64_t i = 0; big.size() < 3 * 1024 * 1024; ++i) big += std::to_string(i * 7919) + "\x01\xff";
    writeFile(scratch.file("big.bin"), big);
    CurlResult reply = curl("--header 'Content-Type: application/pdf' --data-binary '@" + scratch.file("big.bin") +
                            "' --location '" + webhookUrl(server, "raw-echo") + "'");
    CHECK(reply.status == 200);
    CHECK(reply.body.size() == big.size());
    CHECK(reply.body == big);
    CHECK_THAT(reply.headers, Catch::Contains("Content-Type: application/pdf"));
  }

  SECTION("multipart with a JSON part and a file part") {
    std::string url = webhookUrl(server, "trigger-echo");
    CurlResult reply = curl(R"(--request POST --header "Content-Type: multipart/form-data" )"
                            R"(--form person='{"firstname":"Taylor","lastname":"Reece"};type=application/json' )"
                            "--form photo=@" + kPng + " '" + url + "'");
    REQUIRE(reply.status == 200);
    std::string id = parse(reply.body)["executionId"];
    REQUIRE(waitForEnd(server, id)["status"] == "succeeded");
    json results = parse(http("GET", server.url() + "/executions/" + id + "/result").body);
    CHECK(results["body"]["data"]["person"]["data"]["firstname"] == "Taylor");
    CHECK(results["body"]["data"]["person"]["contentType"] == "application/json");
    json photo = results["body"]["data"]["photo"];
    CHECK(photo["filename"] == "taylor.png");
    CHECK(photo["contentType"] == "image/png");
    CHECK(photo["data"]["$binary"]["size"] == readFile(kPng).size());
    CHECK(results["method"] == "POST");
    CHECK(results["webhookUrl"] == url);
    CHECK(results["executionId"] == id);
    CHECK(results["instance"]["name"] == "default");
    CHECK(results["integration"]["key"] == "trigger-echo");

    // The file part's bytes, through a step that returns them.
    CurlResult form = curl("--form person='{\"firstname\":\"Taylor\",\"lastname\":\"Reece\"};type=application/json' --form photo=@" + kPng +
                           " '" + webhookUrl(server, "form-upload") + "' --location");
    CHECK(form.status == 200);
    json summary = parse(form.body);
    CHECK(summary["person"] == "Taylor Reece");
    CHECK(summary["filename"] == "taylor.png");
    CHECK(summary["photo"]["sha256"] == sha256Of(kPng));
  }

  SECTION("a synchronous call with --location gets the final step's output") {
    CurlResult reply = curl(R"(--data '{}' --header "Content-Type: application/json" )"
                            R"(--header "prismatic-synchronous: true" --location ')" +
                            webhookUrl(server, "user-lookup") + "'");
    CHECK(reply.status == 200);
    CHECK(parse(reply.body) == json{{"id", 1}, {"name", "Leanne Graham"}, {"username", "Bret"}});
    CHECK_THAT(reply.headers, Catch::Contains("303 See Other"));
    CHECK_THAT(reply.headers, Catch::Contains("Location: " + server.url() + "/executions/"));
  }

  SECTION("a synchronous call ending in stop-execution answers its status code") {
    CurlResult reply = curl(R"(--verbose --location --header "prismatic-synchronous: true" ')" +
                            webhookUrl(server, "reject-unsupported") + "'");
    CHECK(reply.status == 415);
    CHECK(reply.body.empty());
    CHECK_THAT(reply.headers, !Catch::Contains("Location:"));
    CHECK_THAT(reply.headers, Catch::Contains("plexus-execution-id: "));
  }

  SECTION("the header false makes a synchronous integration answer at once") {
    CurlResult reply = curl(R"(--header "prismatic-synchronous: false" --request POST ')" +
                            webhookUrl(server, "echo") + "'");
    CHECK(reply.status == 200);
    CHECK(parse(reply.body).contains("executionId"));
    CurlResult plexusHeader = curl(R"(--header "plexus-synchronous: false" --data '{"a":1}' )"
                                   R"(--header "Content-Type: application/json" ')" + webhookUrl(server, "echo") + "'");
    CHECK(plexusHeader.status == 200);
    CHECK(parse(plexusHeader.body).contains("executionId"));
  }

  SECTION("the header true makes an asynchronous integration wait") {
    CurlResult reply = curl(R"(--header "plexus-synchronous: true" --data '{"renderId":7}' )"
                            R"(--header "Content-Type: application/json" --location ')" +
                            webhookUrl(server, "render-status") + "'");
    CHECK(reply.status == 200);
    CHECK(parse(reply.body) == json{{"renderId", 7}, {"bucket", "test-renders"}});
  }

  SECTION("any method, query parameters and lower-cased headers reach the trigger results") {
    std::string url = webhookUrl(server, "trigger-echo");
    HttpResult reply = http("PUT", url + "?customer=acme&x=a%20b", "hello", {{"Content-Type", "text/plain"}, {"X-Custom", "Yes"}});
    REQUIRE(reply.status == 200);
    std::string id = parse(reply.body)["executionId"];
    waitForEnd(server, id);
    json results = parse(http("GET", server.url() + "/executions/" + id + "/result").body);
    CHECK(results["method"] == "PUT");
    CHECK(results["queryParameters"] == json{{"customer", "acme"}, {"x", "a b"}});
    CHECK(results["headers"]["x-custom"] == "Yes");
    CHECK(results["body"] == json{{"data", "hello"}, {"contentType", "text/plain"}});
    CHECK(results["rawBody"]["data"]["$binary"]["size"] == 5);
  }

  SECTION("a failed synchronous run answers 500 naming the step") {
    HttpResult reply = http("POST", webhookUrl(server, "fails"));
    CHECK(reply.status == 500);
    json body = parse(reply.body);
    CHECK(body["step"] == "pick");
    CHECK_THAT(body["error"].get<std::string>(), Catch::Contains("'b'"));
    CHECK(body["executionId"] == reply.header("plexus-execution-id"));
  }
}

TEST_CASE("webhook refusals store nothing and say why", "[server][webhook][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path(), {"--max-request-bytes", "1000"});
  auto executionCount = [&] { return calledExecutions(server).size(); };
  std::string url = webhookUrl(server, "render-status");

  SECTION("an unknown token is 404") {
    HttpResult reply = http("POST", server.url() + "/trigger/not-a-real-token", "{}", {{"Content-Type", "application/json"}});
    CHECK(reply.status == 404);
    CHECK(parse(reply.body).contains("error"));
  }

  SECTION("a disabled instance is 404, and enabled again it serves") {
    json instances = parse(http("GET", server.url() + "/api/instances").body);
    std::string id;
    for (const auto& item : instances)
      if (item.value("webhookUrl", "") == url) id = item["id"];
    REQUIRE(http("PATCH", server.url() + "/api/instances/" + id, R"({"enabled": false})").status == 200);
    CHECK(http("POST", url, "{}", {{"Content-Type", "application/json"}}).status == 404);
    REQUIRE(http("PATCH", server.url() + "/api/instances/" + id, R"({"enabled": true})").status == 200);
    CHECK(http("POST", url, "{}", {{"Content-Type", "application/json"}}).status == 200);
  }

  SECTION("malformed JSON is 400 with a JSON error, and no execution is created") {
    std::size_t before = executionCount();
    HttpResult reply = http("POST", url, R"({"renderId": )", {{"Content-Type", "application/json"}});
    CHECK(reply.status == 400);
    CHECK_THAT(parse(reply.body)["error"].get<std::string>(), Catch::StartsWith("request body is not valid JSON"));
    CHECK(reply.header("plexus-execution-id").empty());
    CHECK(executionCount() == before);
  }

  SECTION("a malformed query string is 400 with a JSON error") {
    HttpResult reply = http("POST", url + "?discount=50%", "{}", {{"Content-Type", "application/json"}});
    CHECK(reply.status == 400);
    CHECK_THAT(parse(reply.body)["error"].get<std::string>(), Catch::StartsWith("malformed percent-encoding"));
  }

  SECTION("malformed multipart is 400") {
    std::size_t before = executionCount();
    HttpResult reply = http("POST", url, "no parts here", {{"Content-Type", "multipart/form-data; boundary=zz"}});
    CHECK(reply.status == 400);
    CHECK_THAT(parse(reply.body)["error"].get<std::string>(), Catch::Contains("multipart"));
    CHECK(executionCount() == before);
  }

  SECTION("a body over the request limit is 413") {
    std::size_t before = executionCount();
    CurlResult reply = curl("--data-binary @" + kPng + " --header 'Content-Type: image/png' '" + url + "'");
    CHECK(reply.status == 200);  // 463 bytes: under the limit
    std::string big(5000, 'x');
    HttpResult refused = http("POST", url, big, {{"Content-Type", "text/plain"}});
    CHECK(refused.status == 413);
    CHECK_THAT(parse(refused.body)["error"].get<std::string>(), Catch::Contains("limit of 1000 bytes"));
    CHECK(executionCount() == before + 1);
  }
}

TEST_CASE("synchronous limits: the timeout answers 504 and the run goes on; big outputs are refused",
          "[server][webhook][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path(),
                       {"--sync-timeout", "1", "--max-response-bytes", "40"});

  HttpResult slow = http("POST", webhookUrl(server, "slow"));
  CHECK(slow.status == 504);
  json body = parse(slow.body);
  std::string id = body["executionId"];
  CHECK_THAT(body["error"].get<std::string>(), Catch::Contains("1 s"));
  CHECK(waitForEnd(server, id)["status"] == "succeeded");

  HttpResult big = http("POST", webhookUrl(server, "echo"), R"({"text": "this body is longer than forty bytes, surely"})",
                        {{"Content-Type", "application/json"}});
  CHECK(big.status == 500);
  CHECK_THAT(parse(big.body)["error"].get<std::string>(), Catch::Contains("response limit of 40 bytes"));
}

TEST_CASE("hundreds of synchronous callers can wait at once", "[server][webhook][e2e]") {
  ServerFolders folders;
  writeFile(folders.integrations.file("nap.yaml"), R"(name: Nap
trigger: { webhook: {} }
execution: { synchronous: true }
steps:
  - name: nap
    component: delay
    action: sleep
    inputs: { ms: 1000 }
)");
  ServerProcess server(folders.integrations.path(), folders.data.path(), {"--workers", "300", "--http-threads", "400",
                                                                 "--max-connections-per-client", "400"});
  std::string url = webhookUrl(server, "nap");
  constexpr int kCallers = 300;
  std::atomic<int> redirected{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i)
    callers.emplace_back([&] {
      try {
        if (http("POST", url).status == 303) ++redirected;
      } catch (const std::exception&) {
        // Counted as a failure by the check below.
      }
    });
  for (auto& caller : callers) caller.join();
  CHECK(redirected == kCallers);
}
