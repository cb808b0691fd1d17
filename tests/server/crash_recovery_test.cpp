// A component that crashes the process (a null dereference) must not keep
// the server down: the crash is named in the log, every restart comes up,
// and after 3 crashes the execution is ended failed instead of run again.
#include "resilience_fixture.hpp"

#include "store/sqlite_connection.hpp"

#include <cstdlib>
#include <string>

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

using namespace plexus::testing_support;

namespace {

/// No core files from crashes caused on purpose.
void noCoreDumps() {
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
}

/// In a sanitizer build, the servers this test starts leave fatal signals
/// to Plexus's own handler: ASan's would report the deliberate null
/// dereference and exit 1, so the crash line and SIGSEGV status under test
/// would never show. (Only children read it; this process started already.)
void letServersHandleFatalSignals() {
  const char* current = std::getenv("ASAN_OPTIONS");
  std::string options = current ? std::string(current) + ":" : std::string();
  options += "handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0";
  ::setenv("ASAN_OPTIONS", options.c_str(), 1);
}

constexpr int kKilledBySegv = 256 + SIGSEGV;  // how Poco reports "ended by SIGSEGV"

}  // namespace

TEST_CASE("a step that crashes the server is named, every restart comes up, and the 3rd restart ends it failed",
          "[server][recovery][crash][e2e]") {
  noCoreDumps();
  letServersHandleFatalSignals();
  ServerFolders folders;
  PluginsWithCrasher plugins;
  // The delay lets each restart come up (and serve) before the recovered
  // execution crashes it again.
  writeFile(folders.integrations.file("crasher.yaml"), R"(name: Crasher
trigger: { webhook: {} }
steps:
  - name: boom
    component: crash
    action: null-deref
    inputs: { delayMs: 3000 }
)");
  auto start = [&] {
    return std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path(),
                                           std::vector<std::string>{"--plugins", plugins.path()});
  };
  auto server = start();
  std::string crasher = webhookUrl(*server, "crasher");
  HttpResult acknowledged = http("POST", crasher, "{}", jsonType());
  REQUIRE(acknowledged.status == 200);
  std::string id = parse(acknowledged.body)["executionId"];

  CHECK(server->waitForExit(30) == kKilledBySegv);  // the original signal, not a tidy exit
  CHECK_THAT(server->output(),
             Catch::Contains("crash: SIGSEGV while running step boom (crash.null-deref) of execution " + id));

  for (int restart = 1; restart <= 3; ++restart) {
    server = start();  // returns once /healthz answers 200: the server came up
    INFO("restart " << restart << ":\n" << server->output());
    CHECK_THAT(server->output(), Catch::Contains("the last stop was a crash (SIGSEGV while running step boom "
                                                 "(crash.null-deref) of execution " + id + ")"));
    // Other integrations' executions still run.
    HttpResult reply = http("POST", webhookUrl(*server, "user-lookup"), "{}", jsonType());
    REQUIRE(reply.status == 200);
    CHECK(waitForEnd(*server, parse(reply.body)["executionId"])["status"] == "succeeded");
    if (restart < 3) {
      CHECK_THAT(server->output(), Catch::Contains("left unfinished after a crash"));
      CHECK(server->waitForExit(30) == kKilledBySegv);
      continue;
    }
    json execution = waitForEnd(*server, id);
    CHECK(execution["status"] == "failed");
    CHECK(execution["error"] == "the server stopped while step boom ran, 3 times; not retried");
    CHECK(execution["errorStep"] == "boom");
    CHECK_THAT(server->output(), Catch::Contains("W plexus.engine: execution " + id + " of crasher / default: "
                                                 "the server stopped while step boom ran, 3 times; not retried"));
  }
  CHECK(server->stop() == 0);

  // A clean stop is not a crash.
  server = start();
  CHECK_THAT(server->output(), Catch::Contains("the last stop was clean"));
  CHECK_THAT(server->output(), !Catch::Contains("left unfinished"));
}

TEST_CASE("an execution whose stored row cannot be read is ended failed at start, and the others still run",
          "[server][recovery][e2e]") {
  ServerFolders folders;
  std::string instanceId;
  {
    ServerProcess server(folders.integrations.path(), folders.data.path());
    json instances = parse(http("GET", server.url() + "/api/instances").body);
    for (const auto& instance : instances)
      if (instance["integration"] == "user-lookup") instanceId = instance["id"];
    REQUIRE(server.stop() == 0);
  }
  REQUIRE_FALSE(instanceId.empty());
  // Two executions left queued, as a crash leaves them; one's trigger
  // results are not a payload the store can read.
  {
    plexus::core::sqlite::Connection db(folders.data.file("plexus.db"),
                                        plexus::core::sqlite::Connection::Mode::ReadWriteCreate, 5000);
    std::string insert =
        "INSERT INTO executions (id, integration_key, instance_id, instance_name, trigger, status, queued_at, "
        "attempts, trigger_results) VALUES "
        "('unreadable-one', 'user-lookup', '" + instanceId + "', 'default', 'webhook', 'queued', 1, 0, '{not json'),"
        "('readable-one', 'user-lookup', '" + instanceId + "', 'default', 'webhook', 'queued', 2, 0, '{}')";
    db.exec(insert.c_str());
  }
  ServerProcess server(folders.integrations.path(), folders.data.path());
  json unreadable = waitForEnd(server, "unreadable-one");
  CHECK(unreadable["status"] == "failed");
  CHECK_THAT(unreadable["error"].get<std::string>(), Catch::Contains("cannot be read back from the store"));
  CHECK(waitForEnd(server, "readable-one")["status"] == "succeeded");
}
