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

std::optional<std::string> findActionProblem(const plexus::ActionSpec& action) {
  if (action.key.empty()) return "an action has an empty key";
  if (!isValidKey(action.key))
    return "action key " + quoted(action.key) + " may contain only letters, digits, '-' and '_'";
  const std::string where = "action " + quoted(action.key);
  if (!action.perform) return where + " has no perform function";
  std::set<std::string> inputKeys;
  for (const auto& input : action.inputs) {
    if (auto problem = findInputProblem(input)) return where + ": " + *problem;
    if (!inputKeys.insert(input.key).second)
      return where + ": input " + quoted(input.key) + " is declared twice";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> findSpecProblem(const plexus::ComponentSpec& spec) {
  if (spec.key.empty()) return std::string("a component has an empty key");
  if (!isValidKey(spec.key))
    return "component key " + quoted(spec.key) + " may contain only letters, digits, '-' and '_'";
  const std::string where = "component " + quoted(spec.key);
  std::set<std::string> actionKeys;
  for (const auto& action : spec.actions) {
    if (auto problem = findActionProblem(action)) return where + ": " + *problem;
    if (!actionKeys.insert(action.key).second)
      return where + ": action " + quoted(action.key) + " is declared twice";
  }
  return std::nullopt;
}

}  // namespace plexus::core
