// What a schedule fire becomes: the scheduler hands over fires due together
// (a second before they are due), and each becomes an execution, recorded in
// one transaction with its fire and queued at its due time
// (docs/schedules.md). Also logs each due time's lateness.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "engine/integration_registry.hpp"
#include "store/store.hpp"
#include "trigger/schedule/fire_lateness.hpp"
#include "trigger/schedule/scheduler.hpp"

namespace plexus::core {

class ScheduleBridge {
 public:
  /// The instance with this id, from memory (InstanceService::byId).
  using InstanceLookup = std::function<std::optional<InstanceRecord>(const std::string& id)>;

  ScheduleBridge(Store& store, Engine& engine, const IntegrationRegistry& integrations, InstanceLookup lookup)
      : store_(store), engine_(engine), integrations_(integrations), lookup_(std::move(lookup)) {}

  /// The Scheduler's FireBatchHandler: records each fire with its execution
  /// (disabled or deleted instances' fires with none) and queues them at
  /// their due time. Throws StoreError when nothing could be recorded (the
  /// scheduler retries).
  std::vector<FireOutcome> onDue(const std::vector<DueTime>& fires);

  /// The lateness summary the engine's timers report to.
  FireLateness& lateness() { return lateness_; }

 private:
  /// `count` recorded fires due at `due` were queued to run: their lateness counts.
  void noteQueued(TimePoint due, std::size_t count);

  Store& store_;
  Engine& engine_;
  const IntegrationRegistry& integrations_;
  InstanceLookup lookup_;
  FireLateness lateness_;
  /// Fires due together that get a lateness line in the log, or fires that late.
  static constexpr std::size_t kManyFires = 100;
  static constexpr std::chrono::milliseconds kLateFire{1000};
};

}  // namespace plexus::core
