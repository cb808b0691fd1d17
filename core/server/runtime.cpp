#include "server/runtime.hpp"

#include <filesystem>

#include <Poco/Logger.h>

#include "engine/crash_handler.hpp"
#include "integration/integration_loader.hpp"
#include "server/http_reply.hpp"
#include "store/data_folder.hpp"
#include "store/sqlite_store.hpp"
#include "trigger/schedule_kind.hpp"
#include "trigger/webhook/webhook_payload.hpp"

namespace plexus::core {

namespace {
Poco::Logger& logger() { return Poco::Logger::get("plexus.runtime"); }
}  // namespace

Runtime::Runtime(const ServerSettings& settings) : settings_(settings) {}

std::unique_ptr<Runtime> Runtime::start(const ServerSettings& settings) {
  std::unique_ptr<Runtime> runtime(new Runtime(settings));
  runtime->openStore();
  std::filesystem::create_directories(runtime->spoolDirectory());
  runtime->loadComponentsAndIntegrations();
  Engine::Options options;
  options.workers = settings.workers;
  options.maxWorkers = std::max(settings.workers, settings.maxWorkers);
  options.maxHttpConnections = static_cast<long>(settings.maxOutboundConnections);
  // A deferred JSON body is parsed when its execution starts, within the
  // process's parse budget (docs/limits.md).
  options.prepare = [raw = runtime.get()](ExecutionRequest& request) -> std::shared_ptr<void> {
    BodyLimits limits = bodyLimits(raw->settings_);
    std::size_t bytes = deferredJsonSize(request.triggerResults);
    if (bytes == 0) return nullptr;
    auto lease = std::make_shared<MemoryBudget::Lease>(raw->parseBudget_.acquire(bytes * limits.jsonMemoryFactor));
    resolveDeferredJson(request.triggerResults, limits);
    return lease;
  };
  runtime->engine_ = std::make_unique<Engine>(*runtime->store_, *runtime->components_,
                                              runtime->integrations_, options);
  runtime->idempotency_ = std::make_unique<IdempotencyGuard>(
      *runtime->store_, runtime->clock_, std::chrono::seconds(settings.idempotencyTtlSeconds));
  runtime->wireTriggers();
  runtime->instances_->loadAll();
  runtime->recover();
  runtime->engine_->start();
  runtime->scheduler_->start();
  runtime->loaded_ = true;
  return runtime;
}

void Runtime::openStore() {
  SqliteStore::Options options;
  options.allowNewDatabase = settings_.allowNewDatabase;
  auto store = SqliteStore::open(settings_.dataDir, options);
  // From here on a fatal signal in a step is recorded beside the database,
  // so that the restart counts it against the right execution.
  installCrashRecord(DataFolder::crashRecordPath(settings_.dataDir));
  LastStop lastStop = store->lastStop();
  std::string opened = "data folder " + settings_.dataDir + ": " + lastStop.describe() + "; database opened and " +
                       "its integrity checked in " + std::to_string(store->openTime().count()) + " ms";
  if (lastStop.crashed()) logger().warning(opened); else logger().information(opened);
  store_ = std::move(store);
}

void Runtime::wireTriggers() {
  scheduleBridge_ = std::make_unique<ScheduleBridge>(
      *store_, *engine_, integrations_,
      [this](const std::string& id) { return instances_->byId(id); });
  scheduler_ = std::make_unique<Scheduler>(
      *store_, FireBatchHandler([bridge = scheduleBridge_.get()](const std::vector<DueTime>& fires) {
        return bridge->onDue(fires);
      }));
  // Recording 10,000 fires due together takes this machine about 150 ms:
  // done a second ahead, it is not the fires' lateness (docs/schedules.md).
  scheduler_->setFireAhead(kFireAhead);
  auto webhook = std::make_unique<WebhookKind>();
  webhookKind_ = webhook.get();
  kinds_.add(std::move(webhook));
  kinds_.add(std::make_unique<ScheduleKind>(*scheduler_));
  instances_ = std::make_unique<InstanceService>(*store_, integrations_, kinds_);
}

void Runtime::recover() {
  RecoveryReport report = engine_->recoverUnfinished(RecoveryPolicy{settings_.maxCrashRestarts});
  if (!report.requeued.empty())
    logger().warning("running again %z execution(s) left unfinished %s", report.requeued.size(),
                     std::string(report.lastStop.after()));
  if (!report.waiting.empty())
    logger().information("%z execution(s) left waiting resume at their wake-up times", report.waiting.size());
  if (!report.abandoned.empty())
    logger().warning("ended %z execution(s) as failed instead: the server stopped while they ran %d times "
                     "(--max-crash-restarts); each is named above",
                     report.abandoned.size(), settings_.maxCrashRestarts);
}

std::optional<std::string> Runtime::notReadyReason() const {
  if (!loaded_) return std::string("loading or stopping");
  return store_->unavailableReason();
}

Runtime::~Runtime() { stop(); }

int Runtime::stop(std::chrono::milliseconds grace) {
  loaded_ = false;
  if (scheduler_) scheduler_->stop();
  return engine_ ? engine_->stop(grace) : 0;
}

void Runtime::loadComponentsAndIntegrations() {
  std::string pluginsDir = settings_.pluginsDir.empty() ? defaultPluginsDirectory() : settings_.pluginsDir;
  components_ = loadComponents(pluginsDir);
  for (const auto& refusal : components_->refusals()) loadErrors_.push_back(refusal.message());

  DirectoryLoadResult loaded = loadIntegrationDirectory(settings_.integrationsDir, *components_);
  for (const auto& error : loaded.errors) {
    logger().warning(error.format());
    loadErrors_.push_back(error.format());
  }
  logger().information("loaded %z component(s) from %s and %z integration(s) from %s",
                       components_->all().size(), pluginsDir, loaded.integrations.size(),
                       settings_.integrationsDir);
  integrations_.replaceAll(std::move(loaded.integrations));
}

}  // namespace plexus::core
