// Finding binary data inside a JSON value, for actions that must write JSON
// text (which has no binary type).
#pragma once

#include <optional>
#include <string>

#include <plexus/value.hpp>

namespace plexus::builtin {

/// Where the first binary leaf of `value` is ("" for the value itself,
/// "a.b[2]" deeper), or std::nullopt when there is none. `at` is the path
/// of `value` itself.
inline std::optional<std::string> findBinary(const Json& value, const std::string& at = "") {
  if (value.is_binary()) return at;
  if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i)
      if (auto found = findBinary(value[i], at + "[" + std::to_string(i) + "]")) return found;
  } else if (value.is_object()) {
    for (const auto& item : value.items())
      if (auto found = findBinary(item.value(), at.empty() ? item.key() : at + "." + item.key())) return found;
  }
  return std::nullopt;
}

}  // namespace plexus::builtin
