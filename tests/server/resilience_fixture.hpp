// Shared by the resilience tests: a plugins folder with the built-in
// plugins plus the crashing fixture, and `plexus serve` runs that are
// expected to refuse to start.
#pragma once

#include "server_fixture.hpp"

namespace plexus::testing_support {

/// The built-in plugins (symlinked) and tests/fixtures/plugins/crashing.cpp.
struct PluginsWithCrasher {
  TempDir folder;
  PluginsWithCrasher() {
    namespace fs = std::filesystem;
    for (const auto& entry : fs::directory_iterator(pluginsDir()))
      if (entry.path().extension() == ".so") fs::create_symlink(entry.path(), folder.path() + "/" + entry.path().filename().string());
    fs::create_symlink(PLEXUS_CRASHING_FIXTURE, folder.path() + "/crashing.so");
  }
  const std::string& path() const { return folder.path(); }
};

/// `plexus serve` on these folders, expected to exit by itself (a refusal):
/// its output (stdout and stderr) and exit status. `timeout` ends it if it
/// serves instead, so a missing refusal fails the test rather than hanging it.
inline std::string refusedServe(const std::string& integrations, const std::string& data, int* status,
                                const std::string& extra = "") {
  return shell("timeout 30 " + plexusBinary() + " serve --port 0 --host 127.0.0.1 --plugins " + pluginsDir() +
                   " --integrations " + integrations + " --data " + data + " " + extra + " 2>&1",
               status);
}

inline std::map<std::string, std::string> jsonType() { return {{"Content-Type", "application/json"}}; }

}  // namespace plexus::testing_support
