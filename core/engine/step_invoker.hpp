// The plugin boundary: calls one action of a loaded component.
#pragma once

#include <stdexcept>
#include <string>

#include <plexus/component.hpp>

#include "loader/component_catalog.hpp"

namespace plexus::core {

/// A step failed; what() is the message shown to users.
class StepError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Calls `action.perform`, catching everything it throws and rethrowing it
/// as a StepError that names the step, the action and the library file.
/// The caller keeps `component` alive for the call and for the result.
plexus::Result invokeAction(const LoadedComponent& component, const plexus::ActionSpec& action,
                            const plexus::Inputs& inputs, plexus::Context& context,
                            const std::string& stepName);

/// Calls an action's HTTP continuation (Result::afterHttp) with `response`,
/// at the same boundary and with the same messages as invokeAction.
plexus::Result invokeContinuation(const LoadedComponent& component, const plexus::ActionSpec& action,
                                  const plexus::HttpContinuation& then, plexus::HttpResponse response,
                                  plexus::Context& context, const std::string& stepName);

}  // namespace plexus::core
