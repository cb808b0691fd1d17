// A component catalog for the integration tests: the built-in components'
// actions and input keys as CONTRACT §2 names them, with do-nothing
// perform functions, plus "types.all" with one input of every type.
#pragma once

#include <plexus/component.hpp>

#include "loader/static_catalog.hpp"

namespace plexus::core::test {

inline const ComponentCatalog& catalog() {
  using plexus::InputType;
  using plexus::Json;
  static const plexus::PerformFunction noop = [](const plexus::Inputs&, plexus::Context&) {
    return plexus::Result::null();
  };
  auto in = [](std::string key, InputType type, bool required = false,
               std::optional<Json> defaultValue = std::nullopt) {
    plexus::InputSpec spec;
    spec.key = std::move(key);
    spec.type = type;
    spec.required = required;
    spec.defaultValue = std::move(defaultValue);
    return spec;
  };
  auto action = [](std::string key, std::vector<plexus::InputSpec> inputs) {
    return plexus::ActionSpec{std::move(key), "", "", std::move(inputs), noop};
  };
  static const StaticCatalog kCatalog({
      {"stop-execution", "1.0.0", "", {action("stop", {in("statusCode", InputType::Number, true),
                                                       in("headers", InputType::Json),
                                                       in("body", InputType::Json)})}},
      {"json", "1.0.0", "", {action("value", {in("value", InputType::Json)}),
                             action("select", {in("value", InputType::Json, true),
                                               in("path", InputType::String, true)}),
                             action("parse", {in("text", InputType::String, true)}),
                             action("stringify", {in("value", InputType::Json)})}},
      {"log", "1.0.0", "", {action("write", {in("message", InputType::String, true),
                                             in("level", InputType::String, false, Json("info"))})}},
      {"delay", "1.0.0", "", {action("sleep", {in("ms", InputType::Number, true)})}},
      {"binary", "1.0.0", "", {action("info", {in("data", InputType::Binary, true)})}},
      {"types", "1.0.0", "", {action("all", {in("s", InputType::String),
                                             in("n", InputType::Number),
                                             in("b", InputType::Boolean),
                                             in("j", InputType::Json),
                                             in("bin", InputType::Binary),
                                             in("sch", InputType::Schedule),
                                             in("sec", InputType::Secret)})}},
  });
  return kCatalog;
}

}  // namespace plexus::core::test
