// The components the runtime can call, however they were loaded.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <plexus/component.hpp>

namespace plexus::core {

/// A component ready to be called. `keepAlive` holds the shared library that
/// made `spec` (and its perform functions) loaded: whoever keeps a result
/// produced by this component keeps a copy of the shared_ptr too, so the
/// library cannot be unloaded while its code or objects are in use.
/// Declared first so that it is destroyed last.
struct LoadedComponent {
  std::shared_ptr<const void> keepAlive;
  plexus::ComponentSpec spec;
  std::string file;  ///< The library file in the plugins folder ("" if built in to a test).
  /// The private copy that was actually loaded (what dladdr and backtraces
  /// name): a file in the loader's copy folder, or /proc/self/fd/N of a
  /// memfd copy; "" if built in to a test. See loader/private_copy.hpp.
  std::string loadedFrom;
};

using LoadedComponentPtr = std::shared_ptr<const LoadedComponent>;

/// Read-only lookup of components by key. Implementations are immutable after
/// construction, so lookups are thread-safe without locks.
class ComponentCatalog {
 public:
  virtual ~ComponentCatalog() = default;
  /// The component with this key, or nullptr.
  virtual LoadedComponentPtr find(const std::string& key) const = 0;
  /// Every component, sorted by key.
  virtual std::vector<LoadedComponentPtr> all() const = 0;
};

/// A catalog kept in a map by key: the loader's registry and the static
/// catalog differ only in how their components are made.
class KeyedCatalog : public ComponentCatalog {
 public:
  LoadedComponentPtr find(const std::string& key) const override;
  std::vector<LoadedComponentPtr> all() const override;

 protected:
  /// For constructors. Throws std::invalid_argument, starting with `owner`,
  /// when a component with the same key was added already.
  void add(LoadedComponentPtr component, const std::string& owner);

 private:
  std::map<std::string, LoadedComponentPtr> byKey_;
};

}  // namespace plexus::core
