// `plexus validate FILE|DIR... [--plugins DIR]` against the real json and
// stop-execution plugins.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"

using plexus::core::cli::UsageError;
using plexus::core::cli::validateCommand;

namespace {

namespace fs = std::filesystem;

/// Everything written to a stream while it lives.
class Capture {
 public:
  explicit Capture(std::ostream& stream) : stream_(stream), previous_(stream.rdbuf(buffer_.rdbuf())) {}
  ~Capture() { stream_.rdbuf(previous_); }
  std::string text() const { return buffer_.str(); }

 private:
  std::ostream& stream_;
  std::ostringstream buffer_;
  std::streambuf* previous_;
};

struct Run {
  int exitCode;
  std::string out;
  std::string err;
};

/// A temp folder with plugins/ (the two real plugins) and integration files.
class Workspace {
 public:
  Workspace() {
    root_ = fs::temp_directory_path() / ("plexus-validate-test-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "plugins");
    fs::create_directories(root_ / "integrations");
    for (const char* plugin : {PLEXUS_JSON_PLUGIN, PLEXUS_STOP_EXECUTION_PLUGIN})
      fs::create_symlink(plugin, root_ / "plugins" / fs::path(plugin).filename());
  }
  ~Workspace() { fs::remove_all(root_); }

  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(root_ / "integrations" / name) << content;
    return (root_ / "integrations" / name).string();
  }
  std::string plugins() const { return (root_ / "plugins").string(); }
  std::string integrations() const { return (root_ / "integrations").string(); }

  Run validate(std::vector<std::string> args) const {
    args.push_back("--plugins");
    args.push_back(plugins());
    Capture out(std::cout);
    Capture err(std::cerr);
    int code = validateCommand(args);
    return {code, out.text(), err.text()};
  }

 private:
  fs::path root_;
};

const std::string kValid =
    "name: Render Status\n"
    "trigger:\n  webhook: {}\n"
    "steps:\n"
    "  - name: lookup\n    component: json\n    action: select\n"
    "    inputs:\n      value: \"{{ trigger.results.body.data }}\"\n      path: renderId\n"
    "  - name: reply\n    component: stop-execution\n    action: stop\n"
    "    inputs:\n      statusCode: 415\n";

}  // namespace

TEST_CASE("validate prints a summary and exits 0 when every file is valid", "[validate]") {
  Workspace workspace;
  std::string file = workspace.write("render.yaml", kValid);
  Run one = workspace.validate({file});
  CHECK(one.exitCode == 0);
  CHECK(one.out == "1 integration valid\n");
  CHECK(one.err.empty());

  workspace.write("other.yaml", "key: other\n" + kValid);
  Run folder = workspace.validate({workspace.integrations()});
  CHECK(folder.exitCode == 0);
  CHECK(folder.out == "2 integrations valid\n");
}

TEST_CASE("validate prints every error as FILE:LINE:COL and exits 1", "[validate]") {
  Workspace workspace;
  std::string good = workspace.write("good.yaml", kValid);
  std::string bad = workspace.write("bad.yaml",
                                    "name: Bad\ntrigger:\n  webhook: {}\nsteps:\n"
                                    "  - name: a\n    component: jsn\n    action: value\n"
                                    "  - name: b\n    component: stop-execution\n    action: stop\n");
  Run run = workspace.validate({good, bad});
  CHECK(run.exitCode == 1);
  CHECK(run.out.empty());
  CHECK(run.err == bad + ":6:16: unknown component 'jsn' (did you mean 'json'?)\n" + bad +
                       ":10:5: step 'b' is missing required input 'statusCode' of stop-execution.stop\n");
}

TEST_CASE("validate refuses two files with the same integration key at the key's position", "[validate]") {
  Workspace workspace;
  std::string first = workspace.write("a.yaml", kValid);
  std::string second = workspace.write("b.yaml", kValid);
  std::string expected = second + ":1:7: integration key 'render-status' is already used by " + first +
                         "; give this integration another `key:`\n";
  Run files = workspace.validate({first, second});
  CHECK(files.exitCode == 1);
  CHECK(files.err == expected);
  // The folder, as `serve --integrations` reads it: the same line.
  Run folder = workspace.validate({workspace.integrations()});
  CHECK(folder.exitCode == 1);
  CHECK(folder.err == expected);
  // An explicit `key:` is where the error points.
  std::string third = workspace.write("c.yaml", "key: render-status\n" + kValid);
  Run keyed = workspace.validate({first, third});
  CHECK(keyed.err == third + ":1:6: integration key 'render-status' is already used by " + first +
                         "; give this integration another `key:`\n");
  // The same file twice is not a collision.
  CHECK(workspace.validate({first, first}).exitCode == 0);
}

TEST_CASE("validate without a file is a usage error", "[validate]") {
  CHECK_THROWS_AS(validateCommand({}), UsageError);
  CHECK_THROWS_AS(validateCommand({"x.yaml", "--bogus"}), UsageError);
}
