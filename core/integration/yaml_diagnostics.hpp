// Error collection for one YAML file: yaml-cpp's 0-based marks turned into
// 1-based SourceMarks, and the checks every map in an integration needs
// (known keys with "did you mean", no repeated keys, required keys).
// Internal to the integration loader.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "integration/integration_loader.hpp"

namespace plexus::core {

/// One `key: value` of a YAML map.
struct YamlEntry {
  YAML::Node key;
  YAML::Node value;
};

/// The errors of one file. Not thread-safe; one per file being parsed.
class Diagnostics {
 public:
  /// `text` is the file's content; it must outlive this object (it is used
  /// to place errors inside strings precisely).
  Diagnostics(std::string file, const std::string& text) : file_(std::move(file)), text_(text) {}

  const std::string& file() const { return file_; }

  SourceMark mark(const YAML::Mark& mark) const;
  SourceMark mark(const YAML::Node& node) const { return mark(node.Mark()); }
  /// The value's position; the key's when the value is empty (yaml-cpp
  /// places an empty value at the start of the next line).
  SourceMark mark(const YamlEntry& entry) const;
  /// The position of byte `column` (from 1) of a scalar's value, when the
  /// file spells the value literally up to there (no escapes or line
  /// folding); otherwise the scalar's own position.
  SourceMark markInScalar(const YAML::Node& scalar, std::size_t column) const;

  /// `excerpt`: lines shown under the message (IntegrationError::excerpt).
  void error(const SourceMark& at, std::string message, std::string excerpt = "");
  template <typename Where>
  void error(const Where& at, std::string message) {
    error(mark(at), std::move(message));
  }

  bool hasErrors() const { return !errors_.empty(); }
  /// All errors so far, sorted by line and column (stable).
  std::vector<IntegrationError> takeSorted();

  /// The entries of `map` by key. Reports, and leaves out: keys that are not
  /// plain values, keys not in `known` (with the closest known key, else the
  /// list), and keys given twice. `where` names the map in messages ("the
  /// trigger", "step 'lookup'").
  std::map<std::string, YamlEntry> entries(const YAML::Node& map, const std::vector<std::string>& known,
                                           const std::string& where);

 private:
  std::string file_;
  const std::string& text_;
  std::vector<IntegrationError> errors_;
};

}  // namespace plexus::core
