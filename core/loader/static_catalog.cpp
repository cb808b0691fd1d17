#include "loader/static_catalog.hpp"

#include <stdexcept>
#include <utility>

#include "loader/component_validation.hpp"

namespace plexus::core {

StaticCatalog::StaticCatalog(std::vector<plexus::ComponentSpec> specs) {
  for (auto& spec : specs) {
    if (auto problem = findSpecProblem(spec))
      throw std::invalid_argument("static component catalog: " + *problem);
    const std::string key = spec.key;
    auto component = std::make_shared<LoadedComponent>();
    component->spec = std::move(spec);
    if (!byKey_.emplace(key, std::move(component)).second)
      throw std::invalid_argument("static component catalog: component \"" + key +
                                  "\" is given twice");
  }
}

LoadedComponentPtr StaticCatalog::find(const std::string& key) const {
  auto it = byKey_.find(key);
  return it == byKey_.end() ? nullptr : it->second;
}

std::vector<LoadedComponentPtr> StaticCatalog::all() const {
  std::vector<LoadedComponentPtr> components;
  components.reserve(byKey_.size());
  for (const auto& entry : byKey_) components.push_back(entry.second);
  return components;
}

}  // namespace plexus::core
