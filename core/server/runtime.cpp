#include "server/runtime.hpp"

#include <filesystem>
#include <map>

#include <Poco/Format.h>
#include <Poco/Logger.h>

#include "engine/config_values.hpp"
#include "engine/crash_handler.hpp"
#include "integration/integration_loader.hpp"
#include "trigger/schedule/schedule.hpp"
#include "server/http_reply.hpp"
#include "trigger/trigger_results.hpp"
#include "store/data_folder.hpp"
#include "store/sqlite_store.hpp"
#include "util/ids.hpp"
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
  runtime->scheduler_ = std::make_unique<Scheduler>(
      *runtime->store_,
      FireBatchHandler([raw = runtime.get()](const std::vector<DueTime>& fires) { return raw->onSchedulesDue(fires); }));
  // Recording 10,000 fires due together takes this machine about 150 ms:
  // done a second ahead, it is not the fires' lateness (docs/schedules.md).
  runtime->scheduler_->setFireAhead(kFireAhead);
  runtime->syncDeclaredInstances();
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

void Runtime::syncDeclaredInstances() {
  std::lock_guard<std::mutex> lock(instancesMutex_);
  for (const IntegrationPtr& integration : integrations_.all()) {
    for (const InstanceSpec& declared : integration->instances) {
      auto existing = store_->instanceByName(integration->key, declared.name);
      InstanceRecord record;
      if (existing) {
        record = *existing;
      } else {
        record.id = randomId(16);
        record.integrationKey = integration->key;
        record.name = declared.name;
        record.enabled = declared.enabled;
        record.createdAt = nowMs();
      }
      bool webhook = integration->trigger.kind == TriggerKind::Webhook;
      if (webhook && record.webhookToken.empty()) record.webhookToken = randomId(24);
      if (!webhook) record.webhookToken.clear();
      if (!existing || record.webhookToken != existing->webhookToken) store_->saveInstance(record);
    }
  }
  for (const InstanceRecord& instance : store_->instances()) {
    rememberInstance(instance);
    if (IntegrationPtr integration = integrations_.find(instance.integrationKey))
      scheduleInstance(*integration, instance);
  }
}

void Runtime::rememberInstance(const InstanceRecord& instance) {
  std::unique_lock<std::shared_mutex> lock(tokensMutex_);
  auto old = byId_.find(instance.id);
  if (old != byId_.end() && !old->second.webhookToken.empty()) idByToken_.erase(old->second.webhookToken);
  byId_[instance.id] = instance;
  if (!instance.webhookToken.empty()) idByToken_[instance.webhookToken] = instance.id;
}

void Runtime::forgetInstance(const std::string& id) {
  std::unique_lock<std::shared_mutex> lock(tokensMutex_);
  auto it = byId_.find(id);
  if (it == byId_.end()) return;
  if (!it->second.webhookToken.empty()) idByToken_.erase(it->second.webhookToken);
  byId_.erase(it);
}

std::optional<InstanceRecord> Runtime::instanceByToken(const std::string& token) const {
  std::shared_lock<std::shared_mutex> lock(tokensMutex_);
  auto id = idByToken_.find(token);
  if (id == idByToken_.end()) return std::nullopt;
  return byId_.at(id->second);
}

std::optional<InstanceRecord> Runtime::instanceById(const std::string& id) const {
  std::shared_lock<std::shared_mutex> lock(tokensMutex_);
  auto it = byId_.find(id);
  if (it == byId_.end()) return std::nullopt;
  return it->second;
}

