// YAML values to plexus::Json, typed the way YAML 1.2 (core schema) reads
// them: plain `42` is a number, `true` a boolean, `~` null; anything quoted
// (or a `|`/`>` block) stays a string.
#pragma once

#include <stdexcept>
#include <string>

#include <yaml-cpp/yaml.h>

#include <plexus/value.hpp>

namespace plexus::core {

/// A YAML value that has no JSON form: a map key that is itself a map or a
/// list, or a key given twice. `mark` is yaml-cpp's (0-based) position.
class YamlConversionError : public std::runtime_error {
 public:
  YamlConversionError(const std::string& message, const YAML::Mark& mark)
      : std::runtime_error(message), mark(mark) {}
  YAML::Mark mark;
};

/// The JSON value of `node`, recursively. Plain scalars are typed: null
/// (`~`, `null`, empty), booleans (`true`/`false`, any case style YAML 1.2
/// allows), integers (decimal, 0x hex, 0o octal; past 64 bits a double),
/// floats (incl. .inf/.nan); everything else is a string. Throws
/// YamlConversionError.
plexus::Json yamlToJson(const YAML::Node& node);

/// The typed value of one scalar node (see yamlToJson).
plexus::Json yamlScalarToJson(const YAML::Node& scalar);

/// The value of a plain (unquoted) scalar written as `text`.
plexus::Json typePlainScalar(const std::string& text);

/// True for a scalar written in quotes or as a block: always a string.
bool isQuotedScalar(const YAML::Node& scalar);

/// "a map", "a list", "empty" or "a single value": for "must be ..., not ..."
/// messages (never the value itself: it may be a secret).
std::string describeNode(const YAML::Node& node);

}  // namespace plexus::core
