// Helpers shared by the loader tests: fixture paths, calling a loaded action,
// asking the dynamic loader whether a library is still loaded.
#pragma once

#include <dlfcn.h>

#include <string>
#include <vector>

#include <plexus/testing.hpp>

#include "loader/component_loader.hpp"

namespace plexus::core::test {

/// The folder tests/loader/CMakeLists.txt builds the fixture libraries into.
inline const std::string kFixturesDir = PLEXUS_LOADER_FIXTURES_DIR;

inline std::string fixture(const std::string& file) { return kFixturesDir + "/" + file; }

/// Checks `inputs` and performs `component.action` as the runtime does.
inline plexus::Result invoke(const LoadedComponent& component, const std::string& action,
                             plexus::Json inputs) {
  const plexus::ActionSpec* spec = component.spec.action(action);
  if (!spec) throw std::invalid_argument("fixture has no action " + action);
  plexus::testing::FakeContext context;
  return spec->perform(spec->prepareInputs(std::move(inputs)), context);
}

/// True while `file` is loaded in this process. RTLD_NOLOAD only looks: it
/// never loads the library (its extra reference is dropped at once).
inline bool isLoaded(const std::string& file) {
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle) dlclose(handle);
  return handle != nullptr;
}

inline std::vector<std::string> refusalMessages(const ComponentRegistry& registry) {
  std::vector<std::string> messages;
  for (const auto& refusal : registry.refusals()) messages.push_back(refusal.message());
  return messages;
}

inline std::vector<std::string> componentKeys(const ComponentCatalog& catalog) {
  std::vector<std::string> keys;
  for (const auto& component : catalog.all()) keys.push_back(component->spec.key);
  return keys;
}

}  // namespace plexus::core::test
