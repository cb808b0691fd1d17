#include "engine/step_invoker.hpp"

#include "engine/crash_handler.hpp"

namespace plexus::core {

namespace {
// Names the component by its key, never by its library's path: this message
// reaches webhook callers (a synchronous run's 500 body), and the server's
// file layout is none of their business. `plexus components list` maps keys
// to files.
std::string origin(const LoadedComponent& component, const plexus::ActionSpec& action,
                   const std::string& stepName) {
  return "step '" + stepName + "': action '" + component.spec.key + "." + action.key + "'";
}

/// Runs `call` (the component's code) with the step named for the
/// fatal-signal handler, turning whatever it throws into a StepError.
template <typename Call>
plexus::Result atBoundary(const LoadedComponent& component, const plexus::ActionSpec& action,
                          plexus::Context& context, const std::string& stepName, Call call) {
  CurrentStep running(context.executionId(), stepName, component.spec.key, action.key);
  try {
    return call();
  } catch (const std::exception& error) {
    throw StepError(origin(component, action, stepName) + " failed: " + error.what());
  } catch (...) {
    // A plugin may throw anything; there is no cause to show beyond that.
    throw StepError(origin(component, action, stepName) +
                    " threw something that is not a std::exception");
  }
}
}  // namespace

plexus::Result invokeAction(const LoadedComponent& component, const plexus::ActionSpec& action,
                            const plexus::Inputs& inputs, plexus::Context& context,
                            const std::string& stepName) {
  return atBoundary(component, action, context, stepName, [&] { return action.perform(inputs, context); });
}

plexus::Result invokeContinuation(const LoadedComponent& component, const plexus::ActionSpec& action,
                                  const plexus::HttpContinuation& then, plexus::HttpResponse response,
                                  plexus::Context& context, const std::string& stepName) {
  return atBoundary(component, action, context, stepName,
                    [&] { return then(std::move(response), context); });
}

}  // namespace plexus::core
