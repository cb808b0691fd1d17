// loadComponents against the fixture libraries (tests/fixtures/plugins): one
// good library among libraries refused for every reason the loader knows.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <catch2/catch.hpp>
#include <plexus/abi.hpp>

#include "loader/component_loader.hpp"
#include "loader_test_support.hpp"

using namespace plexus::core;
using namespace plexus::core::test;
using plexus::Json;

namespace {

/// Collects what is logged, for the duration of a test, on one Poco logger.
class CapturingChannel : public Poco::Channel {
 public:
  std::vector<Poco::Message> messages;
  void log(const Poco::Message& message) override { messages.push_back(message); }
};

class LogCapture {
 public:
  explicit LogCapture(const std::string& name)
      : logger_(Poco::Logger::get(name)),
        previousChannel_(logger_.getChannel()),
        previousLevel_(logger_.getLevel()),
        channel_(new CapturingChannel) {
    logger_.setChannel(channel_);
    logger_.setLevel(Poco::Message::PRIO_TRACE);
  }
  ~LogCapture() {
    logger_.setChannel(previousChannel_);
    logger_.setLevel(previousLevel_);
  }
  const std::vector<Poco::Message>& messages() const { return channel_->messages; }

 private:
  Poco::Logger& logger_;
  Poco::Channel::Ptr previousChannel_;
  int previousLevel_;
  Poco::AutoPtr<CapturingChannel> channel_;
};

/// A fresh empty directory, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "plexus-loader-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const std::string kForeignTag =
    "plexus-sdk-abi=0;cxx=itanium;stdlib=libstdc++-cxx11abi1;nlohmann-json=3.9.1";

/// Every fixture that must be refused, with its exact line, sorted by file.
std::vector<std::string> expectedRefusals() {
  return {
      fixture("echo_again.so") + ": component \"echo\" is already registered by " +
          fixture("echo.so"),
      fixture("empty.so") + ": plexus_register_components registered no components",
      fixture("garbage.so") + ": not a shared library: invalid ELF header",
      fixture("malformed.so") + ": component \"malformed\": action \"broken\" has no perform function",
      fixture("no_entry_points.so") + ": not a Plexus component: no plexus_abi_tag entry point",
      fixture("swallowing.so") + ": component \"echo\" is already registered by " +
          fixture("echo.so"),
      fixture("throwing.so") +
          ": plexus_register_components threw: cannot reach the licence server at "
          "licence.example.com",
      fixture("twice.so") + ": component \"twice\" is registered twice by this library",
      fixture("wrong_abi.so") + ": built for ABI \"" + kForeignTag +
          "\", this Plexus expects \"" PLEXUS_ABI_TAG "\"; rebuild it with this Plexus's SDK",
  };
}

}  // namespace

TEST_CASE("each bad fixture library is refused with one exact line naming the file",
          "[loader]") {
  auto registry = loadComponents(kFixturesDir);
  CHECK(refusalMessages(*registry) == expectedRefusals());
  for (const auto& refusal : registry->refusals()) {
    CHECK(refusal.message() == refusal.file + ": " + refusal.reason);
    CHECK(refusal.reason.find('\n') == std::string::npos);
  }
}

TEST_CASE("the good library loads beside the refused ones, and refused ones add nothing",
          "[loader]") {
  auto registry = loadComponents(kFixturesDir);
  CHECK(componentKeys(*registry) == std::vector<std::string>{"echo"});
  LoadedComponentPtr echo = registry->find("echo");
  REQUIRE(echo);
  CHECK(echo->file == fixture("echo.so"));
  CHECK(echo->spec.version == "1.2.3");  // not echo_again.so's 9.9.9
  CHECK(echo->keepAlive);
  // Registered before their library failed: all or nothing.
  CHECK_FALSE(registry->find("throwing-first"));
  CHECK_FALSE(registry->find("swallowing"));
  CHECK_FALSE(registry->find("twice"));
  CHECK_FALSE(registry->find("missing"));
}

// The refused fixtures are small enough to have no STB_GNU_UNIQUE symbols
// (`readelf --dyn-syms`), which would make glibc keep them loaded regardless.
TEST_CASE("a refused library is unloaded again", "[loader]") {
  auto registry = loadComponents(kFixturesDir);
  CHECK(isLoaded(fixture("echo.so")));
  for (const char* refused : {"echo_again.so", "wrong_abi.so", "no_entry_points.so", "throwing.so",
                              "twice.so", "swallowing.so", "empty.so", "malformed.so"}) {
    INFO(refused);
    CHECK_FALSE(isLoaded(fixture(refused)));
  }
}

