// The json component: pass a value through, select a part of it, parse text
// into JSON and turn JSON back into text.
#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>

#include <plexus/json_parse.hpp>
#include <plexus/sdk.hpp>
#include <plexus_builtin/binary_leaf.hpp>

#include "json_path.hpp"

namespace {

using plexus::Inputs;
using plexus::InputType;
using plexus::Json;

plexus::Result passValue(const Inputs& inputs, plexus::Context&) {
  // Copying a Json copies a Binary's pointer, not its bytes.
  return inputs.has("value") ? inputs.json("value") : Json();
}

plexus::Result selectPart(const Inputs& inputs, plexus::Context&) {
  return plexus::builtin::selectPath(inputs.json("value"), inputs.string("path"));
}

/// nlohmann's what() without its "[json.exception.parse_error.101] " tag.
std::string withoutExceptionTag(const std::string& message) {
  if (message.rfind("[json.exception.", 0) != 0) return message;
  const std::size_t end = message.find("] ");
  return end == std::string::npos ? message : message.substr(end + 2);
}

/// The server's defaults for request bodies (docs/limits.md): the same text
/// posted as application/json or parsed here meets the same limits.
constexpr std::size_t kMemoryFactor = 12;
constexpr std::size_t kMemoryFloor = 1024 * 1024;

plexus::Result parseText(const Inputs& inputs, plexus::Context&) {
  const std::string& text = inputs.string("text");
  plexus::JsonLimits limits;
  limits.maxMemoryBytes = std::max(kMemoryFloor, kMemoryFactor * text.size());
  limits.depthSetting = "json.parse's limit (the SDK's plexus::kDefaultMaxJsonDepth)";
  limits.memorySetting = "json.parse's limit of " + std::to_string(kMemoryFactor) + " times the text's " +
                         std::to_string(text.size()) + " bytes";
  try {
    return plexus::parseJson(text, limits);
  } catch (const plexus::JsonLimitError& e) {
    throw std::invalid_argument("input 'text' is refused: " + std::string(e.what()));
  } catch (const plexus::JsonParseError& e) {
    // e.g. "parse error at line 2, column 7: syntax error while parsing ..."
    throw std::invalid_argument("input 'text' is not valid JSON: " + std::string(e.what()));
  }
}

plexus::Result stringify(const Inputs& inputs, plexus::Context&) {
  const Json value = inputs.has("value") ? inputs.json("value") : Json();
  if (auto where = plexus::builtin::findBinary(value)) {
    const std::string what = where->empty() ? "input 'value' is binary data"
                                            : "input 'value' holds binary data at '" + *where + "'";
    throw std::invalid_argument(what + ", which JSON text cannot hold: convert it with binary.toBase64 first");
  }
  try {
    return Json(value.dump());
  } catch (const Json::type_error& e) {  // 316: a string that is not UTF-8
    throw std::invalid_argument("input 'value' cannot be written as JSON: " + withoutExceptionTag(e.what()));
  }
}

plexus::ActionSpec valueAction() {
  return {"value", "Value", "Returns its input unchanged (binary stays binary); handy to name a value.",
          {{"value", InputType::Json, false, std::nullopt, "Value",
            "Any value: object, array, string, number, boolean, null or binary."}},
          passValue};
}

plexus::ActionSpec selectAction() {
  return {"select", "Select", "Returns the part of a value at a path; fails if the path is not there.",
          {{"value", InputType::Json, true, std::nullopt, "Value", "The object or array to select from."},
           {"path", InputType::String, true, std::nullopt, "Path",
            "Keys separated by dots with [i] array indexes, e.g. a.b[2].c; [\"x.y\"] quotes a key."}},
          selectPart};
}

plexus::ActionSpec parseAction() {
  return {"parse", "Parse", "Parses JSON text into a value.",
          {{"text", InputType::String, true, std::nullopt, "Text", "The JSON text to parse."}},
          parseText};
}

plexus::ActionSpec stringifyAction() {
  return {"stringify", "Stringify", "Writes a value as compact JSON text.",
          {{"value", InputType::Json, false, std::nullopt, "Value",
            "The value to write; binary data must be converted with binary.toBase64 first."}},
          stringify};
}

}  // namespace

PLEXUS_COMPONENT(registrar) {
  registrar.add({"json", "1.0.0", "Passes, selects, parses and stringifies JSON values.",
                 {valueAction(), selectAction(), parseAction(), stringifyAction()}});
}
