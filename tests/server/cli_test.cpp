// The CLI verbs, run as a user runs them.
#include "server_fixture.hpp"

#include <set>

using namespace plexus::testing_support;

namespace {
std::string runPlexus(const std::string& arguments, int* status) {
  return shell("'" + plexusBinary() + "' " + arguments + " 2>&1", status);
}
}  // namespace

TEST_CASE("plexus instances list shows the running server's instances and webhook URLs", "[cli][e2e]") {
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  int status = -1;
  std::string table = runPlexus("instances list --server " + server.url(), &status);
  CHECK(status == 0);
  CHECK_THAT(table, Catch::Contains("render-status"));
  CHECK_THAT(table, Catch::Contains(server.url() + "/trigger/"));

  std::string json = runPlexus("instances:list --output json --server " + server.url(), &status);
  CHECK(status == 0);
  CHECK(parse(json) == parse(http("GET", server.url() + "/api/instances").body));

  std::string extended = runPlexus("instances list --extended --server " + server.url(), &status);
  CHECK_THAT(extended, Catch::Contains("nextRunAt"));

  runPlexus("instances list --server http://127.0.0.1:1", &status);
  CHECK(status == 1);
}

TEST_CASE("plexus run runs an integration once and prints each step", "[cli][e2e]") {
  int status = -1;
  std::string out = runPlexus("run " + sourceDir() + "/integrations/render-status.yaml --plugins " + pluginsDir() +
                               " --instance acme --payload '{\"renderId\": 99}'",
                           &status);
  INFO(out);
  CHECK(status == 0);
  CHECK_THAT(out, Catch::Contains("ok     lookup (json.select"));
  CHECK_THAT(out, Catch::Contains("[info] render 99 finished; files in acme-renders"));
  CHECK_THAT(out, Catch::Contains("\"bucket\": \"acme-renders\""));
  CHECK_THAT(out, Catch::Contains("succeeded"));

  std::string failed = runPlexus("run " + sourceDir() + "/integrations/render-status.yaml --plugins " + pluginsDir() +
                                  " --payload '{\"other\": 1}'",
                              &status);
  CHECK(status == 1);
  CHECK_THAT(failed, Catch::Contains("FAILED lookup"));
}

TEST_CASE("plexus run runs flow control in-process: a loop of branches, a delay, a retried step that continues",
          "[cli][flow][e2e]") {
  TempDir dir;
  writeFile(dir.file("flow.yaml"), R"(name: Run Flow
trigger: { webhook: {} }
steps:
  - name: each
    loop:
      items: "{{ trigger.results.body.data.items }}"
      concurrency: 2
      steps:
        - name: route
          branch:
            - when: "{{ loop.item > 1 }}"
              steps: [{ name: big, component: json, action: value, inputs: { value: "big {{ loop.item }}" } }]
            - else:
                - { name: small, component: json, action: value, inputs: { value: "small {{ loop.item }}" } }
  - { name: pause, component: delay, action: sleep, inputs: { ms: 100 } }
  - name: bad
    component: json
    action: select
    inputs: { value: {}, path: nope }
    retry: { maxAttempts: 2, delayMs: 50 }
    onError: continue
)");
  int status = -1;
  std::string out = runPlexus("run " + dir.file("flow.yaml") + " --plugins " + pluginsDir() +
                                  " --payload '{\"items\": [1, 2, 3]}'",
                              &status);
  INFO(out);
  CHECK(status == 0);
  CHECK_THAT(out, Catch::Contains("ok     small[0] (json.value"));
  CHECK_THAT(out, Catch::Contains("ok     big[2] (json.value"));
  CHECK_THAT(out, Catch::Contains("ok     pause (delay.sleep"));
  CHECK_THAT(out, Catch::Contains("FAILED bad (json.select, "));
  CHECK_THAT(out, Catch::Contains("2 attempts)"));
  CHECK_THAT(out, Catch::Contains("[warn] attempt 1 of 2 failed"));
  CHECK_THAT(out, Catch::Contains("succeeded"));

  writeFile(dir.file("typo.yaml"), "name: Typo\ntrigger: { webhook: {} }\nsteps:\n  - name: a\n    component: json\n"
                                   "    action: value\n    inputs: { value: \"{{ 1 = 1 }}\" }\n");
  std::string refused = runPlexus("validate " + dir.file("typo.yaml") + " --plugins " + pluginsDir(), &status);
  CHECK(status == 1);
  CHECK_THAT(refused, Catch::Contains(dir.file("typo.yaml") + ":7:28: input 'value': '=' assigns nothing here; "
                                      "compare with '=='\n    {{ 1 = 1 }}\n         ^"));
}

TEST_CASE("a broken integration file is refused and the others keep serving", "[cli][e2e]") {
  ServerFolders folders;
  writeFile(folders.integrations.file("broken.yaml"), "name: Broken\ntrigger: { webhook: {} }\nsteps:\n  - name: a\n    component: nope\n    action: x\n");
  int status = -1;
  std::string out = runPlexus("validate " + folders.integrations.file("broken.yaml") + " --plugins " + pluginsDir(), &status);
  CHECK(status == 1);
  CHECK_THAT(out, Catch::Contains(folders.integrations.file("broken.yaml") + ":5:"));

  ServerProcess server(folders.integrations.path(), folders.data.path());
  CHECK_THAT(server.output(), Catch::Contains("broken.yaml:5:"));
  json integrations = parse(http("GET", server.url() + "/api/integrations").body);
  bool hasBroken = false, hasEcho = false;
  for (const auto& item : integrations) {
    hasBroken |= item["key"] == "broken";
    hasEcho |= item["key"] == "echo";
  }
  CHECK_FALSE(hasBroken);
  CHECK(hasEcho);
}

TEST_CASE("a one-second schedule fires through the real server, once per due time across a restart",
          "[cli][schedule][e2e]") {
  ServerFolders folders;
  writeFile(folders.integrations.file("tick.yaml"),
            "name: Tick\ntrigger: { schedule: { every: 1, unit: seconds } }\nsteps:\n"
            "  - name: at\n    component: json\n    action: value\n    inputs: { value: \"{{ trigger.results.scheduledAt }}\" }\n");
  auto ticks = [](const ServerProcess& server) {
    std::vector<std::string> ids;
    for (const auto& item : parse(http("GET", server.url() + "/api/executions?status=succeeded&limit=1000").body))
      if (item["integration"] == "tick") ids.push_back(item["id"]);
    return ids;
  };
  auto server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path());
  CHECK(eventually([&] { return ticks(*server).size() >= 2; }, 20));
  server->stop();
  server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path());
  std::size_t before = ticks(*server).size();
  CHECK(eventually([&] { return ticks(*server).size() >= before + 2; }, 20));

  std::set<std::string> dueTimes;
  std::vector<std::string> ids = ticks(*server);
  for (const auto& id : ids) {
    HttpResult at = http("GET", server->url() + "/executions/" + id + "/result");
    CHECK(at.header("content-type") == "text/plain; charset=utf-8");  // A string result is served as text.
    CHECK_THAT(at.body, Catch::EndsWith(".000Z"));  // Fired for a whole second, not "now".
    dueTimes.insert(at.body);
    json execution = parse(http("GET", server->url() + "/api/executions/" + id).body);
    CHECK(execution["trigger"] == "schedule");
  }
  CHECK(dueTimes.size() == ids.size());  // No due time fired twice, restart included.
}
