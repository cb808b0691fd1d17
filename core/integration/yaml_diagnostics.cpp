#include "integration/yaml_diagnostics.hpp"

#include <algorithm>

#include "integration/suggest.hpp"
#include "integration/yaml_json.hpp"

namespace plexus::core {

SourceMark Diagnostics::mark(const YAML::Mark& mark) const {
  // yaml-cpp counts from 0 and uses -1 for "no position".
  return SourceMark{file_, std::max(1, mark.line + 1), std::max(1, mark.column + 1)};
}

SourceMark Diagnostics::mark(const YamlEntry& entry) const {
  return entry.value.IsNull() || !entry.value.IsDefined() ? mark(entry.key) : mark(entry.value);
}

SourceMark Diagnostics::markInScalar(const YAML::Node& scalar, std::size_t column) const {
  SourceMark base = mark(scalar);
  int pos = scalar.Mark().pos;
  if (!scalar.IsScalar() || pos < 0 || column == 0) return base;
  std::size_t start = static_cast<std::size_t>(pos);
  bool quoted = start < text_.size() && (text_[start] == '"' || text_[start] == '\'');
  if (quoted) ++start;
  const std::string& value = scalar.Scalar();
  std::size_t offset = column - 1;
  if (offset > value.size() || start + offset > text_.size()) return base;
  bool literal = text_.compare(start, offset, value, 0, offset) == 0 &&
                 value.find('\n') >= offset;
  if (!literal) return base;
  base.column += static_cast<int>(offset) + (quoted ? 1 : 0);
  return base;
}

void Diagnostics::error(const SourceMark& at, std::string message, std::string excerpt) {
  errors_.push_back(IntegrationError{at, std::move(message), std::move(excerpt)});
}

std::vector<IntegrationError> Diagnostics::takeSorted() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
    return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
  });
  return std::move(errors_);
}

std::map<std::string, YamlEntry> Diagnostics::entries(const YAML::Node& map,
                                                      const std::vector<std::string>& known,
                                                      const std::string& where) {
  std::map<std::string, YamlEntry> out;
  for (const auto& item : map) {
    const YAML::Node& key = item.first;
    if (!key.IsScalar()) {
      error(key, "a key in " + where + " must be a single value, not " + describeNode(key));
      continue;
    }
    std::string name = key.Scalar();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string hint = didYouMean(name, known);
      if (hint.empty())
        hint = known.empty() ? "; it takes no keys" : "; expected one of: " + joinShort(known, 12);
      error(key, "unknown key '" + name + "' in " + where + hint);
      continue;
    }
    auto [existing, inserted] = out.emplace(name, YamlEntry{key, item.second});
    if (!inserted)
      error(key, "duplicate key '" + name + "' in " + where + " (first at line " +
                     std::to_string(mark(existing->second.key).line) + ")");
  }
  return out;
}

}  // namespace plexus::core
