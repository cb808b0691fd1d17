#include "trigger/schedule_kind.hpp"

#include <Poco/Logger.h>

#include "engine/config_values.hpp"
#include "trigger/schedule/schedule.hpp"

namespace plexus::core {

namespace {
Poco::Logger& logger() { return Poco::Logger::get("plexus.schedule"); }
}  // namespace

void ScheduleKind::instanceChanged(const IntegrationSpec& integration, const InstanceRecord& instance) {
  if (!instance.enabled) {
    scheduler_.remove(instance.id);
    return;
  }
  plexus::Json value = integration.trigger.schedule;
  if (value.is_object() && value.contains("configVar")) {
    value = effectiveConfigVars(integration, instance).value(value["configVar"].get<std::string>(), plexus::Json());
    if (value.is_null()) {
      logger().warning("instance '%s' of '%s' has no schedule in config variable '%s'; it will not fire",
                       instance.name, integration.key, integration.trigger.schedule["configVar"].get<std::string>());
      scheduler_.remove(instance.id);
      return;
    }
  }
  try {
    scheduler_.upsert(instance.id, Schedule::compile(parseSchedule(value)), integration.trigger.missedRuns);
  } catch (const ScheduleError& error) {
    logger().error("instance '%s' of '%s': invalid schedule: %s", instance.name, integration.key,
                   std::string(error.what()));
    scheduler_.remove(instance.id);
  }
}

void ScheduleKind::describe(const IntegrationSpec& integration, const InstanceRecord& instance,
                            const plexus::Json& shownConfigVars, plexus::Json& out) const {
  plexus::Json value = integration.trigger.schedule;
  if (value.is_object() && value.contains("configVar"))
    value = shownConfigVars.value(value["configVar"].get<std::string>(), plexus::Json());
  try {
    if (!value.is_null()) out["schedule"] = parseSchedule(value).toJson();
  } catch (const ScheduleError&) {
    out["schedule"] = value;  // Shown as given; the error was logged when it was scheduled.
  }
  if (auto next = scheduler_.nextRunAt(instance.id)) out["nextRunAt"] = formatIsoSeconds(*next);
}

}  // namespace plexus::core
