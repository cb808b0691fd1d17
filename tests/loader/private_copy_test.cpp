// Private copies: the loader never maps the plugins folder's files, so
// overwriting one in place cannot reach the running code; copies are named
// usefully and cleaned up, also after a crash.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "loader/component_loader.hpp"
#include "loader/private_copy.hpp"
#include "loader_test_support.hpp"

using namespace plexus::core;
using namespace plexus::core::test;
using plexus::Json;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> entries(const std::string& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

/// The actions of echo.so answer as echo.so does.
void requireEchoWorks(const LoadedComponent& echo) {
  CHECK(invoke(echo, "say", {{"text", "still me"}}).data() == Json{{"said", "still me"}});
  CHECK(plexus::asBinary(invoke(echo, "bytes", {{"text", "xyz"}}).data()).view() == "xyz");
  CHECK_THROWS_WITH(invoke(echo, "fail", Json::object()), "echo.fail was asked to fail");
}

}  // namespace

TEST_CASE("a library is loaded from a private copy that dladdr names, removed after use",
          "[loader][copy]") {
  TempDir plugins, parent;
  copyFixtures(plugins.path(), {"echo.so"});
  {
    auto registry = loadComponents(plugins.path(), {parent.path(), false});
    LoadedComponentPtr echo = registry->find("echo");
    REQUIRE(echo);
    CHECK(echo->file == plugins.file("echo.so"));
    const fs::path copy = echo->loadedFrom;
    CHECK(copy.filename() == "echo.so");
    CHECK(copy.parent_path().parent_path() == parent.path());
    CHECK_THAT(copy.parent_path().filename().string(), Catch::StartsWith(kCopyDirectoryPrefix));
    CHECK(fs::exists(copy));
    // Only this user may read the folder and the copy; nobody may write the copy.
    CHECK((fs::status(copy.parent_path()).permissions() & fs::perms::all) == fs::perms::owner_all);
    CHECK((fs::status(copy).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_exec));

    // What a backtrace shows for code in the library.
    void* handle = dlopen(copy.c_str(), RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(handle);
    void* entry = dlsym(handle, "plexus_register_components");
    Dl_info info{};
    REQUIRE(dladdr(entry, &info) != 0);
    CHECK(std::string(info.dli_fname) == copy.string());
    dlclose(handle);
  }
  CHECK(entries(parent.path()).empty());
}

TEST_CASE("overwriting a loaded library in place with cp does not change the running code",
          "[loader][copy]") {
  // Before private copies this crashed the process: dlopen had mapped the
  // plugins folder's file, and cp rewrites that very file.
  for (bool inMemory : {false, true}) {
    INFO("memfd copies: " << inMemory);
    TempDir plugins;
    copyFixtures(plugins.path(), {"echo.so"});
    auto registry = loadComponents(plugins.path(), {"", inMemory});
    LoadedComponentPtr echo = registry->find("echo");
    REQUIRE(echo);
    requireEchoWorks(*echo);
    overwriteInPlace(fixture("layout.so"), plugins.file("echo.so"));
    requireEchoWorks(*echo);
    overwriteInPlace(fixture("garbage.so"), plugins.file("echo.so"));  // smaller: truncated
    requireEchoWorks(*echo);
  }
}

TEST_CASE("memfd copies work, and say what they are in /proc", "[loader][copy]") {
  auto registry = loadComponents(kFixturesDir, {"", true});
  CHECK(refusalMessages(*registry) == expectedRefusalMessages());
  LoadedComponentPtr echo = registry->find("echo");
  REQUIRE(echo);
  CHECK_THAT(echo->loadedFrom, Catch::StartsWith("/proc/self/fd/"));
  CHECK(fs::read_symlink(echo->loadedFrom).string() == "/memfd:plexus:echo.so (deleted)");
  requireEchoWorks(*echo);
}

TEST_CASE("when no folder for copies can be made, copies go to memory", "[loader][copy]") {
  TempDir plugins;
  copyFixtures(plugins.path(), {"echo.so"});
  auto registry = loadComponents(plugins.path(), {"/nonexistent/plexus-copies", false});
  LoadedComponentPtr echo = registry->find("echo");
  REQUIRE(echo);
  CHECK_THAT(echo->loadedFrom, Catch::StartsWith("/proc/self/fd/"));
  requireEchoWorks(*echo);
}

TEST_CASE("copy folders of processes that are gone are removed, those in use are kept",
          "[loader][copy]") {
  TempDir plugins, parent;
  copyFixtures(plugins.path(), {"echo.so"});
  const std::string prefix = kCopyDirectoryPrefix;

  // Left by a process that crashed: nobody holds its lock.
  fs::create_directory(parent.file(prefix + "Ab3dEf"));
  copyFixtures(parent.file(prefix + "Ab3dEf"), {"echo.so"});
  // In use: its lock is held (by this process, through another open file
  // description, which conflicts exactly like another process would).
  fs::create_directory(parent.file(prefix + "InUse0"));
  const int lock = ::open(parent.file(prefix + "InUse0").c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(lock >= 0);
  REQUIRE(::flock(lock, LOCK_EX | LOCK_NB) == 0);
  // Being created right now (not yet locked and renamed): kept.
  fs::create_directory(parent.file(prefix + "new-Zz9Zz9"));
  // Not the loader's.
  fs::create_directory(parent.file("someone-else"));

  CHECK(removeAbandonedCopyDirectories(parent.path()) == 1);
  CHECK(entries(parent.path()) ==
        std::vector<std::string>{prefix + "InUse0", prefix + "new-Zz9Zz9", "someone-else"});

  // loadComponents does the same before making its own folder.
  fs::create_directory(parent.file(prefix + "Gh5jKl"));
  {
    auto registry = loadComponents(plugins.path(), {parent.path(), false});
    REQUIRE(registry->find("echo"));
    CHECK_FALSE(fs::exists(parent.file(prefix + "Gh5jKl")));
    CHECK(entries(parent.path()).size() == 4);  // its own folder, while its libraries live
  }
  CHECK(entries(parent.path()) ==
        std::vector<std::string>{prefix + "InUse0", prefix + "new-Zz9Zz9", "someone-else"});
  ::close(lock);
  CHECK(removeAbandonedCopyDirectories(parent.path()) == 1);
}
