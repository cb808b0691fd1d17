// A ComponentCatalog of components compiled into the running binary, for
// tests of the layers above the loader (engine, server, CLI) that need
// components without building and loading shared libraries.
#pragma once

#include <string>
#include <vector>

#include "loader/component_catalog.hpp"

namespace plexus::core {

/// Components built in to this binary: each LoadedComponent has file "" and
/// no keepAlive (the code is part of the executable, it cannot be unloaded).
/// Immutable after construction; reads are thread-safe.
class StaticCatalog : public KeyedCatalog {
 public:
  /// Throws std::invalid_argument, naming the component, for a malformed
  /// spec or a key given twice (the same checks as the loader's).
  explicit StaticCatalog(std::vector<plexus::ComponentSpec> specs);
};

}  // namespace plexus::core
