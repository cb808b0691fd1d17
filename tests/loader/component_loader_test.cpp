// loadComponents against the fixture libraries (tests/fixtures/plugins): one
// good library among libraries refused for every reason the loader knows.
#include <elf.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>

#include <filesystem>
#include <fstream>
#include <map>
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

}  // namespace


TEST_CASE("each bad fixture library is refused with one exact line naming the file",
          "[loader]") {
  // Several of them crash or abort the moment any of their code runs
  // (crash_on_load.so, older_abi.so, sdk_abi_1.so): this test getting here
  // proves their tags were read from the file, before dlopen.
  auto registry = loadComponents(kFixturesDir);
  CHECK(refusalMessages(*registry) == expectedRefusalMessages());
  for (const auto& refusal : registry->refusals()) {
    CHECK(refusal.message() == refusal.file + ": " + refusal.reason);
    CHECK(refusal.reason.find('\n') == std::string::npos);
  }
}

TEST_CASE("the good library loads beside the refused ones, and refused ones add nothing",
          "[loader]") {
  auto registry = loadComponents(kFixturesDir);
  CHECK(componentKeys(*registry) == kLoadingKeys);
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
  CHECK_FALSE(registry->find("json-diagnostics"));
  CHECK_FALSE(registry->find("glibcxx-debug"));
}

TEST_CASE("a component built against another nlohmann/json patch release loads", "[loader]") {
  auto registry = loadComponents(kFixturesDir);
  LoadedComponentPtr patch = registry->find("json-patch-release");
  REQUIRE(patch);
  CHECK(invoke(*patch, "version", Json::object()).data() == Json{{"patch", 99}});
}

TEST_CASE("the source refused with layout-changing flags loads when built without them",
          "[loader]") {
  auto registry = loadComponents(kFixturesDir);
  LoadedComponentPtr layout = registry->find("layout");
  REQUIRE(layout);
  REQUIRE(layout->spec.actions.size() == 2);
  CHECK(invoke(*layout, "describe", Json::object()).data() ==
        Json{{"shape", {{"names", {"a", "b"}}, {"sides", 4}}}, {"size", 2}});
  auto status = invoke(*layout, "stop", Json::object());
  REQUIRE(status.isStatus());
  CHECK(status.status().statusCode == 202);
  CHECK(status.status().headers == std::map<std::string, std::string>{{"x-layout", "yes"}});

  // Its trigger: a WebhookRequest in, a TriggerResult or a TriggerRefusal out.
  REQUIRE(layout->spec.triggers.size() == 1);
  const plexus::TriggerSpec& gate = layout->spec.triggers.front();
  struct Context : plexus::TriggerContext {
    std::string id = "i", name = "acme";
    Json config = Json::object();
    const std::string& instanceId() const override { return id; }
    const std::string& instanceName() const override { return name; }
    const Json& configVars() const override { return config; }
    std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
  } context;
  plexus::WebhookRequest request;
  request.method = "POST";
  request.headers = {{"x-pass", "yes"}};
  request.rawBody = plexus::Binary(std::string("12345"), "text/plain");
  plexus::TriggerResult ran = gate.perform(request, gate.prepareInputs(Json::object()), context);
  REQUIRE(ran.runs());
  CHECK(*ran.results() == Json{{"instance", "acme"}, {"bytes", 5}});
  REQUIRE(ran.immediateReply());
  CHECK(ran.immediateReply()->statusCode == 202);
  CHECK(*ran.immediateReply()->body == "gated");
  request.headers.erase("x-pass");
  try {
    gate.perform(request, gate.prepareInputs(Json::object()), context);
    FAIL("the gate let a request without a pass through");
  } catch (const plexus::TriggerRefusal& refusal) {
    CHECK(refusal.status() == 403);
    CHECK(refusal.headers().at("x-layout") == "no");
  }
}

