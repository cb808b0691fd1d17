#include "engine/step_invoker.hpp"

#include "engine/crash_handler.hpp"

namespace plexus::core {

namespace {
std::string origin(const LoadedComponent& component, const plexus::ActionSpec& action,
                   const std::string& stepName) {
  std::string text = "step '" + stepName + "': action '" + component.spec.key + "." + action.key + "'";
  if (!component.file.empty()) text += " from " + component.file;
  return text;
}
}  // namespace

plexus::Result invokeAction(const LoadedComponent& component, const plexus::ActionSpec& action,
                            const plexus::Inputs& inputs, plexus::Context& context,
                            const std::string& stepName) {
  // Named for the fatal-signal handler while the component's code runs.
  CurrentStep running(context.executionId(), stepName, component.spec.key, action.key);
  try {
    return action.perform(inputs, context);
  } catch (const std::exception& error) {
    throw StepError(origin(component, action, stepName) + " failed: " + error.what());
  } catch (...) {
    // A plugin may throw anything; there is no cause to show beyond that.
    throw StepError(origin(component, action, stepName) +
                    " threw something that is not a std::exception");
  }
}

}  // namespace plexus::core
