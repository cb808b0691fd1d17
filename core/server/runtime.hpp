// The running Plexus: every service `plexus serve` wires together, owned in
// one place and handed to the HTTP handlers by reference.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "engine/integration_registry.hpp"
#include "instances/instance_service.hpp"
#include "loader/component_loader.hpp"
#include "server/recent_results.hpp"
#include "server/settings.hpp"
#include "store/store.hpp"
#include "trigger/schedule/scheduler.hpp"
#include "trigger/schedule_bridge.hpp"
#include "trigger/trigger_kind.hpp"
#include "trigger/webhook/idempotency.hpp"
#include "trigger/webhook_kind.hpp"
#include "util/clock.hpp"
#include "util/memory.hpp"

namespace plexus::core {

/// The composition root: opens the store, loads components and
/// integrations, registers the trigger kinds, and owns and wires the
/// services (engine, scheduler, instances, idempotency) the HTTP handlers
/// use. It holds no rules of its own.
///
/// Threads: the services are themselves thread-safe.
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
  void setPublicUrl(std::string url) { webhookKind_->setPublicUrl(std::move(url)); }
  const std::string& publicUrl() const { return webhookKind_->publicUrl(); }
  const ServerSettings& settings() const { return settings_; }
  /// Where large request bodies are spooled (unnamed files) while they arrive.
  std::string spoolDirectory() const { return settings_.dataDir + "/spool"; }

  Store& store() { return *store_; }
  const ComponentRegistry& components() const { return *components_; }
  const IntegrationRegistry& integrations() const { return integrations_; }
  Engine& engine() { return *engine_; }
  /// Bytes of parsed request bodies held at once (--max-parse-memory).
  MemoryBudget& parseBudget() { return parseBudget_; }
  /// Webhook Idempotency-Key admission (CONTRACT §8).
  IdempotencyGuard& idempotency() { return *idempotency_; }
  /// Plugin refusals and YAML errors found at start, one line each.
  const std::vector<std::string>& loadErrors() const { return loadErrors_; }

  /// Instances: lookups (from memory), description and API management.
  InstanceService& instances() { return *instances_; }
  const InstanceService& instances() const { return *instances_; }

  /// Final results of recent synchronous executions, for the GET after their 303.
  RecentResults& recentResults() { return recentResults_; }

  /// `{public-url}/trigger/{token}`, or "" for schedule-triggered instances.
  std::string webhookUrl(const InstanceRecord& instance) const { return webhookKind_->webhookUrl(instance); }

 private:
  explicit Runtime(const ServerSettings& settings);
  /// Opens the store (the data folder's lock, its integrity) and logs how the last stop went.
  void openStore();
  /// Queues what the last process left unfinished; logs what was given up.
  void recover();
  void loadComponentsAndIntegrations();
  /// The trigger kinds, the scheduler and the instance service, in the order they need each other.
  void wireTriggers();

  ServerSettings settings_;
  std::atomic<bool> loaded_{false};  // set once everything started, cleared by stop()
  MemoryBudget parseBudget_{settings_.maxParseMemory};
  std::vector<std::string> loadErrors_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ComponentRegistry> components_;
  IntegrationRegistry integrations_;
  // Before engine_: the engine's timers call into the bridge until the engine stops.
  std::unique_ptr<ScheduleBridge> scheduleBridge_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Scheduler> scheduler_;
  TriggerKinds kinds_;
  WebhookKind* webhookKind_ = nullptr;  // owned by kinds_
  std::unique_ptr<InstanceService> instances_;
  RealTimeSource clock_;
  std::unique_ptr<IdempotencyGuard> idempotency_;
  /// How long before its due time a fire is recorded (as a waiting execution).
  static constexpr std::chrono::milliseconds kFireAhead{1000};
  RecentResults recentResults_;
};

}  // namespace plexus::core
