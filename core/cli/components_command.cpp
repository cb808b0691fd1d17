// plexus components list|describe KEY [--plugins DIR] [--output json|table]
//
// What the plugins folder offers: the components that load, and each refused
// file with its reason (the same one line the server logs). `list` exits 1
// when any file was refused, after printing everything, so that a script or
// a CI step that checks a plugins folder notices.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <plexus/component.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "loader/component_loader.hpp"

namespace plexus::core::cli {
namespace {

const char* const kUsage =
    "usage: plexus components list [--plugins DIR] [--output json|table]\n"
    "       plexus components describe KEY [--plugins DIR] [--output json|table]";

enum class Output { Table, Json };

struct Options {
  std::string plugins;
  Output output = Output::Table;
  std::vector<std::string> positionals;  ///< After the sub-verb.
};

/// --plugins, else $PLEXUS_PLUGINS, else ../plugins beside the executable
/// (CONTRACT §1).
std::string pluginsDirectory(const Args& args) {
  if (auto given = args.value("plugins")) return *given;
  if (const char* env = std::getenv("PLEXUS_PLUGINS"); env && *env) return env;
  return defaultPluginsDirectory();
}

Options parseOptions(const Arguments& arguments) {
  Args args(arguments, {"plugins", "output"});
  Options options;
  options.plugins = pluginsDirectory(args);
  const std::string output = args.value("output", "table");
  if (output == "json") options.output = Output::Json;
  else if (output != "table")
    throw UsageError("--output must be json or table, not '" + output + "'");
  options.positionals = args.positionals();
  return options;
}

// --- table output -----------------------------------------------------------

using Row = std::vector<std::string>;

/// Prints rows as left-aligned columns, two spaces apart, after `indent`.
void printTable(std::ostream& out, const std::vector<Row>& rows, const std::string& indent = "") {
  std::vector<std::size_t> widths;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line = indent;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string joined;
  for (const auto& part : parts) joined += (joined.empty() ? "" : separator) + part;
  return joined;
}

/// The keys of `specs` (actions or triggers).
template <typename Spec>
std::vector<std::string> keysOf(const std::vector<Spec>& specs) {
  std::vector<std::string> keys;
  for (const auto& spec : specs) keys.push_back(spec.key);
  return keys;
}

/// "a, b" of the actions, then "trigger t" for each trigger.
std::string offered(const plexus::ComponentSpec& spec) {
  std::vector<std::string> items = keysOf(spec.actions);
  for (const auto& trigger : spec.triggers) items.push_back("trigger " + trigger.key);
  return join(items, ", ");
}

void printRefusals(std::ostream& out, const std::vector<LoadRefusal>& refusals) {
  if (refusals.empty()) return;
  out << "\nRefused:\n";
  for (const auto& refusal : refusals) out << "  " << refusal.message() << "\n";
}

void printListTable(std::ostream& out, const ComponentRegistry& registry,
                    const std::string& directory) {
  const auto components = registry.all();
  if (components.empty()) {
    out << "No components in " << directory << "\n";
  } else {
    std::vector<Row> rows{{"KEY", "VERSION", "ACTIONS AND TRIGGERS", "FILE", "DESCRIPTION"}};
    for (const auto& component : components) {
      const auto& spec = component->spec;
      rows.push_back({spec.key, spec.version, offered(spec), component->file,
                      spec.description});
    }
    printTable(out, rows);
  }
  printRefusals(out, registry.refusals());
}

void printDescribeTable(std::ostream& out, const LoadedComponent& component) {
  const auto& spec = component.spec;
  out << spec.key << " " << spec.version << ": " << spec.description << "\n";
  out << "file: " << component.file << "\n";
  auto describe = [&](const auto& performer, const char* kind) {
    out << "\n" << kind << spec.key << "." << performer.key << " (" << performer.label << "): "
        << performer.description << "\n";
    if (performer.inputs.empty()) {
      out << "  no inputs\n";
      return;
    }
    std::vector<Row> rows{{"INPUT", "TYPE", "REQUIRED", "DEFAULT", "LABEL", "DESCRIPTION"}};
    for (const auto& input : performer.inputs)
      rows.push_back({input.key, plexus::toString(input.type), input.required ? "yes" : "no",
                      input.defaultValue ? input.defaultValue->dump() : "-", input.label,
                      input.description});
    printTable(out, rows, "  ");
  };
  for (const auto& action : spec.actions) describe(action, "");
  for (const auto& trigger : spec.triggers) describe(trigger, "trigger ");
}

// --- JSON output ------------------------------------------------------------

plexus::Json refusalsJson(const std::vector<LoadRefusal>& refusals) {
  plexus::Json list = plexus::Json::array();
  for (const auto& refusal : refusals)
    list.push_back({{"file", refusal.file}, {"reason", refusal.reason}});
  return list;
}

plexus::Json summaryJson(const LoadedComponent& component) {
  const auto& spec = component.spec;
  return {{"key", spec.key},
          {"version", spec.version},
          {"description", spec.description},
          {"file", component.file},
          {"actions", keysOf(spec.actions)},
          {"triggers", keysOf(spec.triggers)}};
}

plexus::Json inputJson(const plexus::InputSpec& input) {
  plexus::Json json = {{"key", input.key},
                       {"type", plexus::toString(input.type)},
                       {"required", input.required},
                       {"label", input.label},
                       {"description", input.description}};
  // Absent rather than null: null is itself a possible default.
  if (input.defaultValue) json["default"] = *input.defaultValue;
  return json;
}

plexus::Json describeJson(const LoadedComponent& component) {
  const auto& spec = component.spec;
  auto describe = [](const auto& performers) {
    plexus::Json list = plexus::Json::array();
    for (const auto& performer : performers) {
      plexus::Json inputs = plexus::Json::array();
      for (const auto& input : performer.inputs) inputs.push_back(inputJson(input));
      list.push_back({{"key", performer.key},
                      {"label", performer.label},
                      {"description", performer.description},
                      {"inputs", inputs}});
    }
    return list;
  };
  return {{"key", spec.key},
          {"version", spec.version},
          {"description", spec.description},
          {"file", component.file},
          {"actions", describe(spec.actions)},
          {"triggers", describe(spec.triggers)}};
}

// --- sub-verbs --------------------------------------------------------------

/// 0, or 1 with a line on stderr when files were refused (stdout keeps only
/// the listing, so --output json stays parseable).
int listExitCode(const ComponentRegistry& registry) {
  const std::size_t refused = registry.refusals().size();
  if (refused == 0) return 0;
  std::cout.flush();
  std::cerr << "plexus components list: " << refused << " file(s) in the plugins folder refused "
            << "(listed above)\n";
  return 1;
}

int listComponents(const Options& options) {
  if (!options.positionals.empty())
    throw UsageError("list takes no arguments, got '" + options.positionals.front() + "'\n" + kUsage);
  const auto registry = loadComponents(options.plugins);
  if (options.output == Output::Table) {
    printListTable(std::cout, *registry, options.plugins);
    return listExitCode(*registry);
  }
  plexus::Json components = plexus::Json::array();
  for (const auto& component : registry->all()) components.push_back(summaryJson(*component));
  plexus::Json json = {{"components", components}, {"refused", refusalsJson(registry->refusals())}};
  std::cout << json.dump(2) << "\n";
  return listExitCode(*registry);
}

int describeComponent(const Options& options) {
  if (options.positionals.size() != 1)
    throw UsageError(std::string("describe takes exactly one component KEY\n") + kUsage);
  const std::string& key = options.positionals.front();
  const auto registry = loadComponents(options.plugins);
  const LoadedComponentPtr component = registry->find(key);
  if (!component) {
    std::string message = "no component \"" + key + "\" in " + options.plugins;
    if (!registry->refusals().empty())
      message += " (" + std::to_string(registry->refusals().size()) + " file(s) there were refused)";
    throw std::runtime_error(message + "; `plexus components list` shows what is there");
  }
  if (options.output == Output::Table) printDescribeTable(std::cout, *component);
  else std::cout << describeJson(*component).dump(2) << "\n";
  return 0;
}

}  // namespace

int componentsCommand(const Arguments& arguments) {
  if (arguments.empty()) throw UsageError(std::string("missing list or describe\n") + kUsage);
  const std::string& subverb = arguments.front();
  if (subverb == "--help" || subverb == "help") {
    std::cout << kUsage << "\n";
    return 0;
  }
  const Options options = parseOptions(Arguments(arguments.begin() + 1, arguments.end()));
  if (subverb == "list") return listComponents(options);
  if (subverb == "describe") return describeComponent(options);
  throw UsageError("unknown sub-command '" + subverb + "', expected list or describe\n" + kUsage);
}

}  // namespace plexus::core::cli
