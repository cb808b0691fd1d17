#include "trigger/schedule_bridge.hpp"

#include <map>

#include <Poco/Format.h>
#include <Poco/Logger.h>

#include "trigger/trigger_results.hpp"
#include "util/time.hpp"

namespace plexus::core {

namespace {
Poco::Logger& logger() { return Poco::Logger::get("plexus.schedule"); }
}  // namespace

std::vector<FireOutcome> ScheduleBridge::onDue(const std::vector<DueTime>& fires) {
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
    auto instance = lookup_(fire.instanceId);
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
  std::vector<bool> recorded = store_.recordScheduledFires(records);
  std::vector<FireOutcome> outcomes;
  outcomes.reserve(fires.size());
  // Fires recorded ahead wait for their due time together, one group per
  // due time (a batch's fires are nearly always due at the same time).
  std::map<TimePoint, std::vector<ExecutionRequest>> ahead;
  for (std::size_t i = 0; i < fires.size(); ++i) {
    outcomes.push_back(recorded[i] ? FireOutcome::Fired : FireOutcome::FiredBefore);
    if (!recorded[i] || !requests[i]) continue;
    requests[i]->triggerResults = std::move(records[i].execution->triggerResults);
    lateness_.expect(fires[i].due, 1);
    if (records[i].execution->startsAt) {
      ahead[fires[i].due].push_back(std::move(*requests[i]));
      continue;
    }
    noteQueued(fires[i].due, 1);
    try {
      engine_.submitRecorded(std::move(*requests[i]));
    } catch (const std::exception& error) {
      // Recorded, so not to be fired again: it stays queued in the store and
      // runs after the next start.
      logger().error("instance '%s': its scheduled execution is recorded but could not be queued: %s",
                     fires[i].instanceId, std::string(error.what()));
    }
  }
  for (auto& [due, group] : ahead)
    engine_.submitRecordedAt(std::move(group), due, [this, due = due](std::size_t n) { noteQueued(due, n); });
  return outcomes;
}

void ScheduleBridge::noteQueued(TimePoint due, std::size_t count) {
  std::optional<FireLatenessSummary> summary = lateness_.queued(due, nowMs(), count);
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

}  // namespace plexus::core
