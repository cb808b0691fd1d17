// Helpers shared by the loader tests: fixture paths, calling a loaded action,
// asking the dynamic loader whether a library is still loaded.
#pragma once

#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <plexus/abi.hpp>
#include <plexus/testing.hpp>

#include "loader/component_loader.hpp"
#include "loader/private_copy.hpp"

namespace plexus::core::test {

/// The folder tests/loader/CMakeLists.txt builds the fixture libraries into.
inline const std::string kFixturesDir = PLEXUS_LOADER_FIXTURES_DIR;

inline std::string fixture(const std::string& file) { return kFixturesDir + "/" + file; }

/// Checks `inputs` and performs `component.action` as the runtime does.
inline plexus::Result invoke(const LoadedComponent& component, const std::string& action,
                             plexus::Json inputs) {
  const plexus::ActionSpec* spec = component.spec.action(action);
  if (!spec) throw std::invalid_argument("fixture has no action " + action);
  plexus::testing::FakeContext context;
  return spec->perform(spec->prepareInputs(std::move(inputs)), context);
}

/// True while `file` is loaded in this process. RTLD_NOLOAD only looks: it
/// never loads the library (its extra reference is dropped at once).
inline bool isLoaded(const std::string& file) {
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle) dlclose(handle);
  return handle != nullptr;
}

/// The paths of every object loaded in this process whose file is named
/// `fileName` (e.g. "echo.so") and lies in a loader's private copy folder.
inline std::vector<std::string> loadedCopiesNamed(const std::string& fileName) {
  struct Search {
    std::string fileName;
    std::vector<std::string> found;
  } search{fileName, {}};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto& search = *static_cast<Search*>(data);
        const std::filesystem::path path = info->dlpi_name ? info->dlpi_name : "";
        if (path.filename() == search.fileName &&
            path.parent_path().filename().string().rfind(kCopyDirectoryPrefix, 0) == 0)
          search.found.push_back(path.string());
        return 0;
      },
      &search);
  return search.found;
}

/// A fresh empty directory, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "plexus-loader-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Copies fixture libraries into `directory` (a plugins folder of their own).
inline void copyFixtures(const std::string& directory, const std::vector<std::string>& files) {
  for (const auto& file : files) std::filesystem::copy_file(fixture(file), directory + "/" + file);
}

/// Rewrites `target` in place with the bytes of `source`, as `cp` does: same
/// inode, truncated and written over (never a new file).
inline void overwriteInPlace(const std::string& source, const std::string& target) {
  const std::string command = "cp '" + source + "' '" + target + "'";
  if (std::system(command.c_str()) != 0) throw std::runtime_error(command + " failed");
}

/// `tag` with `from` (one "field=value") replaced by `to`.
inline std::string replaced(std::string tag, const std::string& from, const std::string& to) {
  const auto at = tag.find(from);
  if (at == std::string::npos) throw std::invalid_argument("no " + from + " in " + tag);
  return tag.replace(at, from.size(), to);
}

/// The refusal of a library whose note carries `tag`, differing in `difference`.
inline std::string abiRefusal(const std::string& tag, const std::string& difference) {
  return "built for another ABI: " + difference + "; its tag is \"" + tag +
         "\", this Plexus expects \"" PLEXUS_ABI_TAG
         "\"; rebuild it with this Plexus's SDK and the same build settings";
}

inline const std::string kNoTagRefusal =
    "not a Plexus component: it has no ABI tag (no .note.plexus ELF note; libraries built with "
    "Plexus SDK ABI 1 have none either); build it with PLEXUS_COMPONENT from this Plexus's SDK";

struct ExpectedRefusal {
  std::string file;  ///< In the fixtures folder.
  std::string reason;
};

/// Every fixture that must be refused, with its exact reason, sorted by file.
inline std::vector<ExpectedRefusal> expectedRefusals() {
  const std::string tag = PLEXUS_ABI_TAG;
  const std::string takenEcho = "component \"echo\" is already registered by " + fixture("echo.so");
  return {
      {"crash_on_load.so", abiRefusal(replaced(tag, "cxx=itanium", "cxx=msvc"),
                                      "cxx=msvc where this Plexus has cxx=itanium")},
      {"echo_again.so", takenEcho},
      {"empty.so", "plexus_register_components registered no components"},
      {"garbage.so", "not a shared library: it does not start with the ELF magic number (\\177ELF)"},
      {"glibcxx_debug.so", abiRefusal(replaced(tag, "glibcxx-debug=0", "glibcxx-debug=1"),
                                      "glibcxx-debug=1 where this Plexus has glibcxx-debug=0")},
      {"json_diagnostics.so",
       abiRefusal(replaced(tag, "json-diagnostics=0", "json-diagnostics=1"),
                  "json-diagnostics=1 where this Plexus has json-diagnostics=0")},
      {"malformed.so", "component \"malformed\": action \"broken\" has no perform function"},
      {"no_entry_points.so", kNoTagRefusal},
      {"older_abi.so", abiRefusal(replaced(tag, "plexus-sdk-abi=5", "plexus-sdk-abi=1"),
                                  "plexus-sdk-abi=1 where this Plexus has plexus-sdk-abi=5")},
      {"sdk_abi_1.so", kNoTagRefusal},
      {"swallowing.so", takenEcho},
      {"throwing.so",
       "plexus_register_components threw: cannot reach the licence server at licence.example.com"},
      {"twice.so", "component \"twice\" is registered twice by this library"},
  };
}

/// expectedRefusals() as "FILE: reason" lines.
inline std::vector<std::string> expectedRefusalMessages() {
  std::vector<std::string> lines;
  for (const auto& refusal : expectedRefusals()) lines.push_back(fixture(refusal.file) + ": " + refusal.reason);
  return lines;
}

/// The fixtures that load: each with its key.
inline const std::vector<std::string> kLoadingKeys = {"echo", "json-patch-release", "layout"};

inline std::vector<std::string> refusalMessages(const ComponentRegistry& registry) {
  std::vector<std::string> messages;
  for (const auto& refusal : registry.refusals()) messages.push_back(refusal.message());
  return messages;
}

inline std::vector<std::string> componentKeys(const ComponentCatalog& catalog) {
  std::vector<std::string> keys;
  for (const auto& component : catalog.all()) keys.push_back(component->spec.key);
  return keys;
}

}  // namespace plexus::core::test
