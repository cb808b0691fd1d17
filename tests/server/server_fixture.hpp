// Shared setup for the end-to-end tests: the bundled example integrations
// plus test integrations in a temp folder, and a running `plexus serve`.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "server_process.hpp"

namespace plexus::testing_support {

using nlohmann::json;

/// Integrations used only by the tests.
inline const char* const kTestIntegrations[][2] = {
    {"user-lookup.yaml", R"(name: User Lookup
trigger: { webhook: {} }
steps:
  - name: user
    component: json
    action: value
    inputs:
      value: { id: 1, name: Leanne Graham, username: Bret }
)"},
    {"raw-echo.yaml", R"(name: Raw Echo
trigger: { webhook: {} }
execution: { synchronous: true }
steps:
  - name: echo
    component: json
    action: value
    inputs: { value: "{{ trigger.results.rawBody.data }}" }
)"},
    {"trigger-echo.yaml", R"(name: Trigger Echo
trigger: { webhook: {} }
steps:
  - name: echo
    component: json
    action: value
    inputs: { value: "{{ trigger.results }}" }
)"},
    {"slow.yaml", R"(name: Slow
trigger: { webhook: {} }
execution: { synchronous: true }
steps:
  - name: wait
    component: delay
    action: sleep
    inputs: { ms: 2500 }
)"},
    {"fails.yaml", R"(name: Fails
trigger: { webhook: {} }
execution: { synchronous: true }
steps:
  - name: pick
    component: json
    action: select
    inputs: { value: { a: 1 }, path: b }
)"}};

/// A data folder and an integrations folder (examples + test ones).
struct ServerFolders {
  TempDir integrations;
  TempDir data;
  ServerFolders() {
    for (const auto& entry : std::filesystem::directory_iterator(sourceDir() + "/integrations"))
      std::filesystem::copy(entry.path(), integrations.path());
    for (const auto& [name, text] : kTestIntegrations) writeFile(integrations.file(name), text);
  }
};

inline json parse(const std::string& text) { return json::parse(text); }

/// The webhook URL of an instance, from GET /api/instances.
inline std::string webhookUrl(const ServerProcess& server, const std::string& integration,
                              const std::string& instance = "default",
                              const std::map<std::string, std::string>& headers = {}) {
  json instances = parse(http("GET", server.url() + "/api/instances", "", headers).body);
  for (const auto& item : instances)
    if (item["integration"] == integration && item["name"] == instance) return item["webhookUrl"];
  FAIL("no instance " << integration << "/" << instance << " in " << instances.dump());
  return "";
}

/// The executions callers started (trigger "webhook" or "manual"), newest
/// first. The bundled examples include schedules that fire by the wall clock
/// (every 5 minutes in Chicago business hours, every hour), so a test that
/// counts executions must leave theirs out or it fails at those minutes.
inline json calledExecutions(const ServerProcess& server, const std::map<std::string, std::string>& headers = {}) {
  json all = parse(http("GET", server.url() + "/api/executions?limit=1000", "", headers).body);
  json called = json::array();
  for (auto& execution : all)
    if (execution["trigger"] != "schedule") called.push_back(std::move(execution));
  return called;
}

/// Polls GET /api/executions/ID until it has ended; returns it.
inline json waitForEnd(const ServerProcess& server, const std::string& id, double seconds = 30,
                       const std::map<std::string, std::string>& headers = {}) {
  json execution;
  bool ended = eventually([&] {
    HttpResult result = http("GET", server.url() + "/api/executions/" + id, "", headers);
    if (result.status != 200) return false;
    execution = parse(result.body);
    return execution["status"] == "succeeded" || execution["status"] == "failed";
  }, seconds);
  INFO(execution.dump());
  REQUIRE(ended);
  return execution;
}

/// What curl got: final status, all header lines, body.
struct CurlResult {
  int status = 0;
  std::string headers;
  std::string body;
};

/// Runs curl with `arguments` (shell syntax) plus output capture.
inline CurlResult curl(const std::string& arguments) {
  TempDir out;
  std::string command = "curl --silent --show-error --output " + out.file("body") + " --dump-header " +
                        out.file("headers") + " --write-out '%{http_code}' " + arguments + " 2>" + out.file("stderr");
  int exit = 0;
  std::string code = shell(command, &exit);
  INFO(command);
  REQUIRE(exit == 0);
  CurlResult result;
  result.status = std::stoi(code);
  result.headers = readFile(out.file("headers"));
  result.body = readFile(out.file("body"));
  return result;
}

}  // namespace plexus::testing_support
