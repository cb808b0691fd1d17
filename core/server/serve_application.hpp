// `plexus serve`: the Poco ServerApplication that runs everything.
#pragma once

namespace plexus::core {

/// Runs the server until SIGINT/SIGTERM; returns the process exit code.
/// argv[0] is "serve"; the rest are its flags.
int runServeApplication(int argc, char** argv);

}  // namespace plexus::core
