// Components, their actions and triggers: what a component declares.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "plexus/context.hpp"
#include "plexus/inputs.hpp"
#include "plexus/result.hpp"
#include "plexus/trigger.hpp"
#include "plexus/value.hpp"

namespace plexus {

/// The function that does an action's work. It may throw: the step then
/// fails with the exception's what(). Called on a runtime worker thread;
/// calls for different executions may run concurrently, so it must not
/// share unsynchronised mutable state.
using PerformFunction = std::function<Result(const Inputs&, Context&)>;

/// One action of a component.
struct ActionSpec {
  std::string key;          ///< Used as `action:` in YAML (e.g. "select").
  std::string label;
  std::string description;
  std::vector<InputSpec> inputs;
  PerformFunction perform;

  /// The InputSpec named `key`, or nullptr.
  const InputSpec* input(const std::string& key) const { return findInput(inputs, key); }

  /// Checks `given` (an object) against the input specs and fills defaults
  /// (plexus::prepareInputs): "action 'KEY' has no input 'NAME'", ...
  Inputs prepareInputs(Json given) const { return plexus::prepareInputs("action '" + key + "'", inputs, std::move(given)); }
};

/// A component: a named, versioned set of actions and triggers.
struct ComponentSpec {
  std::string key;          ///< Used as `component:` in YAML (e.g. "json").
  std::string version;      ///< The component's own version ("1.0.0").
  std::string description;
  std::vector<ActionSpec> actions;
  /// Webhook triggers (`trigger: {webhook: {component: KEY, trigger: ...}}`);
  /// a component may have only actions, only triggers, or both.
  std::vector<TriggerSpec> triggers = {};  // = {}: {key, version, description, actions} needs no fifth field, nor warns

  /// The ActionSpec named `key`, or nullptr.
  const ActionSpec* action(const std::string& key) const {
    for (const auto& spec : actions)
      if (spec.key == key) return &spec;
    return nullptr;
  }
  /// The TriggerSpec named `key`, or nullptr.
  const TriggerSpec* trigger(const std::string& key) const {
    for (const auto& spec : triggers)
      if (spec.key == key) return &spec;
    return nullptr;
  }
};

/// Where a component library registers its components. The runtime passes
/// one to the library's entry point (see PLEXUS_COMPONENT); it is valid only
/// during that call. add() throws std::invalid_argument when the key is
/// already taken by another library or the spec is malformed.
class ComponentRegistrar {
 public:
  virtual ~ComponentRegistrar() = default;
  virtual void add(ComponentSpec component) = 0;
};

}  // namespace plexus
