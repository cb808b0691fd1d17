// The schedule trigger kind: keeps the scheduler in step with instances
// (each enabled instance's schedule, from the file or a config variable).
// What a fire becomes is schedule_bridge.hpp's.
#pragma once

#include "trigger/schedule/scheduler.hpp"
#include "trigger/trigger_kind.hpp"

namespace plexus::core {

class ScheduleKind final : public TriggerKindHandler {
 public:
  explicit ScheduleKind(Scheduler& scheduler) : scheduler_(scheduler) {}
  TriggerKind kind() const override { return TriggerKind::Schedule; }
  /// Schedules the instance (or stops: disabled, no schedule, an invalid
  /// one, which is logged naming the instance).
  void instanceChanged(const IntegrationSpec& integration, const InstanceRecord& instance) override;
  void instanceRemoved(const std::string& instanceId) override { scheduler_.remove(instanceId); }
  void describe(const IntegrationSpec& integration, const InstanceRecord& instance,
                const plexus::Json& shownConfigVars, plexus::Json& out) const override;

 private:
  Scheduler& scheduler_;
};

}  // namespace plexus::core
