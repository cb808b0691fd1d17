#include "loader/static_catalog.hpp"

#include <stdexcept>
#include <utility>

#include "loader/component_validation.hpp"

namespace plexus::core {

StaticCatalog::StaticCatalog(std::vector<plexus::ComponentSpec> specs) {
  for (auto& spec : specs) {
    if (auto problem = findSpecProblem(spec))
      throw std::invalid_argument("static component catalog: " + *problem);
    auto component = std::make_shared<LoadedComponent>();
    component->spec = std::move(spec);
    add(std::move(component), "static component catalog");
  }
}

}  // namespace plexus::core
