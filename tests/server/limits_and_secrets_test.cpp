// Integration files and secrets cannot be used against the server: a YAML
// bomb next to a good file (validate and serve), and secrets in parse
// errors and log lines, through a real `plexus serve`.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>

#include <string>
#include <vector>

#include "server_fixture.hpp"

extern char** environ;

using namespace plexus::testing_support;

namespace {

/// 661 bytes that stand for over a billion values once aliases are copied.
const char* const kBillionLaughs = R"(name: Laughs
trigger: {webhook: {}}
steps:
  - name: boom
    component: json
    action: value
    inputs:
      value:
        a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
        i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
# a billion laughs: nine lists of nine aliases of nine lists of ... of nine "lol"s stand for 1,111,111,111 values (661 bytes)
)";

const std::string kLaughsError =
    ":14:16: the file expands to more than 100000 values through aliases (here: *e stands for 66430 values)";

struct ChildRun {
  int exitCode = -1;
  long peakRssKb = 0;
  std::string stderrText;
};

/// Runs `plexus ARGS...` as a child and reports its exit code, its peak
/// resident memory (getrusage of the child, via wait4) and its stderr.
ChildRun runPlexus(const std::vector<std::string>& args, const TempDir& scratch) {
  std::vector<std::string> argv{plexusBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  for (auto& arg : argv) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  std::string errPath = scratch.file("stderr");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(spawned == 0);
  int status = 0;
  struct rusage usage {};
  REQUIRE(wait4(pid, &status, 0, &usage) == pid);
  ChildRun run;
  run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.peakRssKb = usage.ru_maxrss;
  run.stderrText = readFile(errPath);
  return run;
}

/// True when `text` holds any 4-byte run of `secret`.
bool holdsAnyFourBytesOf(const std::string& text, const std::string& secret) {
  for (std::size_t i = 0; i + 4 <= secret.size(); ++i)
    if (text.find(secret.substr(i, 4)) != std::string::npos) return true;
  return false;
}

/// Every string in `value`, unescaped, one per line.
std::string allText(const json& value) {
  if (value.is_string()) return value.get<std::string>() + "\n";
  std::string out;
  if (value.is_structured())
    for (const auto& item : value) out += allText(item);
  return out;
}

const std::string kSecret = "sk_live_51HqLyjWDarjtT1zdp7dcQ";

const std::string kSecretParse = R"(name: Secret Parse
configVars:
  - key: apiKey
    type: secret
    default: sk_live_51HqLyjWDarjtT1zdp7dcQ
trigger: {webhook: {}}
execution: {synchronous: true}
steps:
  - name: parse
    component: json
    action: parse
    inputs:
      text: '{"key": "{{ configVars.apiKey }}", oops}'
instances:
  - name: default
  # A backslash makes nlohmann's error quote the secret up to there only.
  - name: backslash
    configVars: {apiKey: sk_live_51HqLyj\qWDarjtT1zdp7dcQ}
)";

const std::string kSecretLog = R"(name: Secret Log
configVars:
  - key: apiKey
    type: secret
    default: sk_live_51HqLyjWDarjtT1zdp7dcQ
trigger: {webhook: {}}
execution: {synchronous: true}
steps:
  - name: note
    component: log
    action: write
    inputs:
      message: "caller says: {{ trigger.results.body.data.note }}"
)";

}  // namespace

TEST_CASE("plexus validate refuses a billion laughs at once, with its position, in bounded memory",
          "[server][limits][e2e]") {
  TempDir dir;
  writeFile(dir.file("laughs.yaml"), kBillionLaughs);
  CHECK(readFile(dir.file("laughs.yaml")).size() == 661);
  ChildRun run = runPlexus({"validate", dir.file("laughs.yaml"), "--plugins", pluginsDir()}, dir);
  INFO(run.stderrText);
  CHECK(run.exitCode == 1);
  CHECK(run.stderrText.find(dir.file("laughs.yaml") + kLaughsError) == 0);
  // Before the bound this grew past 6 GB; now it is the size of loading the plugins.
  CHECK(run.peakRssKb < 200 * 1024);
}

