// plexus run FILE [--instance NAME] [--payload JSON|@FILE] [--content-type TYPE]
//                 [--header K:V]... [--plugins DIR] [--data DIR]
//
// The integration author's inner loop: loads one integration, runs it once
// in-process on a throwaway store (or --data DIR to keep it), and prints
// each step's status and result.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <Poco/String.h>

#include "cli/commands.hpp"
#include "cli/args.hpp"
#include "engine/engine.hpp"
#include "integration/integration_loader.hpp"
#include "loader/component_loader.hpp"
#include "server/http_reply.hpp"
#include "trigger/webhook/webhook_payload.hpp"
#include "store/sqlite_store.hpp"
#include "trigger/trigger_results.hpp"
#include "util/ids.hpp"

namespace plexus::core::cli {

namespace {

namespace fs = std::filesystem;

std::string readPayload(const std::string& value) {
  if (value.empty() || value[0] != '@') return value;
  std::ifstream in(value.substr(1), std::ios::binary);
  if (!in) throw UsageError("cannot read payload file '" + value.substr(1) + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A private data folder, removed at exit unless the user chose one.
class ScratchDirectory {
 public:
  explicit ScratchDirectory(std::optional<std::string> chosen) {
    if (chosen) {
      path_ = *chosen;
      return;
    }
    path_ = (fs::temp_directory_path() / ("plexus-run-" + randomId(9))).string();
    owned_ = true;
  }
  ~ScratchDirectory() {
    std::error_code ignored;  // Best effort: a leftover temp folder is harmless.
    if (owned_) fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool owned_ = false;
};

plexus::Json webhookResults(const Args& args, const std::string& id, const InstanceRecord& instance,
                            const IntegrationSpec& integration) {
  std::string payload = readPayload(args.value("payload", ""));
  std::string contentType = args.value("content-type", payload.empty() ? "" : "application/json");
  plexus::Json headers = plexus::Json::object();
  for (const std::string& header : args.values("header")) {
    auto colon = header.find(':');
    if (colon == std::string::npos) throw UsageError("--header must be NAME:VALUE, got '" + header + "'");
    headers[Poco::toLower(Poco::trim(header.substr(0, colon)))] = Poco::trim(header.substr(colon + 1));
  }
  if (!contentType.empty()) headers["content-type"] = contentType;
  WebhookBody body;
  try {
    body = parseWebhookBody(payload, contentType);
  } catch (const PayloadError& error) {
    throw UsageError(std::string("--payload: ") + error.what());
  }
  WebhookRequestParts parts{"POST",        std::move(headers), plexus::Json::object(), std::move(body.data),
                            contentType,   std::move(body.raw), "(plexus run)"};
  return webhookTriggerResults(std::move(parts), id, formatIsoMs(nowMs()), instance, integration);
}

std::string showResult(const std::optional<StoredResult>& result) {
  if (!result) return "";
  if (result->isStatus) {
    plexus::Json status = {{"statusCode", result->status.statusCode}};
    if (!result->status.headers.empty()) status["headers"] = result->status.headers;
    if (result->status.body) status["body"] = describeBinaries(*result->status.body);
    return status.dump(2);
  }
  return describeBinaries(result->data).dump(2);
}

void printExecution(Store& store, const std::string& id) {
  auto execution = store.execution(id);
  if (!execution) return;
  for (const auto& step : execution->steps) {
    auto elapsed = step.endedAt ? (*step.endedAt - step.startedAt).count() : 0;
    std::string what = step.component.empty() ? step.action : step.component + "." + step.action;
    std::cout << (step.status == StepStatus::Succeeded ? "ok     " : "FAILED ") << step.name
              << (step.iteration >= 0 ? "[" + std::to_string(step.iteration) + "]" : "") << " (" << what << ", "
              << elapsed << " ms" << (step.attempts > 1 ? ", " + std::to_string(step.attempts) + " attempts" : "")
              << ")\n";
    for (const auto& line : execution->logs)
      if (line.step == step.name && step.iteration <= 0) std::cout << "  [" << plexus::toString(line.level) << "] " << line.message << "\n";
    if (step.error) std::cout << "  error: " << *step.error << "\n";
    std::string shown = showResult(store.stepResult(id, step.name, step.iteration));
    std::istringstream lines(shown);
    for (std::string line; std::getline(lines, line);) std::cout << "  " << line << "\n";
  }
  std::cout << "execution " << id << " " << toString(execution->status) << "\n";
}

}  // namespace

int runCommand(const Arguments& arguments) {
  Args args(arguments, {"instance", "payload", "content-type", "header", "plugins", "data"});
  if (args.positionals().size() != 1)
    throw UsageError("usage: plexus run FILE [--instance NAME] [--payload JSON|@FILE] [--content-type TYPE] "
                     "[--header K:V]... [--plugins DIR] [--data DIR]");
  std::string pluginsDir = args.value("plugins", std::getenv("PLEXUS_PLUGINS") ? std::getenv("PLEXUS_PLUGINS")
                                                                                : defaultPluginsDirectory());
  auto components = loadComponents(pluginsDir);
  IntegrationLoadResult loaded = loadIntegrationFile(args.positionals()[0], *components);
  for (const auto& error : loaded.errors) std::cerr << error.formatWithExcerpt() << "\n";
  if (!loaded.integration) return 1;

  std::string instanceName = args.value("instance", loaded.integration->instances.front().name);
  if (!loaded.integration->declaredInstance(instanceName))
    throw UsageError("integration '" + loaded.integration->key + "' declares no instance '" + instanceName + "'");

  ScratchDirectory data(args.value("data"));
  auto store = SqliteStore::open(data.path());
  IntegrationRegistry registry;
  registry.replaceAll({*loaded.integration});
  IntegrationPtr integration = registry.find(loaded.integration->key);

  InstanceRecord instance{randomId(16), integration->key, instanceName, true, plexus::Json::object(), "", nowMs()};
  store->saveInstance(instance);
  Engine engine(*store, *components, registry, Engine::Options{1});
  engine.start();

  std::string id = Engine::newExecutionId();
  plexus::Json results =
      integration->trigger.kind == TriggerKind::Webhook
          ? webhookResults(args, id, instance, *integration)
          : scheduleTriggerResults(formatIsoMs(nowMs()), formatIsoMs(nowMs()), id, instance, *integration);
  engine.submit(ExecutionRequest{id, integration, instance, "manual", std::move(results)});
  auto outcome = engine.waitFor(id, std::chrono::hours(24));
  engine.stop();
  printExecution(*store, id);
  return outcome && outcome->status == ExecutionStatus::Succeeded ? 0 : 1;
}

}  // namespace plexus::core::cli
