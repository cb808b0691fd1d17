// An acknowledged execution is never lost: kill -9 the server during a
// burst, restart it on the same data folder, and every acknowledged id ends.
#include "server_fixture.hpp"

#include <atomic>

using namespace plexus::testing_support;

TEST_CASE("every acknowledged execution succeeds after a kill -9 and a restart", "[server][recovery][e2e]") {
  ServerFolders folders;
  writeFile(folders.integrations.file("steady.yaml"), R"(name: Steady
trigger: { webhook: {} }
steps:
  - name: wait
    component: delay
    action: sleep
    inputs: { ms: 20 }
  - name: done
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data.n }}" }
)");
  auto server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path(),
                                                std::vector<std::string>{"--workers", "2"});
  std::string url = webhookUrl(*server, "steady");

  std::mutex mutex;
  std::vector<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 500 && !stop; ++i) {
        try {
          HttpResult reply = http("POST", url, "{\"n\": " + std::to_string(t * 1000 + i) + "}",
                                  {{"Content-Type", "application/json"}});
          if (reply.status != 200) continue;
          std::string id = json::parse(reply.body)["executionId"];
          std::lock_guard<std::mutex> lock(mutex);
          acknowledged.push_back(id);
        } catch (const std::exception&) {
          return;  // The server is gone.
        }
      }
    });
  }
  // Kill while requests are flowing and executions are queued behind 2 workers.
  eventually([&] {
    std::lock_guard<std::mutex> lock(mutex);
    return acknowledged.size() >= 150;
  }, 60);
  server->kill9();
  stop = true;
  for (auto& sender : senders) sender.join();
  REQUIRE(acknowledged.size() >= 150);

  server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path());
  // Executions that were queued or running run again; those in their
  // delay resume at their wake-up.
  CHECK_THAT(server->output(), Catch::Contains("left unfinished") || Catch::Contains("left waiting resume"));
  std::size_t succeeded = 0;
  for (const std::string& id : acknowledged) {
    json execution = waitForEnd(*server, id, 120);
    if (execution["status"] == "succeeded") ++succeeded;
  }
  CHECK(succeeded == acknowledged.size());
}
