#include "json_path.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <stdexcept>

#include <plexus/component.hpp>

namespace plexus::builtin {
namespace {

std::invalid_argument syntaxError(const std::string& path, std::size_t pos, const std::string& what) {
  return std::invalid_argument("invalid path '" + path + "': " + what + " at character " +
                               std::to_string(pos + 1) +
                               " (write keys separated by dots and array indexes as [0], e.g. a.b[2].c)");
}

bool allDigits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

/// Parses the digits of an index; `pos` is where they start (for errors).
std::size_t parseIndex(const std::string& path, std::size_t pos, const std::string& digits) {
  if (!allDigits(digits))
    throw syntaxError(path, pos, "expected an index like [0] or a quoted key like [\"name\"]");
  if (digits.size() > std::numeric_limits<std::size_t>::digits10)
    throw syntaxError(path, pos, "index " + digits + " is too large");
  return std::stoull(digits);
}

/// Reads `[...]` starting at path[pos] == '['; returns the step and moves
/// `pos` past the closing bracket.
PathStep parseBracket(const std::string& path, std::size_t& pos) {
  const std::size_t open = pos;
  PathStep step;
  const char quote = pos + 1 < path.size() ? path[pos + 1] : '\0';
  if (quote == '"' || quote == '\'') {
    const std::size_t close = path.find(quote, pos + 2);
    if (close == std::string::npos) throw syntaxError(path, open, "unterminated quoted key");
    if (close + 1 >= path.size() || path[close + 1] != ']')
      throw syntaxError(path, close + 1, "expected ']' after the quoted key");
    step.key = path.substr(pos + 2, close - pos - 2);
    pos = close + 2;
  } else {
    const std::size_t close = path.find(']', pos);
    if (close == std::string::npos) throw syntaxError(path, open, "unclosed '['");
    step.kind = PathStep::Kind::Index;
    step.index = parseIndex(path, pos + 1, path.substr(pos + 1, close - pos - 1));
    pos = close + 1;
  }
  return step;
}

/// Reads a plain key starting at path[pos]; moves `pos` to the '.' or '['
/// after it (or the end).
PathStep parseKey(const std::string& path, std::size_t& pos) {
  const std::size_t end = path.find_first_of(".[", pos);
  PathStep step;
  step.key = path.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
  if (step.key.empty()) throw syntaxError(path, pos, "empty key");
  pos = end == std::string::npos ? path.size() : end;
  return step;
}

/// At most this many keys are listed when a key is not found.
constexpr std::size_t kKeysShown = 10;

std::string describeKeys(const Json& object) {
  if (object.empty()) return "the object is empty";
  std::string keys;
  std::size_t shown = 0;
  for (const auto& item : object.items()) {
    if (shown == kKeysShown) {
      keys += ", …";
      break;
    }
    keys += (shown++ ? ", " : "") + item.key();
  }
  return "keys: " + keys;
}

/// Why one step failed; selectPath adds which path and which part.
struct StepError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const Json& element(const Json& array, std::string indexText) {
  // Compared as text first so "99999999999999999999" cannot overflow.
  indexText.erase(0, std::min(indexText.find_first_not_of('0'), indexText.size() - 1));
  const std::string size = std::to_string(array.size());
  const bool inRange = indexText.size() < size.size() || (indexText.size() == size.size() && indexText < size);
  if (!inRange)
    throw StepError("index " + indexText + " out of range (array of " + size + ")");
  return array[std::stoull(indexText)];
}

/// `value`'s child for `step`.
const Json& child(const Json& value, const PathStep& step) {
  if (value.is_array() && step.kind == PathStep::Kind::Index) return element(value, std::to_string(step.index));
  if (value.is_array() && allDigits(step.key)) return element(value, step.key);
  if (step.kind == PathStep::Kind::Index)
    throw StepError("cannot take index " + std::to_string(step.index) + " of " + describeType(value) +
                    " (only arrays have indexes)");
  if (!value.is_object())
    throw StepError("cannot read key '" + step.key + "' of " + describeType(value) +
                    (value.is_array() ? " (use [0], [1]… to index an array)" : ""));
  auto it = value.find(step.key);
  if (it == value.end()) throw StepError("key '" + step.key + "' not found (" + describeKeys(value) + ")");
  return *it;
}

}  // namespace

std::vector<PathStep> parsePath(const std::string& path) {
  if (path.empty()) throw std::invalid_argument("input 'path' is empty: give a path like a.b[2].c");
  std::vector<PathStep> steps;
  std::size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '.') {
      if (steps.empty()) throw syntaxError(path, pos, "a path cannot start with '.'");
      ++pos;
      if (pos == path.size() || path[pos] == '.' || path[pos] == '[')
        throw syntaxError(path, pos, "empty key");
    } else if (!steps.empty() && path[pos] != '[') {
      throw syntaxError(path, pos, "expected '.' or '[' after ']'");
    }
    PathStep step = path[pos] == '[' ? parseBracket(path, pos) : parseKey(path, pos);
    step.prefix = path.substr(0, pos);
    steps.push_back(std::move(step));
  }
  return steps;
}

const Json& selectPath(const Json& value, const std::string& path) {
  const Json* current = &value;
  for (const PathStep& step : parsePath(path)) {
    try {
      current = &child(*current, step);
    } catch (const StepError& e) {
      const std::string where =
          step.prefix == path ? "path '" + path + "'" : "path '" + path + "' failed at '" + step.prefix + "'";
      throw std::invalid_argument(where + ": " + e.what());
    }
  }
  return *current;
}

}  // namespace plexus::builtin
