// The CLI verbs. Each takes the arguments after its verb (and sub-verb) and
// returns the process exit code; main() maps UsageError to exit code 2.
#pragma once

#include <string>
#include <vector>

namespace plexus::core::cli {

using Arguments = std::vector<std::string>;

int serveCommand(int argc, char** argv);                 ///< plexus serve (Poco ServerApplication)
int componentsCommand(const Arguments& args);            ///< plexus components list|describe KEY
int validateCommand(const Arguments& args);              ///< plexus validate FILE...
int runCommand(const Arguments& args);                   ///< plexus run FILE ...
int scheduleCommand(const Arguments& args);              ///< plexus schedule next ...
int instancesCommand(const Arguments& args);             ///< plexus instances list ...
int executionsCommand(const Arguments& args);            ///< plexus executions get ID

}  // namespace plexus::core::cli
