#include "integration/yaml_json.hpp"

#include <charconv>
#include <cstdlib>
#include <limits>
#include <optional>

namespace plexus::core {

namespace {

const std::string kStrTag = "tag:yaml.org,2002:str";

bool isOneOf(const std::string& text, std::initializer_list<const char*> options) {
  for (const char* option : options)
    if (text == option) return true;
  return false;
}

bool isDecimalInteger(const std::string& text) {
  std::size_t i = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  if (i == text.size()) return false;
  for (; i < text.size(); ++i)
    if (text[i] < '0' || text[i] > '9') return false;
  return true;
}

/// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool isDecimalFloat(const std::string& text) {
  std::size_t i = 0, n = text.size();
  auto digits = [&] {
    std::size_t start = i;
    while (i < n && text[i] >= '0' && text[i] <= '9') ++i;
    return i - start;
  };
  if (i < n && (text[i] == '-' || text[i] == '+')) ++i;
  std::size_t mantissa = digits();
  if (i < n && text[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return false;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '-' || text[i] == '+')) ++i;
    if (digits() == 0) return false;
  }
  return i == n;
}

/// An integer with the given base and prefix length, or nullopt.
std::optional<plexus::Json> parseInteger(const std::string& text, std::size_t skip, int base) {
  bool negative = !text.empty() && text[0] == '-';
  std::size_t start = skip + ((!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0);
  const char* first = text.data() + start;
  const char* last = text.data() + text.size();
  if (first == last) return std::nullopt;
  std::uint64_t magnitude = 0;
  auto [end, error] = std::from_chars(first, last, magnitude, base);
  if (end != last) return std::nullopt;
  if (error == std::errc::result_out_of_range) return plexus::Json(std::strtod(text.c_str(), nullptr));
  if (!negative) {
    if (magnitude <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return plexus::Json(static_cast<std::int64_t>(magnitude));
    return plexus::Json(magnitude);
  }
  if (magnitude <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1)
    return plexus::Json(static_cast<std::int64_t>(0 - magnitude));
  return plexus::Json(-static_cast<double>(magnitude));
}

}  // namespace

plexus::Json typePlainScalar(const std::string& text) {
  if (isOneOf(text, {"true", "True", "TRUE"})) return true;
  if (isOneOf(text, {"false", "False", "FALSE"})) return false;
  if (isOneOf(text, {"null", "Null", "NULL", "~", ""})) return nullptr;
  if (isDecimalInteger(text)) return *parseInteger(text, 0, 10);
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'o')) {
    if (auto value = parseInteger(text, 2, text[1] == 'x' ? 16 : 8)) return *value;
  }
  if (isDecimalFloat(text)) return std::strtod(text.c_str(), nullptr);
  std::string unsignedText = (text[0] == '-' || text[0] == '+') ? text.substr(1) : text;
  if (isOneOf(unsignedText, {".inf", ".Inf", ".INF"}))
    return text[0] == '-' ? -std::numeric_limits<double>::infinity()
                          : std::numeric_limits<double>::infinity();
  if (isOneOf(text, {".nan", ".NaN", ".NAN"})) return std::numeric_limits<double>::quiet_NaN();
  return text;
}

bool isQuotedScalar(const YAML::Node& scalar) {
  // yaml-cpp tags every non-plain scalar "!" and plain ones "?".
  return scalar.Tag() == "!" || scalar.Tag() == kStrTag;
}

plexus::Json yamlScalarToJson(const YAML::Node& scalar) {
  if (scalar.IsNull()) return nullptr;
  if (isQuotedScalar(scalar)) return scalar.Scalar();
  return typePlainScalar(scalar.Scalar());
}

plexus::Json yamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return nullptr;
    case YAML::NodeType::Scalar: return yamlScalarToJson(node);
    case YAML::NodeType::Sequence: {
      plexus::Json out = plexus::Json::array();
      for (const auto& item : node) out.push_back(yamlToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      plexus::Json out = plexus::Json::object();
      for (const auto& item : node) {
        if (!item.first.IsScalar())
          throw YamlConversionError(
              "a key must be a single value, not " + describeNode(item.first) +
                  (item.first.IsMap() ? "; to write a {{ }} reference, put it in quotes: \"{{ path }}\""
                                      : ""),
              item.first.Mark());
        std::string key = item.first.Scalar();
        if (out.contains(key))
          throw YamlConversionError("duplicate key '" + key + "'", item.first.Mark());
        out[key] = yamlToJson(item.second);
      }
      return out;
    }
  }
  return nullptr;
}

std::string describeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a single value";
    default: return "empty";
  }
}

}  // namespace plexus::core
