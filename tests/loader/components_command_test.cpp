// `plexus components list|describe` against the fixture plugins folder.
#include <stdlib.h>

#include <iostream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <plexus/abi.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "loader_test_support.hpp"

using plexus::Json;
using plexus::core::cli::componentsCommand;
using plexus::core::cli::UsageError;
using namespace plexus::core::test;
using Catch::Matchers::StartsWith;

namespace {

/// Everything written to std::cout while it lives.
class StdoutCapture {
 public:
  StdoutCapture() : previous_(std::cout.rdbuf(buffer_.rdbuf())) {}
  ~StdoutCapture() { std::cout.rdbuf(previous_); }
  std::string text() const { return buffer_.str(); }

 private:
  std::ostringstream buffer_;
  std::streambuf* previous_;
};

struct Run {
  int exitCode;
  std::string out;
};

Run run(const std::vector<std::string>& args) {
  StdoutCapture capture;
  int code = componentsCommand(args);
  return {code, capture.text()};
}

/// Sets an environment variable for one scope, then unsets it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) { setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

const std::string kForeignTag =
    "plexus-sdk-abi=0;cxx=itanium;stdlib=libstdc++-cxx11abi1;nlohmann-json=3.9.1";

Json refusedJson() {
  const std::string takenEcho = "component \"echo\" is already registered by " + fixture("echo.so");
  auto refusal = [](const std::string& file, const std::string& reason) {
    return Json{{"file", fixture(file)}, {"reason", reason}};
  };
  return Json::array({
      refusal("echo_again.so", takenEcho),
      refusal("empty.so", "plexus_register_components registered no components"),
      refusal("garbage.so", "not a shared library: invalid ELF header"),
      refusal("malformed.so", "component \"malformed\": action \"broken\" has no perform function"),
      refusal("no_entry_points.so", "not a Plexus component: no plexus_abi_tag entry point"),
      refusal("swallowing.so", takenEcho),
      refusal("throwing.so",
              "plexus_register_components threw: cannot reach the licence server at "
              "licence.example.com"),
      refusal("twice.so", "component \"twice\" is registered twice by this library"),
      refusal("wrong_abi.so", "built for ABI \"" + kForeignTag + "\", this Plexus expects \"" +
                                  PLEXUS_ABI_TAG + "\"; rebuild it with this Plexus's SDK"),
  });
}

Json listJson() {
  return {{"components",
           Json::array({{{"key", "echo"},
                         {"version", "1.2.3"},
                         {"description", "Echoes its input"},
                         {"file", fixture("echo.so")},
                         {"actions", {"say", "bytes", "fail"}}}})},
          {"refused", refusedJson()}};
}

}  // namespace

TEST_CASE("components list --output json gives the components and the refused files",
          "[loader][cli]") {
  Run result = run({"list", "--plugins", kFixturesDir, "--output", "json"});
  CHECK(result.exitCode == 0);
  CHECK(Json::parse(result.out) == listJson());
}

TEST_CASE("components list prints a table, then each refused file with its reason",
          "[loader][cli]") {
  Run result = run({"list", "--plugins", kFixturesDir});
  CHECK(result.exitCode == 0);
  const std::string file = fixture("echo.so");
  std::string expected =
      "KEY   VERSION  ACTIONS           FILE" + std::string(file.size() - 4 + 2, ' ') +
      "DESCRIPTION\n"
      "echo  1.2.3    say, bytes, fail  " + file + "  Echoes its input\n"
      "\nRefused:\n";
  for (const auto& refusal : refusedJson())
    expected += "  " + refusal["file"].get<std::string>() + ": " +
                refusal["reason"].get<std::string>() + "\n";
  CHECK(result.out == expected);
}

TEST_CASE("components list reads the plugins folder from PLEXUS_PLUGINS unless --plugins is given",
          "[loader][cli]") {
  SECTION("the environment variable alone") {
    ScopedEnv env("PLEXUS_PLUGINS", kFixturesDir);
    CHECK(Json::parse(run({"list", "--output=json"}).out) == listJson());
  }
  SECTION("--plugins wins over the environment variable") {
    ScopedEnv env("PLEXUS_PLUGINS", "/nonexistent/plexus-plugins");
    CHECK(Json::parse(run({"list", "--output=json", "--plugins=" + kFixturesDir}).out) ==
          listJson());
  }
}

