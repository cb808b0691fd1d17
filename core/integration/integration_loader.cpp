#include "integration/integration_loader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "integration/integration_parser.hpp"
#include "integration/template.hpp"
#include "integration/yaml_diagnostics.hpp"
#include "integration/yaml_json.hpp"
#include "integration/yaml_limits.hpp"

namespace plexus::core {

namespace {

/// Parses every template of every action step's inputs once, nested ones too.
void compileStepInputs(std::vector<StepSpec>& steps) {
  for (StepSpec& step : steps) {
    if (step.kind == StepSpec::Kind::Action)
      step.compiledInputs = std::make_shared<const CompiledInputs>(CompiledInputs::compile(step.inputs));
    for (BranchCase& branch : step.branches) compileStepInputs(branch.steps);
    compileStepInputs(step.loop.steps);
  }
}


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

std::string sizeError(std::uintmax_t bytes) {
  return "the file is " + std::to_string(bytes) + " bytes; an integration file may be at most " +
         std::to_string(kMaxIntegrationFileBytes) +
         " bytes (1 MiB): split it, or move large data out of the file";
}

/// The documents of `text`, or nothing with the reason reported. Bounds
/// the file (size, aliases, nesting) before yaml-cpp builds a node.
std::optional<std::vector<YAML::Node>> loadDocuments(const std::string& text, Diagnostics& diagnostics) {
  if (text.size() > kMaxIntegrationFileBytes) {
    diagnostics.error(SourceMark{diagnostics.file(), 0, 0}, sizeError(text.size()));
    return std::nullopt;
  }
  try {
    checkYamlLimits(text);
    return YAML::LoadAll(text);
  } catch (const YamlLimitError& error) {
    diagnostics.error(error.mark, error.what());
  } catch (const YAML::Exception& error) {
    diagnostics.error(error.mark, "YAML syntax error: " + error.msg + syntaxHint(error.msg));
  }
  return std::nullopt;
}

IntegrationLoadResult parseFile(const std::string& text, const std::string& fileName,
                                const ComponentCatalog& catalog) {
  IntegrationLoadResult result;
  Diagnostics diagnostics(fileName, text);
  auto documents = loadDocuments(text, diagnostics);
  if (!documents) {
    result.errors = diagnostics.takeSorted();
    return result;
  }
  if (documents->empty() || (documents->size() == 1 && (*documents)[0].IsNull())) {
    diagnostics.error(SourceMark{fileName, 1, 1},
                      "the file is empty; an integration needs at least name, trigger and steps");
  } else if (documents->size() > 1) {
    diagnostics.error((*documents)[1], "a file holds one integration, but a second YAML document starts "
                                       "here (after '---'); move it to a file of its own");
  } else if (!(*documents)[0].IsMap()) {
    diagnostics.error((*documents)[0], "an integration must be a map with name, trigger and steps, not " +
                                           describeNode((*documents)[0]));
  } else {
    IntegrationParser parser(diagnostics, catalog);
    IntegrationSpec spec = parser.parse((*documents)[0]);
    if (!diagnostics.hasErrors()) {
      // Parse every template once, now, so that runs only render them.
      compileStepInputs(spec.steps);
      WebhookTriggerSpec& webhook = spec.trigger.webhook;
      if (webhook.component)
        webhook.component->compiledInputs =
            std::make_shared<const CompiledInputs>(CompiledInputs::compile(webhook.component->inputs));
      if (webhook.response) {
        plexus::Json parts = {{"headers", webhook.response->headers}};
        if (webhook.response->body) parts["body"] = *webhook.response->body;
        webhook.response->compiled = std::make_shared<const CompiledInputs>(CompiledInputs::compile(parts));
      }
      result.integration = std::move(spec);
    }
  }
  result.errors = diagnostics.takeSorted();
  return result;
}

/// The file's bytes, or an error naming the file and the reason. A file
/// over the size bound is refused without reading it.
std::optional<std::string> readFile(const std::string& path, std::vector<IntegrationError>& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back({SourceMark{path, 0, 0}, std::string("cannot read the file: ") + std::strerror(errno)});
    return std::nullopt;
  }
  std::error_code sizeUnknown;
  std::uintmax_t size = std::filesystem::file_size(path, sizeUnknown);
  if (!sizeUnknown && size > kMaxIntegrationFileBytes) {
    errors.push_back({SourceMark{path, 0, 0}, sizeError(size)});
    return std::nullopt;
  }
  // Read one byte past the bound, so a file that grows (or a pipe) is still caught.
  std::string content(kMaxIntegrationFileBytes + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) {
    errors.push_back({SourceMark{path, 0, 0}, "cannot read the file"});
    return std::nullopt;
  }
  content.resize(static_cast<std::size_t>(in.gcount()));
  return content;
}

IntegrationLoadResult loadFile(const std::string& path, const ComponentCatalog& catalog) {
  std::vector<IntegrationError> errors;
  auto text = readFile(path, errors);
  if (!text) return IntegrationLoadResult{std::nullopt, std::move(errors)};
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
  return parseFile(yamlText, fileName, catalog);
}

IntegrationLoadResult loadIntegrationFile(const std::string& path, const ComponentCatalog& catalog) {
  return loadFile(path, catalog);
}

void refuseDuplicateKeys(std::vector<IntegrationSpec>& integrations, std::vector<IntegrationError>& errors) {
  std::map<std::string, std::string> fileByKey;
  std::vector<IntegrationSpec> kept;
  for (IntegrationSpec& spec : integrations) {
    auto [first, inserted] = fileByKey.emplace(spec.key, spec.file);
    if (!inserted && first->second == spec.file) continue;  // The same file named twice.
    if (!inserted) {
      errors.push_back({spec.keyMark, "integration key '" + spec.key + "' is already used by " +
                                          first->second + "; give this integration another `key:`"});
      continue;
    }
    kept.push_back(std::move(spec));
  }
  integrations = std::move(kept);
}

DirectoryLoadResult loadIntegrationDirectory(const std::string& directory,
                                             const ComponentCatalog& catalog) {
  DirectoryLoadResult loaded;
  for (const auto& path : yamlFiles(directory, loaded.errors)) {
    IntegrationLoadResult file = loadFile(path, catalog);
    loaded.errors.insert(loaded.errors.end(), file.errors.begin(), file.errors.end());
    if (file.integration) loaded.integrations.push_back(std::move(*file.integration));
  }
  refuseDuplicateKeys(loaded.integrations, loaded.errors);
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
