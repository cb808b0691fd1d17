// What one integration file may cost to load: aliases ("billion laughs"),
// nesting, size, and the cost of suggestions and duplicate checks.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "integration/integration_loader.hpp"
#include "integration/suggest.hpp"
#include "integration/yaml_limits.hpp"
#include "test_catalog.hpp"

using namespace plexus::core;

namespace {

std::string errorsOf(const std::string& yaml) {
  IntegrationLoadResult result = parseIntegration(yaml, "f.yaml", test::catalog());
  std::string out;
  for (const auto& error : result.errors) out += (out.empty() ? "" : "\n") + error.format();
  return out;
}

const std::string kHead =
    "name: Laughs\ntrigger: {webhook: {}}\nsteps:\n  - name: boom\n    component: json\n"
    "    action: value\n    inputs:\n      value:\n";

/// Nine levels of nine aliases each: 10^9 values once copied out, in 600 bytes.
std::string billionLaughs() {
  std::string yaml = kHead + "        a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (char level = 'b'; level <= 'i'; ++level) {
    std::string previous = std::string("*") + static_cast<char>(level - 1);
    yaml += std::string("        ") + level + ": &" + level + " [";
    for (int i = 0; i < 9; ++i) yaml += (i ? ", " : "") + previous;
    yaml += "]\n";
  }
  return yaml;
}

}  // namespace

TEST_CASE("A billion laughs is refused at the alias that crosses the budget, with its position", "[loader][limits]") {
  std::string yaml = billionLaughs();
  CHECK(yaml.size() < 700);
  // Through aliases: b adds 90 values, c 819, d 7380, e 66429; the first *e
  // of f takes the file past 100,000.
  CHECK(errorsOf(yaml) ==
        "f.yaml:14:16: the file expands to more than 100000 values through aliases (here: *e stands for "
        "66430 values); each alias is a full copy of its anchor, so aliases of aliases multiply: write the "
        "values out, or use fewer levels of aliases");
}

TEST_CASE("The alias budget counts aliases anywhere in the file, not only where the loader looks",
          "[loader][limits]") {
  std::string yaml = billionLaughs();
  // The same anchors under an unknown key: still refused, before any check.
  yaml.replace(yaml.find("      value:\n"), 13, "      other:\n");
  CHECK(errorsOf(yaml).find("f.yaml:14:16: the file expands to more than 100000 values") == 0);
}

TEST_CASE("Anchors and aliases within the budget load as copies", "[loader][limits]") {
  std::string yaml =
      "name: Shared\ntrigger: {webhook: {}}\nsteps:\n"
      "  - name: one\n    component: json\n    action: value\n    inputs:\n      value: &shared {a: 1, b: [x, y]}\n"
      "  - name: two\n    component: json\n    action: value\n    inputs:\n      value: *shared\n";
  IntegrationLoadResult result = parseIntegration(yaml, "f.yaml", test::catalog());
  REQUIRE(result.errors.empty());
  CHECK(result.integration->steps[1].inputs["value"] == plexus::Json{{"a", 1}, {"b", {"x", "y"}}});
}

TEST_CASE("Nesting deeper than 256 levels is an error with its position, never a crash", "[loader][limits]") {
  SECTION("100,000 opening brackets") {
    // Never closed, each '[' holds an implicit map as well as a list, so the
    // 257th level is reached at the 129th bracket.
    CHECK(errorsOf(std::string(100000, '[')) ==
          "f.yaml:1:129: lists and maps nest more than 256 levels deep here; Plexus reads at most 256 levels "
          "(real integrations need a handful)");
  }
  SECTION("300 levels inside a step's inputs") {
    std::string yaml = kHead + "        " + std::string(300, '[') + std::string(300, ']') + "\n";
    CHECK(errorsOf(yaml).find("f.yaml:9:") == 0);
    CHECK(errorsOf(yaml).find("nest more than 256 levels deep here") != std::string::npos);
  }
  SECTION("256 levels in all are fine") {
    // The document, steps, the step and its inputs are 4 levels; 250 lists make 254.
    std::string yaml = kHead + "        " + std::string(250, '[') + std::string(250, ']') + "\n";
    CHECK(errorsOf(yaml).empty());
  }
  SECTION("a chain of aliases, each one level deeper than the last") {
    std::string yaml = kHead + "        l0: &l0 [x]\n";
    for (int i = 1; i < 300; ++i)
      yaml += "        l" + std::to_string(i) + ": &l" + std::to_string(i) + " [*l" + std::to_string(i - 1) + "]\n";
    std::string errors = errorsOf(yaml);
    CHECK(errors.find("levels deep through alias *l") != std::string::npos);
    CHECK(errors.find("f.yaml:") == 0);
  }
}

TEST_CASE("An alias inside the node its own anchor names is refused, not followed forever", "[loader][limits]") {
  CHECK(errorsOf(kHead + "        &loop [a, *loop]\n") ==
        "f.yaml:9:19: alias *loop is inside the node its anchor &loop names, so it would repeat forever; an "
        "alias can only stand for a node that ends before it");
}

TEST_CASE("Integration files over 1 MiB are refused without being parsed", "[loader][limits]") {
  std::string big = "name: Big\n# " + std::string(kMaxIntegrationFileBytes, 'x') + "\n";
  CHECK(errorsOf(big) == "f.yaml: the file is " + std::to_string(big.size()) +
                             " bytes; an integration file may be at most 1048576 bytes (1 MiB): split it, or "
                             "move large data out of the file");
  std::string path = std::filesystem::temp_directory_path() / ("plexus-big-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << big;
  IntegrationLoadResult file = loadIntegrationFile(path, test::catalog());
  std::filesystem::remove(path);
  REQUIRE(file.errors.size() == 1);
  CHECK(file.errors[0].format() == path + ": the file is " + std::to_string(big.size()) +
                                       " bytes; an integration file may be at most 1048576 bytes (1 MiB): "
                                       "split it, or move large data out of the file");
}

TEST_CASE("Looking for a suggestion stays cheap for huge names and lists", "[loader][limits]") {
  std::string huge(500000, 'a');
  CHECK_FALSE(closestMatch(huge, {huge + "b"}));  // Would be 2.5e11 steps of edit distance.
  std::vector<std::string> many(1000, "candidate");
  CHECK_FALSE(closestMatch("candidat", many));
  CHECK(closestMatch("candidat", {"candidate", "other"}) == std::optional<std::string>("candidate"));
  CHECK(closestMatch("sync", {"synchronous"}) == std::optional<std::string>("synchronous"));
}

TEST_CASE("A file that yaml-cpp reads as endless documents is refused, not loaded forever", "[loader][limits]") {
  // Found by the integration fuzzer: Debian's yaml-cpp 0.7.0 turns a lone
  // "," into an endless stream of empty documents (jbeder/yaml-cpp#1040).
  for (const std::string yaml : {",", ",\n"}) {
    INFO(yaml);
    CHECK(errorsOf(yaml).find("more than two YAML documents") != std::string::npos);
  }
}