TEST_CASE("components describe shows each action with its inputs", "[loader][cli]") {
  SECTION("as JSON") {
    Run result = run({"describe", "echo", "--plugins", kFixturesDir, "--output", "json"});
    CHECK(result.exitCode == 0);
    Json text = {{"key", "text"},
                 {"type", "string"},
                 {"label", "Text"}};
    Json sayText = text;
    sayText["required"] = true;
    sayText["description"] = "What to say back";
    Json bytesText = text;
    bytesText["required"] = false;
    bytesText["default"] = "abc";
    bytesText["description"] = "The bytes to return";
    Json expected = {
        {"key", "echo"},
        {"version", "1.2.3"},
        {"description", "Echoes its input"},
        {"file", fixture("echo.so")},
        {"actions",
         Json::array({{{"key", "say"}, {"label", "Say"}, {"description", "Returns its input"},
                       {"inputs", Json::array({sayText})}},
                      {{"key", "bytes"}, {"label", "Bytes"},
                       {"description", "Returns its input as binary data"},
                       {"inputs", Json::array({bytesText})}},
                      {{"key", "fail"}, {"label", "Fail"}, {"description", "Always throws"},
                       {"inputs", Json::array()}}})}};
    CHECK(Json::parse(result.out) == expected);
  }
  SECTION("as a table") {
    Run result = run({"describe", "echo", "--plugins", kFixturesDir});
    CHECK(result.exitCode == 0);
    CHECK(result.out ==
          "echo 1.2.3: Echoes its input\n"
          "file: " + fixture("echo.so") + "\n"
          "\n"
          "echo.say (Say): Returns its input\n"
          "  INPUT  TYPE    REQUIRED  DEFAULT  LABEL  DESCRIPTION\n"
          "  text   string  yes       -        Text   What to say back\n"
          "\n"
          "echo.bytes (Bytes): Returns its input as binary data\n"
          "  INPUT  TYPE    REQUIRED  DEFAULT  LABEL  DESCRIPTION\n"
          "  text   string  no        \"abc\"    Text   The bytes to return\n"
          "\n"
          "echo.fail (Fail): Always throws\n"
          "  no inputs\n");
  }
}

TEST_CASE("components describe of an unknown key fails naming the key and the folder",
          "[loader][cli]") {
  CHECK_THROWS_WITH(run({"describe", "nosuch", "--plugins", kFixturesDir}),
                    "no component \"nosuch\" in " + kFixturesDir +
                        " (9 file(s) there were refused); `plexus components list` shows what "
                        "is there");
}

TEST_CASE("components usage mistakes are usage errors", "[loader][cli]") {
  CHECK_THROWS_AS(run({}), UsageError);
  CHECK_THROWS_WITH(run({}), StartsWith("missing list or describe\nusage: plexus components list"));
  CHECK_THROWS_WITH(run({"frobnicate"}),
                    StartsWith("unknown sub-command 'frobnicate', expected list or describe\n"));
  CHECK_THROWS_WITH(run({"list", "--plugins", kFixturesDir, "--output", "xml"}),
                    "--output must be json or table, not 'xml'");
  CHECK_THROWS_WITH(run({"describe", "--plugins", kFixturesDir}),
                    StartsWith("describe takes exactly one component KEY\n"));
  CHECK_THROWS_WITH(run({"list", "extra", "--plugins", kFixturesDir}),
                    StartsWith("list takes no arguments, got 'extra'\n"));
  CHECK_THROWS_WITH(run({"list", "--verbose"}), "unknown option --verbose");
}

TEST_CASE("components list fails when the plugins folder does not exist", "[loader][cli]") {
  CHECK_THROWS_WITH(run({"list", "--plugins", "/nonexistent/plexus-plugins"}),
                    StartsWith("plugins directory /nonexistent/plexus-plugins does not exist; "
                               "pass --plugins DIR"));
}
