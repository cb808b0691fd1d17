// plexus instances list [--extended] [--output json|table] [--server URL]
#include <iomanip>
#include <iostream>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"

namespace plexus::core::cli {

namespace {

std::string text(const plexus::Json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

void printTable(const plexus::Json& instances, bool extended) {
  std::vector<std::string> columns = {"integration", "name", "enabled", "webhookUrl"};
  if (extended) columns = {"id", "integration", "name", "enabled", "schedule", "nextRunAt", "webhookUrl"};
  std::vector<std::vector<std::string>> rows;
  rows.push_back({});
  for (const auto& column : columns) rows.back().push_back(column);
  for (const auto& instance : instances) {
    rows.push_back({});
    for (const auto& column : columns) rows.back().push_back(text(instance.value(column, plexus::Json())));
  }
  std::vector<std::size_t> widths(columns.size(), 0);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i)
      std::cout << std::left << std::setw(i + 1 < row.size() ? widths[i] + 2 : 0)
                << row[i];
    std::cout << "\n";
  }
}

}  // namespace

int instancesCommand(const Arguments& arguments) {
  Args args(arguments, {"output", "server", "api-token"}, {"extended"});
  if (args.positionals().size() != 1 || args.positionals()[0] != "list")
    throw UsageError("usage: plexus instances list [--extended] [--output json|table] [--server URL]");
  std::string output = args.value("output", "table");
  if (output != "json" && output != "table") throw UsageError("--output must be json or table");
  plexus::Json instances = getJson(args, "/api/instances");
  if (output == "json") {
    std::cout << instances.dump(2) << "\n";
  } else {
    printTable(instances, args.flag("extended"));
  }
  return 0;
}

int executionsCommand(const Arguments& arguments) {
  Args args(arguments, {"server", "api-token", "from-step"});
  const char* usage =
      "usage: plexus executions get ID | cancel ID | replay ID [--from-step NAME]  [--server URL]";
  if (args.positionals().size() != 2) throw UsageError(usage);
  const std::string& verb = args.positionals()[0];
  std::string path = "/api/executions/" + args.positionals()[1];
  if (verb == "get") {
    std::cout << getJson(args, path).dump(2) << "\n";
  } else if (verb == "cancel") {
    std::cout << postJson(args, path + "/cancel", plexus::Json::object()).dump(2) << "\n";
  } else if (verb == "replay") {
    plexus::Json body = plexus::Json::object();
    if (auto step = args.value("from-step")) body["fromStep"] = *step;
    std::cout << postJson(args, path + "/replay", body).dump(2) << "\n";
  } else {
    throw UsageError(usage);
  }
  return 0;
}

}  // namespace plexus::core::cli
