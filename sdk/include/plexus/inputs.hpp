// Typed inputs: what actions and triggers declare, and what they receive.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "plexus/value.hpp"

namespace plexus {

/// The type of an action input or a config variable.
enum class InputType { String, Number, Boolean, Json, Binary, Schedule, Secret };

/// "string", "number", "boolean", "json", "binary", "schedule" or "secret".
inline const char* toString(InputType type) {
  switch (type) {
    case InputType::String: return "string";
    case InputType::Number: return "number";
    case InputType::Boolean: return "boolean";
    case InputType::Json: return "json";
    case InputType::Binary: return "binary";
    case InputType::Schedule: return "schedule";
    case InputType::Secret: return "secret";
  }
  return "json";
}

/// Parses the names above; returns std::nullopt for anything else.
inline std::optional<InputType> inputTypeFromString(const std::string& name) {
  static const std::pair<const char*, InputType> kNames[] = {
      {"string", InputType::String},   {"number", InputType::Number},
      {"boolean", InputType::Boolean}, {"json", InputType::Json},
      {"binary", InputType::Binary},   {"schedule", InputType::Schedule},
      {"secret", InputType::Secret}};
  for (const auto& [text, type] : kNames)
    if (name == text) return type;
  return std::nullopt;
}

/// True when `value` may be given for an input of `type`. A string is
/// accepted for binary (it becomes text/plain bytes); schedules are a cron
/// string or an object ({every, unit} / {cron, timezone}).
inline bool valueFitsType(const Json& value, InputType type) {
  switch (type) {
    case InputType::String:
    case InputType::Secret: return value.is_string();
    case InputType::Number: return value.is_number();
    case InputType::Boolean: return value.is_boolean();
    case InputType::Json: return true;
    case InputType::Binary: return value.is_binary() || value.is_string();
    case InputType::Schedule: return value.is_string() || value.is_object();
  }
  return false;
}

/// Short description of a value's JSON type, for error messages ("a string").
inline std::string describeType(const Json& value) {
  if (value.is_binary()) return "binary data";
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  return "an object";
}

/// One input of an action.
struct InputSpec {
  std::string key;          ///< Name used in YAML `inputs:` (e.g. "statusCode").
  InputType type = InputType::String;
  bool required = false;    ///< A required input without a default must be given.
  std::optional<Json> defaultValue;  ///< Used when the input is not given.
  std::string label;        ///< Human name for UIs and `components describe`.
  std::string description;  ///< One sentence on what the input does.
};

/// The inputs an action receives: an object already checked against the
/// action's InputSpecs (required present, types right, defaults applied).
/// Accessors throw std::invalid_argument naming the input when it is
/// missing or of another type.
class Inputs {
 public:
  Inputs() : values_(Json::object()) {}
  explicit Inputs(Json values) : values_(std::move(values)) {}

  /// True when the input was given or has a default.
  bool has(const std::string& key) const {
    auto it = values_.find(key);
    return it != values_.end() && !it->is_null();
  }
  /// The raw value (any type); throws if absent.
  const Json& json(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) throw std::invalid_argument("input '" + key + "' is missing");
    return *it;
  }
  std::string string(const std::string& key) const { return typed(key, &Json::is_string, "a string").get<std::string>(); }
  double number(const std::string& key) const { return typed(key, &Json::is_number, "a number").get<double>(); }
  bool boolean(const std::string& key) const { return typed(key, &Json::is_boolean, "a boolean").get<bool>(); }
  /// Binary input; a string input is returned as text/plain bytes.
  Binary binary(const std::string& key) const {
    const Json& value = json(key);
    if (value.is_string()) return Binary(value.get<std::string>(), "text/plain");
    if (!value.is_binary())
      throw std::invalid_argument("input '" + key + "' must be binary data, got " + describeType(value));
    return asBinary(value);
  }
  /// All inputs as one object.
  const Json& all() const { return values_; }

 private:
  const Json& typed(const std::string& key, bool (Json::*check)() const noexcept, const char* what) const {
    const Json& value = json(key);
    if (!(value.*check)())
      throw std::invalid_argument("input '" + key + "' must be " + what + ", got " + describeType(value));
    return value;
  }
  Json values_;
};

/// The InputSpec named `key` in `specs`, or nullptr.
inline const InputSpec* findInput(const std::vector<InputSpec>& specs, const std::string& key) {
  for (const auto& spec : specs)
    if (spec.key == key) return &spec;
  return nullptr;
}

/// Checks `given` (an object) against `specs` and fills defaults; `owner`
/// names what takes them in messages ("action 'select'"). Throws
/// std::invalid_argument naming the input: unknown key, missing required
/// input, or wrong type. ActionSpec and TriggerSpec call this, in the
/// runtime and in plexus::testing alike, so a component's tests see what
/// production sees.
inline Inputs prepareInputs(const std::string& owner, const std::vector<InputSpec>& specs, Json given) {
  if (given.is_null()) given = Json::object();
  if (!given.is_object()) throw std::invalid_argument("inputs must be an object");
  for (const auto& [name, value] : given.items()) {
    (void)value;
    if (!findInput(specs, name)) throw std::invalid_argument(owner + " has no input '" + name + "'");
  }
  for (const auto& spec : specs) {
    auto it = given.find(spec.key);
    if (it == given.end() || it->is_null()) {
      if (spec.defaultValue) given[spec.key] = *spec.defaultValue;
      else if (spec.required)
        throw std::invalid_argument("input '" + spec.key + "' is required");
      continue;
    }
    if (!valueFitsType(*it, spec.type))
      throw std::invalid_argument("input '" + spec.key + "' must be " + toString(spec.type) + ", got " +
                                  describeType(*it));
  }
  return Inputs(std::move(given));
}

}  // namespace plexus
