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
#include "loader/component_loader.hpp"

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

Json refusedJson() {
  Json list = Json::array();
  for (const auto& refusal : expectedRefusals())
    list.push_back({{"file", fixture(refusal.file)}, {"reason", refusal.reason}});
  return list;
}

Json summary(const std::string& key, const std::string& version, const std::string& description,
             const std::string& file, std::vector<std::string> actions, std::vector<std::string> triggers = {}) {
  return {{"key", key},
          {"version", version},
          {"description", description},
          {"file", fixture(file)},
          {"actions", actions},
          {"triggers", triggers}};
}

Json listJson() {
  return {{"components",
           Json::array({summary("echo", "1.2.3", "Echoes its input", "echo.so", {"say", "bytes", "fail"}),
                        summary("json-patch-release", "1.0.0",
                                "Built against another nlohmann/json patch release",
                                "json_patch_release.so", {"version"}),
                        summary("layout", "1.0.0", "Every SDK type across the boundary", "layout.so",
                                {"describe", "stop"}, {"gate"})})},
          {"refused", refusedJson()}};
}

/// Everything written to std::cerr while it lives.
class StderrCapture {
 public:
  StderrCapture() : previous_(std::cerr.rdbuf(buffer_.rdbuf())) {}
  ~StderrCapture() { std::cerr.rdbuf(previous_); }
  std::string text() const { return buffer_.str(); }

 private:
  std::ostringstream buffer_;
  std::streambuf* previous_;
};

}  // namespace

TEST_CASE("components list --output json gives the components and the refused files",
          "[loader][cli]") {
  StderrCapture errors;
  Run result = run({"list", "--plugins", kFixturesDir, "--output", "json"});
  CHECK(result.exitCode == 1);  // files were refused
  CHECK(Json::parse(result.out) == listJson());
  CHECK(errors.text() == "plexus components list: 13 file(s) in the plugins folder refused (listed above)\n");
}

TEST_CASE("components list exits 1 when any file was refused, 0 when none was", "[loader][cli]") {
  StderrCapture errors;
  TempDir good;
  copyFixtures(good.path(), {"echo.so", "layout.so"});
  Run clean = run({"list", "--plugins", good.path()});
  CHECK(clean.exitCode == 0);
  CHECK(errors.text().empty());
  CHECK(run({"list", "--plugins", good.path(), "--output", "json"}).exitCode == 0);

  TempDir mixed;
  copyFixtures(mixed.path(), {"echo.so", "json_diagnostics.so"});
  Run refused = run({"list", "--plugins", mixed.path()});
  CHECK(refused.exitCode == 1);
  // Everything that loaded is still printed, then the refusal.
  CHECK_THAT(refused.out, Catch::Contains("echo  1.2.3"));
  CHECK_THAT(refused.out, Catch::Contains("\nRefused:\n  " + mixed.path() +
                                          "/json_diagnostics.so: built for another ABI: "
                                          "json-diagnostics=1 where this Plexus has "
                                          "json-diagnostics=0; "));
  CHECK_THAT(errors.text(), Catch::Contains("1 file(s) in the plugins folder refused"));
}

TEST_CASE("components list prints a table, then each refused file with its reason",
          "[loader][cli]") {
  StderrCapture errors;
  Run result = run({"list", "--plugins", kFixturesDir});
  CHECK(result.exitCode == 1);
  const std::string echo = fixture("echo.so"), patch = fixture("json_patch_release.so"),
                    layout = fixture("layout.so");
  const std::size_t width = patch.size();  // the longest path
  auto padded = [&](const std::string& text) { return text + std::string(width - text.size() + 2, ' '); };
  std::string expected =
      "KEY                 VERSION  ACTIONS AND TRIGGERS          " + padded("FILE") + "DESCRIPTION\n"
      "echo                1.2.3    say, bytes, fail              " + padded(echo) + "Echoes its input\n"
      "json-patch-release  1.0.0    version                       " + padded(patch) +
      "Built against another nlohmann/json patch release\n"
      "layout              1.0.0    describe, stop, trigger gate  " + padded(layout) +
      "Every SDK type across the boundary\n"
      "\nRefused:\n";
  for (const auto& refusal : refusedJson())
    expected += "  " + refusal["file"].get<std::string>() + ": " +
                refusal["reason"].get<std::string>() + "\n";
  CHECK(result.out == expected);
}

TEST_CASE("components list reads the plugins folder from PLEXUS_PLUGINS unless --plugins is given",
          "[loader][cli]") {
  StderrCapture errors;
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
                       {"inputs", Json::array()}}})},
        {"triggers", Json::array()}};
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
                        " (13 file(s) there were refused); `plexus components list` shows what "
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
