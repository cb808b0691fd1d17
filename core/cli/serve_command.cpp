#include <iostream>

#include "cli/commands.hpp"

namespace plexus::core::cli {

// Replaced by the server layer (core/server) when it lands.
int serveCommand(int, char**) {
  std::cerr << "plexus serve: the server layer is not built yet\n";
  return 1;
}

}  // namespace plexus::core::cli
