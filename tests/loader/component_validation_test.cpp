// findSpecProblem: the checks both the loader and StaticCatalog apply.
#include <catch2/catch.hpp>

#include "loader/component_validation.hpp"

using plexus::ActionSpec;
using plexus::ComponentSpec;
using plexus::InputSpec;
using plexus::InputType;
using plexus::Json;
using plexus::core::findSpecProblem;

namespace {

plexus::Result nothing(const plexus::Inputs&, plexus::Context&) { return plexus::Result::null(); }

ActionSpec action(std::string key, std::vector<InputSpec> inputs = {}) {
  return {std::move(key), "Label", "Description", std::move(inputs), &nothing};
}

InputSpec input(std::string key, InputType type = InputType::String,
                std::optional<Json> defaultValue = std::nullopt) {
  return {std::move(key), type, false, std::move(defaultValue), "Label", "Description"};
}

ComponentSpec component(std::string key, std::vector<ActionSpec> actions) {
  return {std::move(key), "1.0.0", "Description", std::move(actions)};
}

}  // namespace

TEST_CASE("a well-formed component has no problem", "[loader][validation]") {
  CHECK_FALSE(findSpecProblem(component(
      "stop-execution", {action("stop", {input("statusCode", InputType::Number, Json(200)),
                                         input("body", InputType::Json)}),
                         action("from_Base64")})));
  CHECK_FALSE(findSpecProblem(component("no-actions", {})));
}

TEST_CASE("a malformed component is described in one line naming what is wrong",
          "[loader][validation]") {
  ActionSpec withoutPerform = action("run");
  withoutPerform.perform = nullptr;

  auto [spec, expected] = GENERATE_COPY(table<ComponentSpec, std::string>({
      {component("", {action("a")}), "a component has an empty key"},
      {component("json.select", {action("a")}),
       "component key \"json.select\" may contain only letters, digits, '-' and '_'"},
      {component("c", {action("")}), "component \"c\": an action has an empty key"},
      {component("c", {action("do it")}),
       "component \"c\": action key \"do it\" may contain only letters, digits, '-' and '_'"},
      {component("c", {withoutPerform}), "component \"c\": action \"run\" has no perform function"},
      {component("c", {action("a"), action("a")}), "component \"c\": action \"a\" is declared twice"},
      {component("c", {action("a", {input("")})}),
       "component \"c\": action \"a\": an input has an empty key"},
      {component("c", {action("a", {input("x"), input("x")})}),
       "component \"c\": action \"a\": input \"x\" is declared twice"},
      {component("c", {action("a", {input("n", InputType::Number, Json("ten"))})}),
       "component \"c\": action \"a\": input \"n\" has a default that is a string, not number"},
  }));
  CAPTURE(expected);
  auto problem = findSpecProblem(spec);
  REQUIRE(problem);
  CHECK(*problem == expected);
}
