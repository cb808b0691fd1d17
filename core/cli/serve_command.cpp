#include "cli/commands.hpp"
#include "server/serve_application.hpp"

namespace plexus::core::cli {

int serveCommand(int argc, char** argv) { return runServeApplication(argc, argv); }

}  // namespace plexus::core::cli
