#include "loader/component_catalog.hpp"

#include <stdexcept>

namespace plexus::core {

LoadedComponentPtr KeyedCatalog::find(const std::string& key) const {
  auto it = byKey_.find(key);
  return it == byKey_.end() ? nullptr : it->second;
}

std::vector<LoadedComponentPtr> KeyedCatalog::all() const {
  std::vector<LoadedComponentPtr> components;
  components.reserve(byKey_.size());
  for (const auto& entry : byKey_) components.push_back(entry.second);
  return components;
}

void KeyedCatalog::add(LoadedComponentPtr component, const std::string& owner) {
  const std::string key = component->spec.key;
  if (!byKey_.emplace(key, std::move(component)).second)
    throw std::invalid_argument(owner + ": component \"" + key + "\" is given twice");
}

}  // namespace plexus::core