void Runtime::scheduleInstance(const IntegrationSpec& integration, const InstanceRecord& instance) {
  if (integration.trigger.kind != TriggerKind::Schedule) return;
  if (!instance.enabled) {
    scheduler_->remove(instance.id);
    return;
  }
  plexus::Json value = integration.trigger.schedule;
  if (value.is_object() && value.contains("configVar")) {
    value = effectiveConfigVars(integration, instance).value(value["configVar"].get<std::string>(), plexus::Json());
    if (value.is_null()) {
      logger().warning("instance '%s' of '%s' has no schedule in config variable '%s'; it will not fire",
                       instance.name, integration.key, integration.trigger.schedule["configVar"].get<std::string>());
      scheduler_->remove(instance.id);
      return;
    }
  }
  try {
    scheduler_->upsert(instance.id, Schedule::compile(parseSchedule(value)), integration.trigger.missedRuns);
  } catch (const ScheduleError& error) {
    logger().error("instance '%s' of '%s': invalid schedule: %s", instance.name, integration.key,
                   std::string(error.what()));
    scheduler_->remove(instance.id);
  }
}

std::vector<FireOutcome> Runtime::onSchedulesDue(const std::vector<DueTime>& fires) {
  std::vector<ScheduledFire> records;
  std::vector<std::optional<ExecutionRequest>> requests;
  records.reserve(fires.size());
  requests.reserve(fires.size());
  const TimePoint now = nowMs();
  // Fires due together share their due time: format it once per run of them.
  TimePoint formattedDue{};
  std::string scheduledAt;
  for (const DueTime& fire : fires) {
    ScheduledFire record{fire.instanceId, fire.due, std::nullopt};
    std::optional<ExecutionRequest> request;
    auto instance = instanceById(fire.instanceId);
    IntegrationPtr integration = instance ? integrations_.find(instance->integrationKey) : nullptr;
    if (instance && instance->enabled && integration) {
      if (scheduledAt.empty() || fire.due != formattedDue) {
        formattedDue = fire.due;
        scheduledAt = formatIsoMs(fire.due);
      }
      std::string id = Engine::newExecutionId();
      // Recorded ahead, it starts at its due time; recorded late, now.
      const bool ahead = fire.due > now;
      plexus::Json results =
          scheduleTriggerResults(scheduledAt, ahead ? scheduledAt : formatIsoMs(now), id, *instance, *integration);
      // The results are built once: the request takes them from the record
      // once the store has encoded them.
      record.execution = NewExecution{id, integration->key, instance->id, instance->name, "schedule",
                                      std::move(results), now};
      if (ahead) record.execution->startsAt = fire.due;
      request = ExecutionRequest{std::move(id), integration, std::move(*instance), "schedule", plexus::Json()};
    }
    records.push_back(std::move(record));
    requests.push_back(std::move(request));
  }
  // One transaction for all: each fire is recorded with its execution, or
  // neither is (a StoreError goes to the scheduler, which retries them).
  std::vector<bool> recorded = store_->recordScheduledFires(records);
  std::vector<FireOutcome> outcomes;
  outcomes.reserve(fires.size());
  // Fires recorded ahead wait for their due time together, one group per
  // due time (a batch's fires are nearly always due at the same time).
  std::map<TimePoint, std::vector<ExecutionRequest>> ahead;
  for (std::size_t i = 0; i < fires.size(); ++i) {
    outcomes.push_back(recorded[i] ? FireOutcome::Fired : FireOutcome::FiredBefore);
    if (!recorded[i] || !requests[i]) continue;
    requests[i]->triggerResults = std::move(records[i].execution->triggerResults);
    fireLateness_.expect(fires[i].due, 1);
    if (records[i].execution->startsAt) {
      ahead[fires[i].due].push_back(std::move(*requests[i]));
      continue;
    }
    noteFiresQueued(fires[i].due, 1);
    try {
      engine_->submitRecorded(std::move(*requests[i]));
    } catch (const std::exception& error) {
      // Recorded, so not to be fired again: it stays queued in the store and
      // runs after the next start.
      logger().error("instance '%s': its scheduled execution is recorded but could not be queued: %s",
                     fires[i].instanceId, std::string(error.what()));
    }
  }
  for (auto& [due, group] : ahead)
    engine_->submitRecordedAt(std::move(group), due, [this, due = due](std::size_t n) { noteFiresQueued(due, n); });
  return outcomes;
}

