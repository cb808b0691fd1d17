// The /api endpoints of CONTRACT §6 against a real server, with and without a token.
#include "server_fixture.hpp"

#include <set>

using namespace plexus::testing_support;

TEST_CASE("the API lists and manages instances, integrations, components and executions", "[server][api][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  std::string api = server.url() + "/api";

  SECTION("healthz answers once everything is loaded") {
    CHECK(http("GET", server.url() + "/healthz").status == 200);
  }

  SECTION("instances show webhook URLs, schedules and next runs, secrets masked") {
    json instances = parse(http("GET", api + "/instances").body);
    bool sawWebhook = false, sawSchedule = false;
    for (const auto& item : instances) {
      CHECK(item.contains("id"));
      CHECK(item.contains("enabled"));
      if (item["integration"] == "render-status" && item["name"] == "acme") {
        sawWebhook = true;
        CHECK_THAT(item["webhookUrl"].get<std::string>(), Catch::StartsWith(server.url() + "/trigger/"));
        CHECK(item["configVars"]["bucket"] == "acme-renders");
      }
      if (item["integration"] == "business-hours-sync" && item["name"] == "globex") {
        sawSchedule = true;
        CHECK(item["schedule"] == json{{"cron", "0 9 * * MON"}, {"timezone", "Europe/Berlin"}});
        CHECK(item.contains("nextRunAt"));
        CHECK_FALSE(item.contains("webhookUrl"));
      }
    }
    CHECK(sawWebhook);
    CHECK(sawSchedule);
  }

  SECTION("integrations and components are listed") {
    json integrations = parse(http("GET", api + "/integrations").body);
    CHECK(integrations.size() >= 10);
    json components = parse(http("GET", api + "/components").body);
    std::set<std::string> keys;
    for (const auto& component : components["components"]) keys.insert(component["key"]);
    for (const char* key : {"stop-execution", "json", "binary", "log", "delay", "http"}) CHECK(keys.count(key) == 1);
  }

  SECTION("an instance can be created, reconfigured, run and deleted") {
    HttpResult created = http("POST", api + "/instances",
                              R"({"integration": "render-status", "name": "initech", "configVars": {"bucket": "initech-b"}})");
    REQUIRE(created.status == 201);
    json instance = parse(created.body);
    std::string id = instance["id"];
    std::string url = instance["webhookUrl"];

    CHECK(http("POST", api + "/instances", R"({"integration": "render-status", "name": "initech"})").status == 409);
    CHECK(http("POST", api + "/instances", R"({"integration": "nope", "name": "x"})").status == 400);
    HttpResult badVar = http("PATCH", api + "/instances/" + id, R"({"configVars": {"bukket": "x"}})");
    CHECK(badVar.status == 400);
    CHECK_THAT(parse(badVar.body)["error"].get<std::string>(), Catch::Contains("no config variable 'bukket'"));

    REQUIRE(http("PATCH", api + "/instances/" + id, R"({"configVars": {"bucket": "moved"}})").status == 200);
    CHECK(http("POST", api + "/instances", R"({"integration": "render-status", "name": 5})").status == 400);
    CHECK(curl("'" + api + "/executions/%zz'").status == 400);  // Poco's own client refuses such a URL.
    HttpResult run = http("POST", url, R"({"renderId": 3})", {{"Content-Type", "application/json"}});
    std::string executionId = parse(run.body)["executionId"];
    json execution = waitForEnd(server, executionId);
    CHECK(execution["instance"]["id"] == id);
    CHECK(parse(http("GET", server.url() + "/executions/" + executionId + "/result").body)["bucket"] == "moved");

    json listed = parse(http("GET", api + "/executions?instance=" + id + "&status=succeeded&limit=5").body);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["id"] == executionId);

    CHECK(http("DELETE", api + "/instances/" + id).status == 204);
    CHECK(http("GET", api + "/instances/" + id).status == 404);
    CHECK(http("POST", url, "{}", {{"Content-Type", "application/json"}}).status == 404);
  }

  SECTION("executions show steps and logs; unknown ids are 404 with a JSON error") {
    HttpResult unknown = http("GET", api + "/executions/nope");
    CHECK(unknown.status == 404);
    CHECK(parse(unknown.body)["error"] == "no execution 'nope'");
    CHECK(http("GET", api + "/executions?status=bogus").status == 400);
    CHECK(http("GET", api + "/nothing-here").status == 404);
  }
}

TEST_CASE("with an API token, /api needs it and webhooks and results do not", "[server][api][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path(), {"--api-token", "s3cret"});
  std::map<std::string, std::string> auth = {{"Authorization", "Bearer s3cret"}};

  HttpResult denied = http("GET", server.url() + "/api/instances");
  CHECK(denied.status == 401);
  CHECK(parse(denied.body)["error"].get<std::string>().find("Authorization: Bearer") != std::string::npos);
  CHECK(http("GET", server.url() + "/api/instances", "", {{"Authorization", "Bearer wrong"}}).status == 401);
  for (const char* path : {"/api/instances", "/api/integrations", "/api/components", "/api/executions"})
    CHECK(http("GET", server.url() + path, "", auth).status == 200);

  std::string url = webhookUrl(server, "user-lookup", "default", auth);
  HttpResult reply = http("POST", url);
  REQUIRE(reply.status == 200);
  std::string id = parse(reply.body)["executionId"];
  waitForEnd(server, id, 30, auth);
  CHECK(http("GET", server.url() + "/executions/" + id + "/result").status == 200);
  CHECK(http("GET", server.url() + "/api/executions/" + id).status == 401);
}
