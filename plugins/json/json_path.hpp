// Paths into a JSON value for json.select: `a.b[2].c`, `[0].name`,
// `headers["content-type"]`.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <plexus/value.hpp>

namespace plexus::builtin {

/// One step of a path: an object key or an array index.
struct PathStep {
  enum class Kind { Key, Index };
  Kind kind = Kind::Key;
  std::string key;         ///< For Key steps.
  std::size_t index = 0;   ///< For Index steps.
  std::string prefix;      ///< The path text up to and including this step ("a.b[2]").
};

/// Splits `path` into steps. Grammar: a key is any run of characters other
/// than `.` and `[`; keys are separated by `.`; `[N]` indexes an array;
/// `["key"]` or `['key']` is a key that may hold dots or brackets.
/// Throws std::invalid_argument naming the path and the character position
/// (counting from 1) of the first problem.
std::vector<PathStep> parsePath(const std::string& path);

/// The part of `value` at `path`. A key made only of digits also indexes an
/// array (`items.0` is `items[0]`), as lodash's get does. Throws
/// std::invalid_argument naming the path and the part that failed, e.g.
/// "path 'a.b[2]': index 2 out of range (array of 2)".
const Json& selectPath(const Json& value, const std::string& path);

}  // namespace plexus::builtin