void Runtime::noteFiresQueued(TimePoint due, std::size_t count) {
  std::optional<FireLatenessSummary> summary = fireLateness_.queued(due, nowMs(), count);
  if (!summary) return;
  // One line per due time with many fires, or with late ones: a late
  // scheduler is worth knowing about; one quiet fire a second is not.
  const bool late = summary->max >= kLateFire;
  if (!late && summary->fires < kManyFires) return;
  std::string line = Poco::format("schedule: %z fire(s) due at %s queued%s: lateness p50 %ld ms, p99 %ld ms, max %ld ms",
                                  summary->fires, formatIsoMs(summary->due), std::string(late ? " late" : ""),
                                  static_cast<long>(summary->p50.count()), static_cast<long>(summary->p99.count()),
                                  static_cast<long>(summary->max.count()));
  if (late) logger().warning(line); else logger().information(line);
}

std::string Runtime::startExecution(const IntegrationPtr& integration, const InstanceRecord& instance,
                                    const std::string& trigger,
                                    const std::function<plexus::Json(const std::string&)>& makeResults) {
  std::string id = Engine::newExecutionId();
  engine_->submit(ExecutionRequest{id, integration, instance, trigger, makeResults(id)});
  return id;
}

namespace {
constexpr std::size_t kRecentResults = 4096;          // entries
constexpr std::size_t kRecentResultMaxBytes = 64 * 1024;  // per entry, as served
}  // namespace

void Runtime::rememberFinalResult(const std::string& executionId, const StoredResult& result) {
  if (!result.isStatus && servedSize(result.data) > kRecentResultMaxBytes) return;
  std::lock_guard<std::mutex> lock(recentMutex_);
  if (!recentResults_.emplace(executionId, result).second) return;
  recentOrder_.push_back(executionId);
  if (recentOrder_.size() > kRecentResults) {
    recentResults_.erase(recentOrder_.front());
    recentOrder_.pop_front();
  }
}

std::optional<StoredResult> Runtime::recentFinalResult(const std::string& executionId) const {
  std::lock_guard<std::mutex> lock(recentMutex_);
  auto it = recentResults_.find(executionId);
  if (it == recentResults_.end()) return std::nullopt;
  return it->second;
}

std::string Runtime::webhookUrl(const InstanceRecord& instance) const {
  return instance.webhookToken.empty() ? "" : publicUrl_ + "/trigger/" + instance.webhookToken;
}

plexus::Json Runtime::describeInstance(const InstanceRecord& instance) const {
  plexus::Json out = {{"id", instance.id},
                      {"name", instance.name},
                      {"integration", instance.integrationKey},
                      {"enabled", instance.enabled}};
  IntegrationPtr integration = integrations_.find(instance.integrationKey);
  if (!instance.webhookToken.empty()) out["webhookUrl"] = webhookUrl(instance);
  if (integration) {
    out["configVars"] = maskSecrets(*integration, effectiveConfigVars(*integration, instance));
    if (integration->trigger.kind == TriggerKind::Schedule) {
      plexus::Json value = integration->trigger.schedule;
      if (value.is_object() && value.contains("configVar"))
        value = out["configVars"].value(value["configVar"].get<std::string>(), plexus::Json());
      try {
        if (!value.is_null()) out["schedule"] = parseSchedule(value).toJson();
      } catch (const ScheduleError&) {
        out["schedule"] = value;  // Shown as given; the error was logged when it was scheduled.
      }
      if (auto next = scheduler_->nextRunAt(instance.id)) out["nextRunAt"] = formatIsoSeconds(*next);
    }
  } else {
    out["error"] = "integration '" + instance.integrationKey + "' is not deployed";
  }
  return out;
}

