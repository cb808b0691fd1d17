// plexus: git-style verbs over the runtime. `plexus VERB [SUBVERB] ...`, and
// the colon form `plexus instances:list` too.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "util/memory.hpp"

namespace {

using plexus::core::cli::Arguments;

const char* const kUsage =
    "usage: plexus <command> [options]\n"
    "\n"
    "  serve                       start the server (see --help for its flags)\n"
    "  validate FILE...            check integration YAML files\n"
    "  run FILE                    run one integration once, in-process\n"
    "  components list|describe    what the plugins folder offers\n"
    "  instances list              instances and webhook URLs of a running server\n"
    "  executions get ID           one execution of a running server, as JSON\n"
    "  executions cancel ID        ends a queued, waiting or running execution cancelled\n"
    "  executions replay ID [--from-step NAME]\n"
    "                              runs it again with the same trigger results\n"
    "  schedule next               the next fire times of a schedule\n";

using Verb = int (*)(const Arguments&);

const std::map<std::string, Verb>& verbs() {
  static const std::map<std::string, Verb> kVerbs = {
      // Verbs are added here as their layers land.
      {"components", &plexus::core::cli::componentsCommand},
      {"run", &plexus::core::cli::runCommand},
      {"instances", &plexus::core::cli::instancesCommand},
      {"executions", &plexus::core::cli::executionsCommand},
      {"validate", &plexus::core::cli::validateCommand},
      {"schedule", &plexus::core::cli::scheduleCommand},
  };
  return kVerbs;
}

}  // namespace

int main(int argc, char** argv) {
  plexus::core::configureAllocator(/*server=*/argc > 1 && std::string(argv[1]) == "serve");
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  std::string verb = argv[1];
  Arguments rest(argv + 2, argv + argc);
  // "instances:list" is "instances list".
  if (auto colon = verb.find(':'); colon != std::string::npos) {
    rest.insert(rest.begin(), verb.substr(colon + 1));
    verb = verb.substr(0, colon);
  }
  try {
    if (verb == "serve") return plexus::core::cli::serveCommand(argc - 1, argv + 1);
    auto it = verbs().find(verb);
    if (it == verbs().end()) {
      std::cerr << "plexus: unknown command '" << verb << "'\n\n" << kUsage;
      return 2;
    }
    return it->second(rest);
  } catch (const plexus::core::cli::UsageError& error) {
    std::cerr << "plexus " << verb << ": " << error.what() << "\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "plexus " << verb << ": " << error.what() << "\n";
    return 1;
  }
}
