// The loader through a real `plexus serve` and the real `plexus components
// list`: libraries that must be refused beside the built-in plugins, a loaded
// plugin overwritten in place with cp while the server serves, what a webhook
// caller sees of a failing component, and copies a killed server left.
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "server_process.hpp"

using namespace plexus::testing_support;
using nlohmann::json;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

const std::string kFixturesDir = PLEXUS_LOADER_FIXTURES_DIR;

const char* const kIntegrations[][2] = {
    {"echo.yaml", R"(name: Echo
trigger: { webhook: {} }
execution: { synchronous: true }
steps:
  - name: echo
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data }}" }
)"},
    {"pick.yaml", R"(name: Pick
trigger: { webhook: {} }
execution: { synchronous: true }
steps:
  - name: pick
    component: json
    action: select
    inputs: { value: "{{ trigger.results.body.data }}", path: x }
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

/// Sets an environment variable for one scope (the server inherits it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = getenv(name)) previous_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (previous_.empty()) unsetenv(name_);
    else setenv(name_, previous_.c_str(), 1);
  }

 private:
  const char* name_;
  std::string previous_;
};

/// A plugins folder of copies of the built-in plugins (plus `fixtures`), the
/// integrations above, a data folder, and a TMPDIR for the server's copies.
struct Folders {
  TempDir plugins, integrations, data, tmp;
  explicit Folders(const std::vector<std::string>& fixtures = {}) {
    for (const auto& entry : fs::directory_iterator(pluginsDir()))
      if (entry.path().extension() == ".so") fs::copy_file(entry.path(), plugins.file(entry.path().filename()));
    for (const auto& name : fixtures) fs::copy_file(kFixturesDir + "/" + name, plugins.file(name));
    for (const auto& [name, text] : kIntegrations) writeFile(integrations.file(name), text);
  }
};

std::vector<std::string> entries(const std::string& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) names.push_back(entry.path().filename());
  return names;
}

std::string webhookUrl(const ServerProcess& server, const std::string& integration) {
  for (const auto& item : json::parse(http("GET", server.url() + "/api/instances").body))
    if (item["integration"] == integration) return item["webhookUrl"];
  FAIL("no instance of " << integration);
  return "";
}

/// A synchronous call: POST the JSON body, follow the 303 to the result.
json callSync(const ServerProcess& server, const std::string& url, const json& body) {
  HttpResult reply = http("POST", url, body.dump(), {{"Content-Type", "application/json"}});
  INFO(reply.status << " " << reply.body);
  REQUIRE(reply.status == 303);
  std::string location = reply.header("location");
  if (location.rfind("http", 0) != 0) location = server.url() + location;
  HttpResult result = http("GET", location);
  REQUIRE(result.status == 200);
  return json::parse(result.body);
}

}  // namespace

TEST_CASE("a server with libraries refused beside the built-ins serves the built-ins",
          "[loader][e2e]") {
  // json_diagnostics.so made the server segfault before it served anything;
  // crash_on_load.so kills any process that dlopens it.
  Folders folders({"json_diagnostics.so", "glibcxx_debug.so", "crash_on_load.so", "older_abi.so",
                   "sdk_abi_1.so", "garbage.so"});
  ScopedEnv tmp("TMPDIR", folders.tmp.path());
  ServerProcess server(folders.integrations.path(), folders.data.path(),
                       {"--plugins", folders.plugins.path()});

  CHECK(callSync(server, webhookUrl(server, "echo"), {{"hello", "world"}}) == json{{"hello", "world"}});
  CHECK(callSync(server, webhookUrl(server, "pick"), {{"x", 42}}) == 42);

  const std::string output = server.output();
  CHECK_THAT(output, Contains(folders.plugins.file("json_diagnostics.so") +
                              ": built for another ABI: json-diagnostics=1 where this Plexus has "
                              "json-diagnostics=0"));
  CHECK_THAT(output, Contains(folders.plugins.file("glibcxx_debug.so") +
                              ": built for another ABI: glibcxx-debug=1 where this Plexus has "
                              "glibcxx-debug=0"));
  CHECK_THAT(output, Contains(folders.plugins.file("crash_on_load.so") + ": built for another ABI: cxx=msvc"));
  json components = json::parse(http("GET", server.url() + "/api/components").body);
  CHECK(components["refused"].size() == 6);
  std::vector<std::string> keys;
  for (const auto& component : components["components"]) keys.push_back(component["key"]);
  CHECK(keys == std::vector<std::string>{"binary", "delay", "http", "json", "log", "stop-execution",
                                         "webhook-auth", "webhook-handshake"});
}