TEST_CASE("plexus validate refuses 100,000 nested brackets with a clear error, not a crash", "[server][limits][e2e]") {
  TempDir dir;
  writeFile(dir.file("deep.yaml"), std::string(100000, '[') + std::string(100000, ']') + "\n");
  ChildRun run = runPlexus({"validate", dir.file("deep.yaml"), "--plugins", pluginsDir()}, dir);
  INFO(run.stderrText);
  CHECK(run.exitCode == 1);
  CHECK(run.stderrText == dir.file("deep.yaml") +
                              ":1:257: lists and maps nest more than 256 levels deep here; Plexus reads at most "
                              "256 levels (real integrations need a handful)\n");
}

TEST_CASE("a server with a billion laughs beside a good file becomes healthy, serves the good one and names the bad",
          "[server][limits][e2e]") {
  TempDir integrations, data;
  writeFile(integrations.file("laughs.yaml"), kBillionLaughs);
  writeFile(integrations.file("user-lookup.yaml"), kTestIntegrations[0][1]);
  ServerProcess server(integrations.path(), data.path());  // Returns once /healthz is 200.
  CHECK(server.output().find(integrations.file("laughs.yaml") + kLaughsError) != std::string::npos);
  HttpResult reply = http("POST", webhookUrl(server, "user-lookup"), "{}", {{"Content-Type", "application/json"}});
  CHECK(reply.status == 200);
  json integrationsList = parse(http("GET", server.url() + "/api/integrations").body);
  CHECK(integrationsList.dump().find("laughs") == std::string::npos);
}

TEST_CASE("a parse error of text holding a secret shows no 4-byte part of it, to the caller or in the API",
          "[server][secrets][e2e]") {
  TempDir integrations, data;
  writeFile(integrations.file("secret-parse.yaml"), kSecretParse);
  ServerProcess server(integrations.path(), data.path());
  for (const std::string& secret : {kSecret, std::string("sk_live_51HqLyj\\qWDarjtT1zdp7dcQ")}) {
    std::string instance = secret == kSecret ? "default" : "backslash";
    INFO(instance);
    HttpResult reply =
        http("POST", webhookUrl(server, "secret-parse", instance), "{}", {{"Content-Type", "application/json"}});
    INFO(reply.body);
    REQUIRE(reply.status == 500);
    json body = parse(reply.body);
    CHECK(body["error"].get<std::string>().find("is not valid JSON") != std::string::npos);
    CHECK_FALSE(holdsAnyFourBytesOf(body["error"].get<std::string>(), secret));

    json execution = waitForEnd(server, body["executionId"]);
    CHECK(execution["status"] == "failed");
    CHECK_FALSE(holdsAnyFourBytesOf(allText(execution), secret));
    HttpResult result = http("GET", server.url() + "/executions/" + body["executionId"].get<std::string>() + "/result");
    CHECK(result.status == 409);
    CHECK_FALSE(holdsAnyFourBytesOf(allText(parse(result.body)), secret));
  }
}

TEST_CASE("a log line holding half a secret or more is masked", "[server][secrets][e2e]") {
  TempDir integrations, data;
  writeFile(integrations.file("secret-log.yaml"), kSecretLog);
  ServerProcess server(integrations.path(), data.path());
  std::string url = webhookUrl(server, "secret-log");
  // The first 15 of the secret's 30 bytes: enough to be masked.
  json note = {{"note", "key " + kSecret.substr(0, 15) + "... and all of it: " + kSecret}};
  HttpResult reply = http("POST", url, note.dump(), {{"Content-Type", "application/json"}});
  INFO(reply.body);
  REQUIRE(reply.status == 303);
  std::string id = reply.header("plexus-execution-id");
  json execution = waitForEnd(server, id);
  INFO(execution.dump());
  bool found = false;
  for (const auto& line : execution["logs"])
    if (line["message"] == "caller says: key ********... and all of it: ********") found = true;
  CHECK(found);
  CHECK(execution.dump().find(kSecret.substr(0, 15)) == std::string::npos);
}
