// The store's health through a real server: a database deleted while the
// server runs, a damaged page, a full disk.
#include "resilience_fixture.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <random>

using namespace plexus::testing_support;

namespace fs = std::filesystem;

TEST_CASE("deleting the database while the server runs turns readiness off and refuses new work with 503",
          "[server][store-health][e2e]") {
  ServerFolders folders;
  auto server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path());
  std::string url = webhookUrl(*server, "user-lookup");
  REQUIRE(http("GET", server->url() + "/readyz").status == 200);
  REQUIRE(http("POST", url, "{}", jsonType()).status == 200);

  fs::remove(folders.data.file("plexus.db"));
  // Found by the periodic check (every second), with no request needed.
  HttpResult ready;
  CHECK(eventually([&] { return (ready = http("GET", server->url() + "/readyz")).status == 503; }, 10));
  CHECK_THAT(ready.body, Catch::Contains("plexus.db was deleted while the server ran"));
  HttpResult refused = http("POST", url, "{}", jsonType());
  CHECK(refused.status == 503);
  CHECK_THAT(refused.body, Catch::Contains("was deleted while the server ran") &&
                               Catch::Contains("--allow-new-database"));
  CHECK(http("GET", server->url() + "/healthz").status == 200);  // alive, just not ready
  CHECK_THAT(server->output(), Catch::Contains("STORE UNAVAILABLE"));
  server->stop();

  SECTION("a restart refuses to start over with an empty database") {
    int status = 0;
    std::string output = refusedServe(folders.integrations.path(), folders.data.path(), &status);
    INFO(output);
    CHECK(status != 0);
    CHECK(status != 124);
    CHECK_THAT(output, Catch::Contains("plexus.db is missing") &&
                           Catch::Contains("will not silently start over with an empty one") &&
                           Catch::Contains("--allow-new-database"));
  }
  SECTION("--allow-new-database starts over, saying so") {
    server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path(),
                                             std::vector<std::string>{"--allow-new-database"});
    CHECK_THAT(server->output(), Catch::Contains("starting with an EMPTY database"));
    CHECK(http("GET", server->url() + "/readyz").status == 200);
  }
}

TEST_CASE("a database page overwritten with random bytes is found at start, with what to do",
          "[server][store-health][e2e]") {
  ServerFolders folders;
  {
    ServerProcess server(folders.integrations.path(), folders.data.path());
    std::string url = webhookUrl(server, "user-lookup");
    for (int i = 0; i < 20; ++i) REQUIRE(http("POST", url, "{\"n\": " + std::to_string(i) + "}", jsonType()).status == 200);
    REQUIRE(server.stop() == 0);  // a clean stop: everything is in plexus.db, the WAL is gone
  }
  std::string database = folders.data.file("plexus.db");
  REQUIRE(fs::file_size(database) >= 3 * 4096);
  {
    // Page 2: the root of the first table made (every start reads it).
    std::mt19937 random(42);
    std::string garbage(4096, '\0');
    for (char& c : garbage) c = static_cast<char>(random());
    int fd = ::open(database.c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, garbage.data(), garbage.size(), 4096) == 4096);
    ::close(fd);
  }
  int status = 0;
  std::string output = refusedServe(folders.integrations.path(), folders.data.path(), &status);
  INFO(output);
  CHECK(status != 0);
  CHECK(status != 124);
  CHECK_THAT(output, Catch::Contains("the database '" + database + "' is damaged") &&
                         Catch::Contains("restore the data folder's database from a backup") &&
                         Catch::Contains("--allow-new-database"));
}

namespace {

/// A small tmpfs, so the disk can really fill up. Needs root (CI runs as
/// root); elsewhere the test is skipped.
class SmallDisk {
 public:
  SmallDisk() {
    if (::geteuid() != 0) return;
    int status = 0;
    shell("mount -t tmpfs -o size=24m plexus-test " + folder_.path() + " 2>&1", &status);
    mounted_ = status == 0;
  }
  ~SmallDisk() {
    if (mounted_) shell("umount " + folder_.path());
  }
  bool mounted() const { return mounted_; }
  std::string path(const std::string& name) const { return folder_.file(name); }

  /// Writes a file until the disk has no room left.
  void fill() {
    std::ofstream filler(path("filler"), std::ios::binary);
    std::string block(64 * 1024, 'f');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
    std::ofstream(path("filler-small"), std::ios::binary) << std::string(4096, 'f');  // the last crumbs too
  }
  void makeRoom() {
    fs::remove(path("filler"));
    fs::remove(path("filler-small"));
  }

 private:
  TempDir folder_;
  bool mounted_ = false;
};

}  // namespace

TEST_CASE("on a full disk new work gets 503, and an acknowledged execution runs once there is room again",
          "[server][store-health][disk-full][e2e]") {
  SmallDisk disk;
  if (!disk.mounted()) {
    WARN("cannot mount a tmpfs (needs root): skipping the full-disk test");
    return;
  }
  ServerFolders folders;
  writeFile(folders.integrations.file("slow-async.yaml"), R"(name: Slow Async
trigger: { webhook: {} }
steps:
  - name: wait
    component: delay
    action: sleep
    inputs: { ms: 1500 }
  - name: done
    component: json
    action: value
    inputs: { value: "{{ trigger.results.body.data.n }}" }
)");
  ServerProcess server(folders.integrations.path(), disk.path("data"));
  std::string slow = webhookUrl(server, "slow-async");
  std::string quick = webhookUrl(server, "user-lookup");

  HttpResult acknowledged = http("POST", slow, "{\"n\": 7}", jsonType());
  REQUIRE(acknowledged.status == 200);
  std::string id = parse(acknowledged.body)["executionId"];
  disk.fill();  // while its first step sleeps: its progress cannot be recorded

  HttpResult ready;
  CHECK(eventually([&] { return (ready = http("GET", server.url() + "/readyz")).status == 503; }, 20));
  CHECK_THAT(ready.body, Catch::Contains("is full"));
  HttpResult refused = http("POST", quick, "{}", jsonType());
  CHECK(refused.status == 503);
  CHECK_THAT(refused.body, Catch::Contains("is full"));

  disk.makeRoom();
  json execution = waitForEnd(server, id, 90);
  INFO(server.output());
  CHECK(execution["status"] == "succeeded");
  CHECK(eventually([&] { return http("GET", server.url() + "/readyz").status == 200; }, 20));
  HttpResult accepted = http("POST", quick, "{}", jsonType());
  CHECK(accepted.status == 200);
  CHECK(server.stop() == 0);
}
