#include "engine/integration_registry.hpp"

namespace plexus::core {

void IntegrationRegistry::replaceAll(std::vector<IntegrationSpec> specs) {
  std::map<std::string, IntegrationPtr> next;
  for (auto& spec : specs) {
    std::string key = spec.key;
    spec.indexInstances();
    next[key] = std::make_shared<const IntegrationSpec>(std::move(spec));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  byKey_.swap(next);
}

IntegrationPtr IntegrationRegistry::find(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = byKey_.find(key);
  return it == byKey_.end() ? nullptr : it->second;
}

std::vector<IntegrationPtr> IntegrationRegistry::all() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<IntegrationPtr> out;
  out.reserve(byKey_.size());
  for (const auto& [key, spec] : byKey_) out.push_back(spec);
  return out;
}

}  // namespace plexus::core