void Runtime::validateConfigVars(const IntegrationSpec& integration, const plexus::Json& values) const {
  if (!values.is_object()) throw RequestError(400, "configVars must be an object");
  for (const auto& [key, value] : values.items()) {
    const ConfigVarSpec* spec = integration.configVar(key);
    if (!spec)
      throw RequestError(400, "integration '" + integration.key + "' has no config variable '" + key + "'");
    if (spec->type == plexus::InputType::Secret && value == "********")
      throw RequestError(400, "config variable '" + key + "' is a secret: send its real value, not the "
                              "mask GET shows (leave it out to keep the current one)");
    if (!value.is_null() && !plexus::valueFitsType(value, spec->type))
      throw RequestError(400, "config variable '" + key + "' must be " + plexus::toString(spec->type) +
                                  ", got " + plexus::describeType(value));
    if (spec->type == plexus::InputType::Schedule && !value.is_null()) {
      try {
        parseSchedule(value);
      } catch (const ScheduleError& error) {
        throw RequestError(400, "config variable '" + key + "': " + error.what());
      }
    }
  }
}

InstanceRecord Runtime::createInstance(const plexus::Json& body) {
  if (!body.is_object()) throw RequestError(400, "the request body must be a JSON object");
  for (const char* field : {"integration", "name"})
    if (body.contains(field) && !body[field].is_string())
      throw RequestError(400, std::string("\"") + field + "\" must be a string");
  if (body.contains("enabled") && !body["enabled"].is_boolean())
    throw RequestError(400, "\"enabled\" must be true or false");
  std::string key = body.value("integration", "");
  std::string name = body.value("name", "");
  IntegrationPtr integration = integrations_.find(key);
  if (!integration) throw RequestError(400, "no deployed integration '" + key + "' (see GET /api/integrations)");
  if (name.empty()) throw RequestError(400, "\"name\" is required: a name for the new instance");
  plexus::Json configVars = body.value("configVars", plexus::Json::object());
  validateConfigVars(*integration, configVars);

  std::lock_guard<std::mutex> lock(instancesMutex_);
  if (store_->instanceByName(key, name))
    throw RequestError(409, "integration '" + key + "' already has an instance named '" + name + "'");
  InstanceRecord record;
  record.id = randomId(16);
  record.integrationKey = key;
  record.name = name;
  record.enabled = body.value("enabled", true);
  record.configVars = configVars;
  record.createdAt = nowMs();
  if (integration->trigger.kind == TriggerKind::Webhook) record.webhookToken = randomId(24);
  store_->saveInstance(record);
  rememberInstance(record);
  scheduleInstance(*integration, record);
  return record;
}

InstanceRecord Runtime::updateInstance(const std::string& id, const plexus::Json& body) {
  if (!body.is_object()) throw RequestError(400, "the request body must be a JSON object");
  std::lock_guard<std::mutex> lock(instancesMutex_);
  auto record = store_->instance(id);
  if (!record) throw RequestError(404, "no instance '" + id + "'");
  IntegrationPtr integration = integrations_.find(record->integrationKey);
  for (const auto& [key, value] : body.items()) {
    if (key == "enabled") {
      if (!value.is_boolean()) throw RequestError(400, "\"enabled\" must be true or false");
      record->enabled = value.get<bool>();
    } else if (key == "configVars") {
      if (!integration) throw RequestError(409, "integration '" + record->integrationKey + "' is not deployed");
      validateConfigVars(*integration, value);
      for (const auto& [name, setting] : value.items()) {
        if (setting.is_null()) record->configVars.erase(name);  // Back to the file's value or default.
        else record->configVars[name] = setting;
      }
    } else if (key == "name") {
      throw RequestError(400, "an instance cannot be renamed; create a new one");
    } else {
      throw RequestError(400, "unknown field \"" + key + "\" (expected \"enabled\" or \"configVars\")");
    }
  }
  store_->saveInstance(*record);
  rememberInstance(*record);
  if (integration) scheduleInstance(*integration, *record);
  return *record;
}

void Runtime::deleteInstance(const std::string& id) {
  std::lock_guard<std::mutex> lock(instancesMutex_);
  if (!store_->deleteInstance(id)) throw RequestError(404, "no instance '" + id + "'");
  forgetInstance(id);
  scheduler_->remove(id);
}

}  // namespace plexus::core
