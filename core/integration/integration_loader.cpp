#include "integration/integration_loader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "integration/integration_parser.hpp"
#include "integration/template.hpp"
#include "integration/yaml_diagnostics.hpp"
#include "integration/yaml_json.hpp"

namespace plexus::core {

namespace {

/// yaml-cpp's messages are terse; these say what usually causes them.
std::string syntaxHint(const std::string& message) {
  static const std::map<std::string, std::string> kHints = {
      {YAML::ErrorMsg::END_OF_MAP, " (check the indentation: keys of one map must line up)"},
      {YAML::ErrorMsg::END_OF_SEQ, " (check the indentation: items of one list must line up)"},
      {YAML::ErrorMsg::END_OF_MAP_FLOW, " (a '{' is not closed by '}')"},
      {YAML::ErrorMsg::END_OF_SEQ_FLOW, " (a '[' is not closed by ']')"},
      {YAML::ErrorMsg::MAP_VALUE,
       " (a 'key: value' where it cannot start; check the indentation, or quote a value that "
       "contains ': ')"},
      {YAML::ErrorMsg::TAB_IN_INDENTATION, " (indent with spaces; YAML does not allow tabs)"},
      {YAML::ErrorMsg::BLOCK_ENTRY, " (a '- ' list item where a map key was expected)"},
  };
  auto it = kHints.find(message);
  return it == kHints.end() ? "" : it->second;
}

struct ParsedFile {
  IntegrationLoadResult result;
  SourceMark keyMark;
};

ParsedFile parseFile(const std::string& text, const std::string& fileName,
                     const ComponentCatalog& catalog) {
  ParsedFile parsed;
  Diagnostics diagnostics(fileName, text);
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& error) {
    diagnostics.error(error.mark, "YAML syntax error: " + error.msg + syntaxHint(error.msg));
    parsed.result.errors = diagnostics.takeSorted();
    return parsed;
  }
  if (documents.empty() || (documents.size() == 1 && documents[0].IsNull())) {
    diagnostics.error(SourceMark{fileName, 1, 1},
                      "the file is empty; an integration needs at least name, trigger and steps");
  } else if (documents.size() > 1) {
    diagnostics.error(documents[1], "a file holds one integration, but a second YAML document starts "
                                    "here (after '---'); move it to a file of its own");
  } else if (!documents[0].IsMap()) {
    diagnostics.error(documents[0], "an integration must be a map with name, trigger and steps, not " +
                                        describeNode(documents[0]));
  } else {
    IntegrationParser parser(diagnostics, catalog);
    IntegrationSpec spec = parser.parse(documents[0]);
    parsed.keyMark = parser.keyMark();
    if (!diagnostics.hasErrors()) {
      // Parse every template once, now, so that runs only render them.
      for (StepSpec& step : spec.steps)
        step.compiledInputs = std::make_shared<const CompiledInputs>(CompiledInputs::compile(step.inputs));
      parsed.result.integration = std::move(spec);
    }
  }
  parsed.result.errors = diagnostics.takeSorted();
  return parsed;
}

/// The file's bytes, or an error naming the file and the reason.
std::optional<std::string> readFile(const std::string& path, std::vector<IntegrationError>& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back({SourceMark{path, 0, 0}, std::string("cannot read the file: ") + std::strerror(errno)});
    return std::nullopt;
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    errors.push_back({SourceMark{path, 0, 0}, "cannot read the file"});
    return std::nullopt;
  }
  return content.str();
}

ParsedFile loadFile(const std::string& path, const ComponentCatalog& catalog) {
  ParsedFile parsed;
  auto text = readFile(path, parsed.result.errors);
  if (!text) return parsed;
  return parseFile(*text, path, catalog);
}

/// The `*.yaml` files of `directory`, sorted; hidden files (editor backups) skipped.
std::vector<std::string> yamlFiles(const std::string& directory, std::vector<IntegrationError>& errors) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code error;
  fs::directory_iterator it(directory, error);
  if (error) {
    errors.push_back({SourceMark{directory, 0, 0},
                      "cannot read the integrations folder: " + error.message()});
    return files;
  }
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || entry.path().extension() != ".yaml") continue;
    if (!entry.is_regular_file(error)) continue;
    files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::string IntegrationError::format() const {
  if (mark.line <= 0) return mark.file + ": " + message;
  return mark.file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": " + message;
}

IntegrationLoadResult parseIntegration(const std::string& yamlText, const std::string& fileName,
                                       const ComponentCatalog& catalog) {
  return parseFile(yamlText, fileName, catalog).result;
}

IntegrationLoadResult loadIntegrationFile(const std::string& path, const ComponentCatalog& catalog) {
  return loadFile(path, catalog).result;
}

DirectoryLoadResult loadIntegrationDirectory(const std::string& directory,
                                             const ComponentCatalog& catalog) {
  DirectoryLoadResult loaded;
  std::map<std::string, std::string> fileByKey;
  for (const auto& path : yamlFiles(directory, loaded.errors)) {
    ParsedFile parsed = loadFile(path, catalog);
    auto& errors = parsed.result.errors;
    loaded.errors.insert(loaded.errors.end(), errors.begin(), errors.end());
    if (!parsed.result.integration) continue;
    IntegrationSpec& spec = *parsed.result.integration;
    auto [first, inserted] = fileByKey.emplace(spec.key, path);
    if (!inserted) {
      loaded.errors.push_back({parsed.keyMark, "integration key '" + spec.key + "' is already used by " +
                                                   first->second + "; give this integration another `key:`"});
      continue;
    }
    loaded.integrations.push_back(std::move(spec));
  }
  return loaded;
}

std::string deriveIntegrationKey(const std::string& name) {
  std::string key;
  bool dash = false;
  for (char c : name) {
    bool digit = c >= '0' && c <= '9';
    bool lower = c >= 'a' && c <= 'z';
    bool upper = c >= 'A' && c <= 'Z';
    if (!digit && !lower && !upper) {
      dash = !key.empty();
      continue;
    }
    if (dash) key += '-';
    dash = false;
    key += upper ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return key;
}

}  // namespace plexus::core
