// The running Plexus: every service `plexus serve` wires together, owned in
// one place and handed to the HTTP handlers by reference.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "engine/integration_registry.hpp"
#include "loader/component_loader.hpp"
#include "trigger/schedule/fire_lateness.hpp"
#include "trigger/schedule/scheduler.hpp"
#include "server/settings.hpp"
#include "trigger/webhook/idempotency.hpp"
#include "util/clock.hpp"
#include "store/store.hpp"
#include "util/memory.hpp"

namespace plexus::core {

/// Thrown by instance management for requests that cannot be honoured;
/// `status` is the HTTP status to answer with.
class RequestError : public std::runtime_error {
 public:
  RequestError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

/// Owns the store, the loaded components, the deployed integrations, the
/// engine and the scheduler, and keeps instances and schedules in step.
///
/// Threads: the services are themselves thread-safe; instance changes are
/// serialised by `instancesMutex_` so the store and the scheduler agree.
class Runtime {
 public:
  /// Opens the store, loads plugins and integrations (refusals and YAML
  /// errors are logged and kept in loadErrors(), the rest serves), records
  /// the instances the files declare, queues executions left unfinished by
  /// a crash, and starts the engine and the scheduler.
  static std::unique_ptr<Runtime> start(const ServerSettings& settings);
  ~Runtime();

  /// Stops the scheduler, then the engine: running executions get `grace`
  /// (Engine::stop). Returns how many threads are still inside a step: the
  /// process must then exit without unloading the components.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

  /// After stop() left threads inside steps, before the process exits
  /// without destructors: closes the store, which records a clean stop.
  void closeStoreForExit() { store_.reset(); }

  /// Why the server should not be sent work now (GET /readyz answers 503
  /// with it): still loading or stopping, or the store cannot store (its
  /// database deleted, replaced or damaged, or the disk full). nullopt when
  /// ready. Cheap: no database access.
  std::optional<std::string> notReadyReason() const;

  /// Called once the HTTP port is bound, for webhook URLs.
  void setPublicUrl(std::string url) { publicUrl_ = std::move(url); }
  const std::string& publicUrl() const { return publicUrl_; }
  const ServerSettings& settings() const { return settings_; }
  /// Where large request bodies are spooled (unnamed files) while they arrive.
  std::string spoolDirectory() const { return settings_.dataDir + "/spool"; }

  Store& store() { return *store_; }
  const ComponentRegistry& components() const { return *components_; }
  const IntegrationRegistry& integrations() const { return integrations_; }
  Engine& engine() { return *engine_; }
  /// Webhook Idempotency-Key admission (CONTRACT §8).
  IdempotencyGuard& idempotency() { return *idempotency_; }
  /// Plugin refusals and YAML errors found at start, one line each.
  const std::vector<std::string>& loadErrors() const { return loadErrors_; }

  /// The instance whose webhook token this is, from memory (the webhook hot
  /// path does not touch the database). Kept in step with the store by the
  /// instance-management calls below.
  std::optional<InstanceRecord> instanceByToken(const std::string& token) const;
  /// The instance with this id, from memory, like instanceByToken.
  std::optional<InstanceRecord> instanceById(const std::string& id) const;

  /// Keeps a small final result of a synchronous execution in memory for
  /// the GET that follows its 303 (it is already durable in the store; this
  /// only saves re-reading it). Bounded; large results are not kept.
  void rememberFinalResult(const std::string& executionId, const StoredResult& result);
  /// A result kept by rememberFinalResult, if still there.
  std::optional<StoredResult> recentFinalResult(const std::string& executionId) const;

  /// `{public-url}/trigger/{token}`, or "" for schedule-triggered instances.
  std::string webhookUrl(const InstanceRecord& instance) const;
  /// The instance as GET /api/instances shows it (secrets masked).
  plexus::Json describeInstance(const InstanceRecord& instance) const;

  /// API instance management (CONTRACT §6). Throw RequestError.
  InstanceRecord createInstance(const plexus::Json& body);
  InstanceRecord updateInstance(const std::string& id, const plexus::Json& body);
  void deleteInstance(const std::string& id);

  /// Starts an execution of `instance` (webhook or schedule). The trigger
  /// results are built by `makeResults(executionId)`, so they can carry the id.
  std::string startExecution(const IntegrationPtr& integration, const InstanceRecord& instance,
                             const std::string& trigger,
                             const std::function<plexus::Json(const std::string&)>& makeResults);

 private:
  explicit Runtime(const ServerSettings& settings);
  /// Opens the store (the data folder's lock, its integrity) and logs how the last stop went.
  void openStore();
  /// Queues what the last process left unfinished; logs what was given up.
  void recover();
  void loadComponentsAndIntegrations();
  void syncDeclaredInstances();
  void scheduleInstance(const IntegrationSpec& integration, const InstanceRecord& instance);
  std::vector<FireOutcome> onSchedulesDue(const std::vector<DueTime>& fires);
  /// `count` recorded fires due at `due` were queued to run: their lateness counts (FireLateness).
  void noteFiresQueued(TimePoint due, std::size_t count);
  void validateConfigVars(const IntegrationSpec& integration, const plexus::Json& values) const;
  void rememberInstance(const InstanceRecord& instance);  // Requires instancesMutex_.
  void forgetInstance(const std::string& id);             // Requires instancesMutex_.

  ServerSettings settings_;
  std::atomic<bool> loaded_{false};  // set once everything started, cleared by stop()
  MemoryBudget parseBudget_{settings_.maxParseMemory};
  std::string publicUrl_;
  std::vector<std::string> loadErrors_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ComponentRegistry> components_;
  IntegrationRegistry integrations_;
  FireLateness fireLateness_;  // before engine_: the engine's timers report to it
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Scheduler> scheduler_;
  RealTimeSource clock_;
  std::unique_ptr<IdempotencyGuard> idempotency_;
  /// How long before its due time a fire is recorded (as a waiting execution).
  static constexpr std::chrono::milliseconds kFireAhead{1000};
  /// Fires due together that get a lateness line in the log, or fires that late.
  static constexpr std::size_t kManyFires = 100;
  static constexpr std::chrono::milliseconds kLateFire{1000};
  std::mutex instancesMutex_;  // Serialises instance changes (store + scheduler + cache).
  // Every instance by id, and webhook instances' ids by token, so neither a
  // webhook nor a schedule fire reads the database to find its instance.
  // Written under instancesMutex_ and tokensMutex_ (exclusive); read under
  // tokensMutex_ (shared).
  mutable std::shared_mutex tokensMutex_;
  std::unordered_map<std::string, InstanceRecord> byId_;
  std::unordered_map<std::string, std::string> idByToken_;
  // Recent synchronous results, oldest first in recentOrder_; guarded by recentMutex_.
  mutable std::mutex recentMutex_;
  std::unordered_map<std::string, StoredResult> recentResults_;
  std::deque<std::string> recentOrder_;
};

}  // namespace plexus::core