TEST_CASE("each refusal is logged at warning level on plexus.loader", "[loader]") {
  LogCapture capture("plexus.loader");
  auto registry = loadComponents(kFixturesDir);
  std::vector<std::string> warnings;
  for (const auto& message : capture.messages())
    if (message.getPriority() == Poco::Message::PRIO_WARNING) warnings.push_back(message.getText());
  CHECK(warnings == expectedRefusals());
}

TEST_CASE("a loaded action can be called and its errors reach the caller", "[loader]") {
  auto registry = loadComponents(kFixturesDir);
  LoadedComponentPtr echo = registry->find("echo");
  REQUIRE(echo);

  SECTION("data result") {
    CHECK(invoke(*echo, "say", {{"text", "hi"}}).data() == Json{{"said", "hi"}});
  }
  SECTION("binary result made inside the library") {
    Json bytes = invoke(*echo, "bytes", {{"text", "xyz"}}).data();
    REQUIRE(bytes.is_binary());
    CHECK(plexus::asBinary(bytes).view() == "xyz");
    CHECK(plexus::asBinary(bytes).contentType() == "text/plain");
  }
  SECTION("the action's exception, with its message") {
    CHECK_THROWS_WITH(invoke(*echo, "fail", Json::object()), "echo.fail was asked to fail");
  }
  SECTION("inputs are checked against the loaded spec") {
    CHECK_THROWS_WITH(invoke(*echo, "say", Json::object()), "input 'text' is required");
  }
}

TEST_CASE("a library stays loaded while anything it made is alive", "[loader]") {
  LoadedComponentPtr echo;
  {
    auto registry = loadComponents(kFixturesDir);
    echo = registry->find("echo");
  }
  REQUIRE(echo);
  // Watches the library handle without holding it: it expires when the last
  // holder lets go, and that is when the loader's handle is closed.
  std::weak_ptr<const void> library = echo->keepAlive;

  // The registry is gone; the component still works.
  CHECK(isLoaded(fixture("echo.so")));
  CHECK(invoke(*echo, "say", {{"text", "after"}}).data() == Json{{"said", "after"}});

  // A binary result's buffer is managed by code in the library, so its holder
  // keeps the library too (as the engine does with LoadedComponent::keepAlive).
  Json bytes = invoke(*echo, "bytes", {{"text", "kept"}}).data();
  std::shared_ptr<const void> keepAlive = echo->keepAlive;
  echo.reset();
  CHECK_FALSE(library.expired());
  CHECK(isLoaded(fixture("echo.so")));
  CHECK(plexus::asBinary(bytes).view() == "kept");

  bytes = nullptr;
  keepAlive.reset();
  CHECK(library.expired());
  // Whether the file then leaves memory is glibc's choice: a library with
  // STB_GNU_UNIQUE symbols (echo.so gets some from std::make_shared) is
  // never unloaded, so this test does not assert it.
}

TEST_CASE("a directory with no .so files loads nothing and refuses nothing", "[loader]") {
  TempDir dir;
  std::ofstream(dir.path() + "/README.txt") << "not a library";
  std::filesystem::create_directory(dir.path() + "/nested.so");  // a directory, not a file
  auto registry = loadComponents(dir.path());
  CHECK(registry->all().empty());
  CHECK(registry->refusals().empty());
}

TEST_CASE("a missing plugins directory is an error naming it and --plugins", "[loader]") {
  TempDir dir;
  const std::string missing = dir.path() + "/nowhere";
  CHECK_THROWS_WITH(loadComponents(missing),
                    "plugins directory " + missing +
                        " does not exist; pass --plugins DIR (or set PLEXUS_PLUGINS) naming the "
                        "folder that holds the component .so files");
  const std::string file = fixture("echo.so");
  CHECK_THROWS_WITH(loadComponents(file),
                    "plugins directory " + file +
                        " is not a directory; pass --plugins DIR (or set PLEXUS_PLUGINS) naming "
                        "the folder that holds the component .so files");
}

TEST_CASE("the default plugins directory is ../plugins beside the executable", "[loader]") {
  const auto executable = std::filesystem::read_symlink("/proc/self/exe");
  CHECK(defaultPluginsDirectory() ==
        (executable.parent_path().parent_path() / "plugins").string());
}

TEST_CASE("a registry refuses two components with the same key", "[loader]") {
  auto a = std::make_shared<LoadedComponent>();
  a->spec.key = "same";
  auto b = std::make_shared<LoadedComponent>();
  b->spec.key = "same";
  CHECK_THROWS_WITH(ComponentRegistry({a, b}, {}),
                    "component registry: component \"same\" is given twice");
}
