#include "loader/component_validation.hpp"

#include <set>

namespace plexus::core {
namespace {

bool isKeyCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool isValidKey(const std::string& key) {
  if (key.empty()) return false;
  for (char c : key)
    if (!isKeyCharacter(c)) return false;
  return true;
}

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

std::optional<std::string> findInputProblem(const plexus::InputSpec& input) {
  if (input.key.empty()) return "an input has an empty key";
  if (input.defaultValue && !input.defaultValue->is_null() &&
      !plexus::valueFitsType(*input.defaultValue, input.type))
    return "input " + quoted(input.key) + " has a default that is " +
           plexus::describeType(*input.defaultValue) + ", not " + plexus::toString(input.type);
  return std::nullopt;
}

/// An action's or a trigger's key, perform function and inputs; `kind` is
/// "action" or "trigger".
template <typename Spec>
std::optional<std::string> findPerformerProblem(const Spec& spec, const std::string& kind) {
  if (spec.key.empty()) return "an " + kind + " has an empty key";
  if (!isValidKey(spec.key))
    return kind + " key " + quoted(spec.key) + " may contain only letters, digits, '-' and '_'";
  const std::string where = kind + " " + quoted(spec.key);
  if (!spec.perform) return where + " has no perform function";
  std::set<std::string> inputKeys;
  for (const auto& input : spec.inputs) {
    if (auto problem = findInputProblem(input)) return where + ": " + *problem;
    if (!inputKeys.insert(input.key).second)
      return where + ": input " + quoted(input.key) + " is declared twice";
  }
  return std::nullopt;
}

template <typename Spec>
std::optional<std::string> findPerformersProblem(const std::vector<Spec>& specs, const std::string& kind) {
  std::set<std::string> keys;
  for (const auto& spec : specs) {
    if (auto problem = findPerformerProblem(spec, kind)) return problem;
    if (!keys.insert(spec.key).second) return kind + " " + quoted(spec.key) + " is declared twice";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> findSpecProblem(const plexus::ComponentSpec& spec) {
  if (spec.key.empty()) return std::string("a component has an empty key");
  if (!isValidKey(spec.key))
    return "component key " + quoted(spec.key) + " may contain only letters, digits, '-' and '_'";
  const std::string where = "component " + quoted(spec.key);
  if (auto problem = findPerformersProblem(spec.actions, "action")) return where + ": " + *problem;
  if (auto problem = findPerformersProblem(spec.triggers, "trigger")) return where + ": " + *problem;
  return std::nullopt;
}

}  // namespace plexus::core
