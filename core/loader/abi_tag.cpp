#include "loader/abi_tag.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace plexus::core {
namespace {

using Field = std::pair<std::string_view, std::string_view>;  // name, value

/// The tag's fields in order, or std::nullopt when a part has no '='.
std::optional<std::vector<Field>> fields(std::string_view tag) {
  std::vector<Field> parsed;
  while (!tag.empty()) {
    const std::size_t end = std::min(tag.find(';'), tag.size());
    const std::string_view part = tag.substr(0, end);
    const std::size_t equals = part.find('=');
    if (equals == std::string_view::npos || equals == 0) return std::nullopt;
    parsed.emplace_back(part.substr(0, equals), part.substr(equals + 1));
    tag.remove_prefix(std::min(end + 1, tag.size()));
  }
  return parsed;
}

const Field* findField(const std::vector<Field>& list, std::string_view name) {
  for (const auto& field : list)
    if (field.first == name) return &field;
  return nullptr;
}

std::string text(const Field& field) {
  return std::string(field.first) + "=" + std::string(field.second);
}

}  // namespace

std::optional<std::string> describeAbiMismatch(std::string_view found, std::string_view expected) {
  if (found == expected) return std::nullopt;
  const auto foundFields = fields(found);
  const auto expectedFields = fields(expected);
  if (!foundFields || !expectedFields) return std::string("its tag is not field=value pairs");

  std::vector<std::string> differences;
  for (const Field& mine : *expectedFields) {
    const Field* theirs = findField(*foundFields, mine.first);
    if (!theirs) differences.push_back("no " + std::string(mine.first) + " (this Plexus has " + text(mine) + ")");
    else if (theirs->second != mine.second)
      differences.push_back(text(*theirs) + " where this Plexus has " + text(mine));
  }
  for (const Field& theirs : *foundFields)
    if (!findField(*expectedFields, theirs.first))
      differences.push_back("an unknown field " + text(theirs));
  // Same fields and values in another order or repeated: still not the tag.
  if (differences.empty()) return std::string("its fields are in another order or repeated");
  std::string joined;
  for (const auto& difference : differences) joined += (joined.empty() ? "" : ", ") + difference;
  return joined;
}

}  // namespace plexus::core
