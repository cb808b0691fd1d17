// plexus validate FILE|DIR... [--plugins DIR]
//
// Checks integration files the way the server loads them (CONTRACT §3):
// every error of every file on stderr as "FILE:LINE:COL: message", exit 1
// if there is any; otherwise "N integration(s) valid" and exit 0. A
// directory stands for its *.yaml files, as `serve --integrations` reads them.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "integration/integration_loader.hpp"
#include "loader/component_loader.hpp"

namespace plexus::core::cli {
namespace {

const char* const kUsage = "usage: plexus validate FILE|DIR... [--plugins DIR]";

/// --plugins, else $PLEXUS_PLUGINS, else ../plugins beside the executable.
std::string pluginsDirectory(const Args& args) {
  if (auto given = args.value("plugins")) return *given;
  if (const char* env = std::getenv("PLEXUS_PLUGINS"); env && *env) return env;
  return defaultPluginsDirectory();
}

/// Every integration and error from the files and folders named.
DirectoryLoadResult loadAll(const std::vector<std::string>& paths, const ComponentCatalog& catalog) {
  DirectoryLoadResult all;
  for (const auto& path : paths) {
    std::error_code error;
    DirectoryLoadResult loaded;
    if (std::filesystem::is_directory(path, error)) {
      loaded = loadIntegrationDirectory(path, catalog);
    } else {
      IntegrationLoadResult file = loadIntegrationFile(path, catalog);
      loaded.errors = std::move(file.errors);
      if (file.integration) loaded.integrations.push_back(std::move(*file.integration));
    }
    all.errors.insert(all.errors.end(), loaded.errors.begin(), loaded.errors.end());
    for (auto& spec : loaded.integrations) all.integrations.push_back(std::move(spec));
  }
  return all;
}

}  // namespace

int validateCommand(const Arguments& arguments) {
  Args args(arguments, {"plugins"});
  if (args.positionals().empty()) throw UsageError(std::string("no file to check\n") + kUsage);

  auto catalog = loadComponents(pluginsDirectory(args));
  DirectoryLoadResult loaded = loadAll(args.positionals(), *catalog);
  // Across the paths named too: the server would refuse the second one.
  refuseDuplicateKeys(loaded.integrations, loaded.errors);

  for (const auto& error : loaded.errors) std::cerr << error.formatWithExcerpt() << "\n";
  if (!loaded.errors.empty()) return 1;
  std::size_t count = loaded.integrations.size();
  std::cout << count << (count == 1 ? " integration valid" : " integrations valid") << "\n";
  return 0;
}

}  // namespace plexus::core::cli