// The refused fixtures are small enough to have no STB_GNU_UNIQUE symbols
// (`readelf --dyn-syms`), which would make glibc keep them loaded regardless.
TEST_CASE("a refused library is unloaded again, or never loaded", "[loader]") {
  auto registry = loadComponents(kFixturesDir);
  LoadedComponentPtr echo = registry->find("echo");
  REQUIRE(echo);
  CHECK(isLoaded(echo->loadedFrom));
  CHECK_FALSE(isLoaded(fixture("echo.so")));  // the copy is loaded, never the original
  for (const auto& refusal : expectedRefusals()) {
    INFO(refusal.file);
    CHECK_FALSE(isLoaded(fixture(refusal.file)));
    CHECK(loadedCopiesNamed(refusal.file).empty());
  }
}

TEST_CASE("each refusal is logged at warning level on plexus.loader", "[loader]") {
  LogCapture capture("plexus.loader");
  auto registry = loadComponents(kFixturesDir);
  std::vector<std::string> warnings;
  for (const auto& message : capture.messages())
    if (message.getPriority() == Poco::Message::PRIO_WARNING) warnings.push_back(message.getText());
  CHECK(warnings == expectedRefusalMessages());
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
  const std::string copy = echo->loadedFrom;

  // The registry is gone; the component still works.
  CHECK(isLoaded(echo->loadedFrom));
  CHECK(invoke(*echo, "say", {{"text", "after"}}).data() == Json{{"said", "after"}});

  // A binary result's buffer is managed by code in the library, so its holder
  // keeps the library too (as the engine does with LoadedComponent::keepAlive).
  Json bytes = invoke(*echo, "bytes", {{"text", "kept"}}).data();
  std::shared_ptr<const void> keepAlive = echo->keepAlive;
  echo.reset();
  CHECK_FALSE(library.expired());
  CHECK(isLoaded(copy));
  CHECK(plexus::asBinary(bytes).view() == "kept");

  bytes = nullptr;
  keepAlive.reset();
  CHECK(library.expired());
  CHECK_FALSE(std::filesystem::exists(copy));  // its private copy went with it
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

TEST_CASE("a library with a good tag in a corrupt ELF file is refused, not loaded", "[loader]") {
  TempDir plugins;
  std::ifstream in(fixture("echo.so"), std::ios::binary);
  const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(plugins.file(name), std::ios::binary) << bytes;
  };
  auto patched = [&](std::size_t offset, std::uint64_t value) {
    std::string bytes = whole;
    std::memcpy(&bytes[offset], &value, sizeof value);
    return bytes;
  };
  // The section header table cut off: the tag cannot be found.
  write("cut.so", whole.substr(0, whole.size() - 100));
  // The section header table moved past the end of the file.
  write("shoff.so", patched(offsetof(Elf64_Ehdr, e_shoff), whole.size() + 1));
  // The tag is intact, the program headers are not: dlopen refuses it.
  write("phoff.so", patched(offsetof(Elf64_Ehdr, e_phoff), 0x7ffffffffff0ull));

  auto registry = loadComponents(plugins.path());
  CHECK(registry->all().empty());
  const auto refusals = registry->refusals();
  REQUIRE(refusals.size() == 3);
  CHECK(refusals[0].file == plugins.file("cut.so"));
  CHECK_THAT(refusals[0].reason, Catch::StartsWith("not a shared library: the section header table ("));
  CHECK_THAT(refusals[0].reason, Catch::EndsWith(") runs past the end of the file (" +
                                                 std::to_string(whole.size() - 100) + " bytes)"));
  CHECK(refusals[1].file == plugins.file("phoff.so"));
  CHECK_THAT(refusals[1].reason, Catch::StartsWith("not a shared library: "));
  CHECK_THAT(refusals[1].reason, !Catch::Contains("plexus-plugins-"));  // names no private copy
  CHECK(refusals[2].file == plugins.file("shoff.so"));
  CHECK_THAT(refusals[2].reason, Catch::StartsWith("not a shared library: the section header table ("));
}