TEST_CASE("a step error sent to a webhook caller names the component, not the library's path",
          "[loader][e2e]") {
  Folders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path(),
                       {"--plugins", folders.plugins.path()});
  HttpResult reply = http("POST", webhookUrl(server, "fails"));
  REQUIRE(reply.status == 500);
  const std::string error = json::parse(reply.body)["error"];
  CHECK_THAT(error, Catch::StartsWith("step 'pick': action 'json.select' failed: "));
  CHECK_THAT(reply.body, !Contains(folders.plugins.path()));
  CHECK_THAT(reply.body, !Contains(".so"));
}

TEST_CASE("overwriting a loaded plugin in place with cp leaves the running server serving",
          "[loader][e2e]") {
  // Before private copies, the server crashed (SIGSEGV or SIGBUS) on the
  // first call into json.so after cp rewrote that file under its mapping.
  Folders folders;
  ScopedEnv tmp("TMPDIR", folders.tmp.path());
  ServerProcess server(folders.integrations.path(), folders.data.path(),
                       {"--plugins", folders.plugins.path()});
  const std::string echo = webhookUrl(server, "echo"), pick = webhookUrl(server, "pick");
  CHECK(callSync(server, echo, {{"before", true}}) == json{{"before", true}});

  for (const std::string other : {"http.so", "log.so"}) {
    INFO("cp " << other << " json.so");
    int status = -1;
    shell("cp " + folders.plugins.file(other) + " " + folders.plugins.file("json.so"), &status);
    REQUIRE(status == 0);
    for (int i = 0; i < 20; ++i) {
      CHECK(callSync(server, echo, {{"i", i}, {"text", std::string(100 * i, 'x')}}) ==
            json{{"i", i}, {"text", std::string(100 * i, 'x')}});
      CHECK(callSync(server, pick, {{"x", {{"n", i}}}}) == json{{"n", i}});
    }
  }
  CHECK(http("GET", server.url() + "/healthz").status == 200);
  CHECK(server.stop() == 0);
}

TEST_CASE("the copies of a killed server are removed by the next start, a clean stop leaves none",
          "[loader][e2e]") {
  Folders folders;
  ScopedEnv tmp("TMPDIR", folders.tmp.path());
  std::vector<std::string> first;
  {
    ServerProcess server(folders.integrations.path(), folders.data.path(),
                         {"--plugins", folders.plugins.path()});
    first = entries(folders.tmp.path());
    REQUIRE(first.size() == 1);
    CHECK_THAT(first.front(), Catch::StartsWith("plexus-plugins-"));
    CHECK(fs::exists(folders.tmp.file(first.front()) + "/json.so"));
    server.kill9();
  }
  CHECK(entries(folders.tmp.path()) == first);  // a crash leaves them

  ServerProcess again(folders.integrations.path(), folders.data.path(),
                      {"--plugins", folders.plugins.path()});
  const std::vector<std::string> second = entries(folders.tmp.path());
  REQUIRE(second.size() == 1);
  CHECK(second != first);  // the first one's are gone, the new server has its own
  CHECK_THAT(again.output(), Contains("removed 1 folder(s) of library copies left in " +
                                      folders.tmp.path()));
  CHECK(again.stop() == 0);
  CHECK(entries(folders.tmp.path()).empty());
}

TEST_CASE("plexus components list exits 1 when a library is refused, and still lists the rest",
          "[loader][e2e]") {
  // It exited 139 (SIGSEGV) on json_diagnostics.so before, and 0 on refusals.
  int status = -1;
  const std::string out =
      shell(plexusBinary() + " components list --plugins " + kFixturesDir + " 2>&1", &status);
  CHECK(status == 1);
  CHECK_THAT(out, Contains("echo  "));
  CHECK_THAT(out, Contains(kFixturesDir + "/json_diagnostics.so: built for another ABI: "));
  CHECK_THAT(out, Contains("plexus components list: 13 file(s) in the plugins folder refused"));

  Folders good;
  shell(plexusBinary() + " components list --plugins " + good.plugins.path(), &status);
  CHECK(status == 0);
}
