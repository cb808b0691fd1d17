// Two servers on one --data folder would each run the other's executions
// (every side effect twice): the second one must refuse to start.
#include "resilience_fixture.hpp"

using namespace plexus::testing_support;

namespace {
std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}
}  // namespace

TEST_CASE("a second plexus on the same data folder refuses to start, naming the first one's pid",
          "[server][data-folder][e2e]") {
  ServerFolders folders;
  ServerProcess first(folders.integrations.path(), folders.data.path());
  std::string pid = trimmed(readFile(folders.data.file("plexus.lock")));
  std::string expected = "data folder " + folders.data.path() + " is in use by another plexus (pid " + pid +
                         "); stop it or choose another --data";

  SECTION("plexus serve") {
    int status = 0;
    std::string output = refusedServe(folders.integrations.path(), folders.data.path(), &status);
    INFO(output);
    CHECK(status != 0);
    CHECK(status != 124);  // it refused by itself; `timeout` did not have to stop it
    CHECK_THAT(output, Catch::Contains(expected));
  }
  SECTION("plexus run --data") {
    int status = 0;
    std::string output = shell(plexusBinary() + " run " + folders.integrations.file("user-lookup.yaml") +
                                   " --plugins " + pluginsDir() + " --data " + folders.data.path() + " 2>&1",
                               &status);
    INFO(output);
    CHECK(status != 0);
    CHECK_THAT(output, Catch::Contains(expected));
  }
  // The first one goes on serving, untouched.
  CHECK(http("GET", first.url() + "/healthz").status == 200);
  CHECK(http("GET", first.url() + "/readyz").status == 200);
}

TEST_CASE("the data folder is free again once its server stopped, even after a kill -9", "[server][data-folder][e2e]") {
  ServerFolders folders;
  auto server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path());
  server->kill9();
  server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path());
  CHECK_THAT(server->output(), Catch::Contains("the last stop was a crash"));
  CHECK(server->stop() == 0);
}
