// Loading integration YAML: the CONTRACT §3 example, every kind of error
// with its exact message and position, and whole folders.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "integration/integration_loader.hpp"
#include "integration/template.hpp"
#include "loader/static_catalog.hpp"
#include "test_catalog.hpp"

using plexus::Json;
using namespace plexus::core;

namespace {

/// All errors, formatted, one per line.
std::string errorsOf(const std::string& yaml) {
  IntegrationLoadResult result = parseIntegration(yaml, "f.yaml", test::catalog());
  std::string out;
  for (const auto& error : result.errors) out += (out.empty() ? "" : "\n") + error.format();
  if (result.errors.empty() != result.integration.has_value())
    out += "\n(integration present with errors, or absent without)";
  return out;
}

IntegrationSpec load(const std::string& yaml) {
  IntegrationLoadResult result = parseIntegration(yaml, "f.yaml", test::catalog());
  for (const auto& error : result.errors) UNSCOPED_INFO(error.format());
  REQUIRE(result.integration);
  return *result.integration;
}

const std::string kContractExample = R"(name: Render Status            # required; key derived from it unless `key:` is set
description: Tell the render farm's customers when a render finishes
configVars:                    # per-instance settings
  - key: bucket
    type: string               # string | number | boolean | json | schedule | secret
    default: test-renders
  - key: syncSchedule
    type: schedule
trigger:                       # exactly one of:
  webhook: {}
  # schedule: { every: 5, unit: minutes }            # seconds|minutes|hours|days|weeks
  # schedule: { cron: "*/5 8-16 * * 1-5", timezone: America/Chicago }
  # schedule: { configVar: syncSchedule }            # per-instance schedule
execution:
  synchronous: false           # default: async
steps:
  - name: lookup
    component: json
    action: select
    inputs:
      value: "{{ trigger.results.body.data }}"
      path: renderId
  - name: reply
    component: stop-execution
    action: stop
    inputs:
      statusCode: 415
instances:                     # optional; otherwise one instance named "default"
  - name: acme
    configVars: { bucket: acme-renders, syncSchedule: "*/5 8-16 * * 1-5" }
)";

/// A valid head (lines 1-3) that broken documents below build on.
const std::string kHead = "name: Test\ntrigger:\n  webhook: {}\n";
/// A valid one-step list, to pair with broken heads.
const std::string kSteps =
    "steps:\n  - name: reply\n    component: stop-execution\n    action: stop\n    inputs:\n"
    "      statusCode: 200\n";

}  // namespace

TEST_CASE("The CONTRACT's example integration loads", "[loader]") {
  IntegrationSpec spec = load(kContractExample);
  CHECK(spec.name == "Render Status");
  CHECK(spec.key == "render-status");
  CHECK(spec.description == "Tell the render farm's customers when a render finishes");
  CHECK(spec.file == "f.yaml");
  REQUIRE(spec.configVars.size() == 2);
  CHECK(spec.configVars[0].key == "bucket");
  CHECK(spec.configVars[0].type == plexus::InputType::String);
  CHECK(spec.configVars[0].defaultValue == Json("test-renders"));
  CHECK(spec.configVars[1].type == plexus::InputType::Schedule);
  CHECK_FALSE(spec.configVars[1].defaultValue);
  CHECK(spec.trigger.kind == TriggerKind::Webhook);
  CHECK_FALSE(spec.synchronous);

  REQUIRE(spec.steps.size() == 2);
  const StepSpec& lookup = spec.steps[0];
  CHECK(lookup.name == "lookup");
  CHECK(lookup.component == "json");
  CHECK(lookup.action == "select");
  CHECK(lookup.inputs == Json{{"value", "{{ trigger.results.body.data }}"}, {"path", "renderId"}});
  CHECK(lookup.mark.line == 17);
  CHECK(lookup.mark.column == 5);
  CHECK(spec.steps[1].inputs["statusCode"] == 415);
  CHECK(spec.steps[1].inputs["statusCode"].is_number_integer());

  REQUIRE(lookup.compiledInputs);
  Json scope = {{"trigger", {{"results", {{"body", {{"data", {{"renderId", 7}}}}}}}}}};
  CHECK(lookup.compiledInputs->render(scope) == Json{{"value", {{"renderId", 7}}}, {"path", "renderId"}});

  REQUIRE(spec.instances.size() == 1);
  CHECK(spec.instances[0].name == "acme");
  CHECK(spec.instances[0].enabled);
  CHECK(spec.instances[0].configVars ==
        Json{{"bucket", "acme-renders"}, {"syncSchedule", "*/5 8-16 * * 1-5"}});
}

TEST_CASE("Without instances an integration gets one named default", "[loader]") {
  IntegrationSpec spec = load(kHead + kSteps);
  REQUIRE(spec.instances.size() == 1);
  CHECK(spec.instances[0].name == "default");
  CHECK(spec.instances[0].configVars == Json::object());
}

TEST_CASE("Input values keep their natural YAML types", "[loader]") {
  IntegrationSpec spec = load(kHead +
                              "steps:\n  - name: v\n    component: json\n    action: value\n"
                              "    inputs:\n      value:\n        int: 42\n        float: 2.5\n"
                              "        yes: true\n        nothing: ~\n        quoted: \"42\"\n"
                              "        text: hello\n        list: [1, '2']\n");
  CHECK(spec.steps[0].inputs["value"] == Json{{"int", 42},       {"float", 2.5},   {"yes", true},
                                              {"nothing", nullptr}, {"quoted", "42"}, {"text", "hello"},
                                              {"list", Json::array({1, "2"})}});
}

TEST_CASE("Keys, schedules and policies are read from the file", "[loader]") {
  SECTION("an explicit key is kept") {
    CHECK(load("key: my-key-2\n" + kHead + kSteps).key == "my-key-2");
  }
  SECTION("an interval schedule") {
    IntegrationSpec spec = load("name: S\ntrigger:\n  schedule: { every: 5, unit: minutes }\n" + kSteps);
    CHECK(spec.trigger.kind == TriggerKind::Schedule);
    CHECK(spec.trigger.schedule == Json{{"every", 5}, {"unit", "minutes"}});
    CHECK(spec.trigger.missedRuns == MissedRunPolicy::Last);
  }
  SECTION("a cron schedule with a timezone and a missed-runs policy") {
    IntegrationSpec spec = load(
        "name: S\ntrigger:\n  schedule:\n    cron: \"*/5 8-16 * * 1-5\"\n    timezone: America/Chicago\n"
        "    missedRuns: all\n" + kSteps);
    CHECK(spec.trigger.schedule == Json{{"cron", "*/5 8-16 * * 1-5"}, {"timezone", "America/Chicago"}});
    CHECK(spec.trigger.missedRuns == MissedRunPolicy::All);
  }
  SECTION("a bare cron string") {
    IntegrationSpec spec = load("name: S\ntrigger:\n  schedule: \"0 9 * * MON\"\n" + kSteps);
    CHECK(spec.trigger.schedule == Json{{"cron", "0 9 * * MON"}});
  }
  SECTION("a per-instance schedule from a config variable") {
    IntegrationSpec spec = load(
        "name: S\nconfigVars:\n  - key: every\n    type: schedule\n    default: {every: 1, unit: hours}\n"
        "trigger:\n  schedule: { configVar: every, missedRuns: none }\n" + kSteps +
        "instances:\n  - name: a\n  - name: b\n    enabled: false\n    configVars: {every: \"0 * * * *\"}\n");
    CHECK(spec.trigger.schedule == Json{{"configVar", "every"}});
    CHECK(spec.trigger.missedRuns == MissedRunPolicy::None);
    REQUIRE(spec.instances.size() == 2);
    CHECK(spec.instances[0].configVars == Json::object());
    CHECK_FALSE(spec.instances[1].enabled);
  }
  SECTION("a synchronous execution") {
    CHECK(load(kHead + "execution: {synchronous: true}\n" + kSteps).synchronous);
  }
  SECTION("timeouts at their bounds: 1 ms and 30 days") {
    IntegrationSpec spec = load(kHead + "execution: {timeoutMs: 2592000000}\n" +
                                "steps:\n  - name: a\n    component: json\n    action: value\n    timeoutMs: 1\n");
    CHECK(spec.timeoutMs == std::optional<long long>(2592000000LL));
    REQUIRE(spec.steps.size() == 1);
    CHECK(spec.steps[0].timeoutMs == std::optional<long long>(1));
    CHECK_FALSE(load(kHead + kSteps).timeoutMs);
  }
}

TEST_CASE("Broken documents are refused with the exact message and position", "[loader][errors]") {
  auto [yaml, expected] = GENERATE(table<std::string, std::string>({
      // The file itself.
      {"", "f.yaml:1:1: the file is empty; an integration needs at least name, trigger and steps"},
      {"- a\n", "f.yaml:1:1: an integration must be a map with name, trigger and steps, not a list"},
      {kHead + kSteps + "---\nname: Other\n",
       "f.yaml:11:1: a file holds one integration, but a second YAML document starts here (after "
       "'---'); move it to a file of its own"},
      // YAML syntax.
      {"name: Test\n\tsteps: x\n",
       "f.yaml:2:1: YAML syntax error: illegal tab when looking for indentation (indent with spaces; "
       "YAML does not allow tabs)"},
      {"name: Test\ntrigger: {webhook: {}\n",
       "f.yaml:3:1: YAML syntax error: end of map flow not found (a '{' is not closed by '}')"},
      {"name: Test\ntrigger:\n  webhook: {}\n extra: 1\n",
       "f.yaml:4:2: YAML syntax error: end of map not found (check the indentation: keys of one map "
       "must line up)"},
      // Top-level keys.
      {"name: Test\ntrigger:\n  webhook: {}\nstpes: []\n",
       "f.yaml:1:1: missing required key 'steps' in the integration\n"
       "f.yaml:4:1: unknown key 'stpes' in the integration (did you mean 'steps'?)"},
      {kHead + kSteps + "colour: red\n",
       "f.yaml:10:1: unknown key 'colour' in the integration; expected one of: name, key, description, "
       "configVars, trigger, execution, steps, instances"},
      {"trigger:\n  webhook: {}\n" + kSteps, "f.yaml:1:1: missing required key 'name' in the integration"},
      {kHead + "name: Again\n" + kSteps,
       "f.yaml:4:1: duplicate key 'name' in the integration (first at line 1)"},
      {"name: [a]\ntrigger:\n  webhook: {}\n" + kSteps, "f.yaml:1:7: 'name' must be text, not a list"},
      {"name: \"!!!\"\ntrigger:\n  webhook: {}\n" + kSteps,
       "f.yaml:1:7: cannot derive a key from this name (it has no letters or digits); add `key:` "
       "with lowercase letters, digits and dashes"},
      {"key: Render_Status\n" + kHead + kSteps,
       "f.yaml:1:6: key 'Render_Status' may only hold lowercase letters, digits and dashes, and must "
       "not start with a dash"},
      // Trigger.
      {"name: Test\ntrigger:\n  webhook: {}\n  schedule: {every: 5, unit: minutes}\n" + kSteps,
       "f.yaml:4:3: the trigger has both 'webhook' and 'schedule'; an integration has exactly one "
       "trigger"},
      {"name: Test\ntrigger: {}\n" + kSteps,
       "f.yaml:2:10: the trigger needs `webhook: {}` or `schedule: {...}`"},
      {"name: Test\ntrigger:\n  webhok: {}\n" + kSteps,
       "f.yaml:3:3: unknown key 'webhok' in the trigger (did you mean 'webhook'?)"},
      {"name: Test\ntrigger:\n  webhook: {secret: x}\n" + kSteps,
       "f.yaml:3:13: unknown key 'secret' in the webhook trigger; expected one of: component, trigger, inputs, idempotencyKey, response"},
      {"name: Test\ntrigger: webhook\n" + kSteps,
       "f.yaml:2:10: 'trigger' must be a map with `webhook: {}` or `schedule: {...}`, not a single value"},
      {"name: Test\ntrigger:\n  schedule: {every: 5, unit: fortnights}\n" + kSteps,
       "f.yaml:3:13: invalid schedule: schedule unit 'fortnights' is not one of seconds, minutes, "
       "hours, days or weeks"},
      {"name: Test\ntrigger:\n  schedule: {cron: \"61 * * * *\"}\n" + kSteps,
       "f.yaml:3:13: invalid schedule: cron field 1 (minute) '61': value out of range 0-59"},
      {"name: Test\ntrigger:\n  schedule: {evry: 5, unit: minutes}\n" + kSteps,
       "f.yaml:3:14: unknown key 'evry' in the schedule (did you mean 'every'?)"},
      {"name: Test\ntrigger:\n  schedule: {configVar: missing}\n" + kSteps,
       "f.yaml:3:25: no config variable 'missing'; declare it under configVars with type: schedule"},
      {"name: Test\nconfigVars:\n  - key: when\ntrigger:\n  schedule: {configVar: when}\n" + kSteps,
       "f.yaml:5:25: config variable 'when' has type string; a schedule trigger needs one of type "
       "schedule"},
      {"name: Test\nconfigVars:\n  - {key: when, type: schedule, default: \"@daily\"}\ntrigger:\n"
       "  schedule: {configVar: when, every: 5}\n" + kSteps,
       "f.yaml:5:13: a schedule takes either configVar or its own every/unit or cron/timezone, not both"},
      {"name: Test\ntrigger:\n  schedule: {every: 5, unit: minutes, missedRuns: lst}\n" + kSteps,
       "f.yaml:3:51: missedRuns must be none, last or all (did you mean 'last'?)"},
      // Execution.
      {kHead + "execution:\n  synchronous: yes\n" + kSteps,
       "f.yaml:5:16: 'synchronous' must be true or false, not a string"},
      {kHead + "execution:\n  synchronous: \"true\"\n" + kSteps,
       "f.yaml:5:16: 'synchronous' must be true or false, not a string (remove the quotes)"},
      {kHead + "execution:\n  timeoutMs: 0\n" + kSteps,
       "f.yaml:5:14: 'timeoutMs' must be a whole number of milliseconds from 1 to 2592000000 (30 days), not 0"},
      {kHead + "execution:\n  timeoutMs: 2592000001\n" + kSteps,
       "f.yaml:5:14: 'timeoutMs' must be a whole number of milliseconds from 1 to 2592000000 (30 days), not "
       "2592000001"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: value\n    timeoutMs: 10s\n",
       "f.yaml:8:16: 'timeoutMs' must be a whole number of milliseconds from 1 to 2592000000 (30 days), not "
       "a string"},
      {kHead + "execution:\n  sync: true\n" + kSteps,
       "f.yaml:5:3: unknown key 'sync' in execution (did you mean 'synchronous'?)"},
      // Steps.
      {kHead + "steps: []\n", "f.yaml:4:8: 'steps' is empty; an integration needs at least one step"},
      {kHead + "steps:\n  reply: {}\n",
       "f.yaml:5:3: 'steps' must be a list of steps (- name: ..., component: ..., action: ...), not a map"},
      {kHead + "steps:\n  - name: a\n    component: json\n",
       "f.yaml:5:5: missing required key 'action' in step 'a'"},
      {kHead + "steps:\n  - component: json\n    action: value\n",
       "f.yaml:5:5: missing required key 'name' in step 1"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: value\n  - name: a\n"
               "    component: json\n    action: value\n",
       "f.yaml:8:11: step name 'a' is used twice (first at line 5); step names must be unique across the integration, nested steps too"},
      {kHead + "steps:\n  - name: look up\n    component: json\n    action: value\n",
       "f.yaml:5:11: step name 'look up' may only hold letters, digits, '_' and '-', starting with a "
       "letter or '_' (later steps refer to it as steps.NAME.results)"},
      {kHead + "steps:\n  - name: a\n    component: jsn\n    action: value\n",
       "f.yaml:6:16: unknown component 'jsn' (did you mean 'json'?)"},
      {kHead + "steps:\n  - name: a\n    component: slack\n    action: post\n",
       "f.yaml:6:16: unknown component 'slack'; components: binary, delay, json, log, stop-execution, "
       "types"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: selct\n",
       "f.yaml:7:13: component 'json' has no action 'selct' (did you mean 'select'?)"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: select\n    inputs:\n"
               "      value: {}\n      pth: x\n",
       "f.yaml:8:5: step 'a' is missing required input 'path' of json.select\n"
       "f.yaml:10:7: unknown key 'pth' in the inputs of json.select (did you mean 'path'?)"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: select\n",
       "f.yaml:7:5: step 'a' is missing required input 'value' of json.select\n"
       "f.yaml:7:5: step 'a' is missing required input 'path' of json.select"},
      {kHead + "steps:\n  - name: a\n    component: stop-execution\n    action: stop\n    inputs:\n"
               "      statusCode: \"415\"\n",
       "f.yaml:9:19: input 'statusCode' of stop-execution.stop must be a number, not a string (remove "
       "the quotes)"},
      {kHead + "steps:\n  - name: a\n    component: stop-execution\n    action: stop\n    inputs:\n"
               "      statusCode: \"4{{ trigger.results.x }}\"\n",
       "f.yaml:9:19: input 'statusCode' of stop-execution.stop must be a number, but text around a {{ "
       "}} reference always makes a string; use the reference alone (\"{{ path }}\")"},
      {kHead + "steps:\n  - name: a\n    component: delay\n    action: sleep\n    inputs:\n"
               "      ms: [1]\n",
       "f.yaml:9:11: input 'ms' of delay.sleep must be a number, not a list"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: value\n    inputs: [1]\n",
       "f.yaml:8:13: 'inputs' must be a map of input names to values, not a list"},
      // References.
      {kHead + "steps:\n  - name: a\n    component: json\n    action: value\n    inputs:\n"
               "      value: \"{{ steps.b.results }}\"\n"
               "  - name: b\n    component: json\n    action: value\n",
       "f.yaml:9:18: input 'value': reference 'steps.b.results': step 'b' does not run before this one; a step "
       "can only use the results of the steps before it (in a branch or a loop, also those before the branch or "
       "loop)"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: value\n    inputs:\n"
               "      value: \"x {{ steps.a.results }}\"\n",
       "f.yaml:9:20: input 'value': reference 'steps.a.results': a step cannot use its own results"},
      {kHead + "steps:\n  - name: lookup\n    component: json\n    action: value\n"
               "  - name: b\n    component: log\n    action: write\n    inputs:\n"
               "      message: \"id={{ steps.lokup.results.id }}\"\n",
       "f.yaml:12:23: input 'message': reference 'steps.lokup.results.id': no step named 'lokup' (did "
       "you mean 'lookup'?)"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: value\n    inputs:\n"
               "      value:\n        deep: ['{{ configVars.bucket }}']\n",
       "f.yaml:10:20: input 'value.deep[0]': reference 'configVars.bucket': no config variable "
       "'bucket'; declare it under configVars"},
      {"name: Test\nconfigVars:\n  - key: bucket\n    default: b\ntrigger:\n  webhook: {}\n"
       "steps:\n  - name: a\n    component: json\n    action: value\n    inputs:\n"
       "      value: '{{ configVars.buckt }}'\n",
       "f.yaml:12:18: input 'value': reference 'configVars.buckt': no config variable 'buckt' (did you "
       "mean 'bucket'?)"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: value\n    inputs:\n"
               "      value: \"Render {{ trigger.results.id\"\n",
       "f.yaml:9:22: input 'value': '{{' is not closed; add '}}' after the expression"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: value\n    inputs:\n"
               "      value: \"{{ trigger.results.id }} {{ }}\"\n",
       "f.yaml:9:40: input 'value': empty reference '{{ }}'; write a path such as {{ trigger.results.body }}"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: value\n    inputs:\n"
               "      value: {{ trigger.results.id }}\n",
       "f.yaml:9:15: a key must be a single value, not a map; to write a {{ }} reference, put it in quotes: \"{{ path }}\""},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: value\n    inputs:\n"
               "      value: \"{{ body.data }}\"\n",
       "f.yaml:9:18: input 'value': unknown reference root 'body'; paths start with "
       "trigger.results, steps.NAME.results, configVars.KEY, instance, integration, execution or loop (inside a loop)"},
      {kHead + "steps:\n  - name: a\n    component: json\n    action: value\n    inputs:\n"
               "      value: |\n        {{ unclosed\n",
       "f.yaml:9:14: input 'value': '{{' is not closed; add '}}' after the expression"},
      // Config variables.
      {"name: Test\nconfigVars:\n  - key: n\n    type: nmber\n" + kHead.substr(11) + kSteps,
       "f.yaml:4:11: unknown type 'nmber' for config variable 'n' (did you mean 'number'?); types are "
       "string, number, boolean, json, schedule, secret"},
      {"name: Test\nconfigVars:\n  - key: n\n    type: number\n    default: ten\n" + kHead.substr(11) + kSteps,
       "f.yaml:5:14: the default of config variable 'n' must be a number, not a string"},
      {"name: Test\nconfigVars:\n  - key: s\n    type: schedule\n    default: {every: 0, unit: hours}\n" +
           kHead.substr(11) + kSteps,
       "f.yaml:5:14: the default of config variable 's' is not a valid schedule: schedule 'every' must "
       "be a whole number of at least 1; got 0"},
      {"name: Test\nconfigVars:\n  - key: a\n  - key: a\n" + kHead.substr(11) + kSteps,
       "f.yaml:4:10: config variable 'a' is declared twice (first at line 3)"},
      {"name: Test\nconfigVars:\n  - key: my var\n" + kHead.substr(11) + kSteps,
       "f.yaml:3:10: config variable key 'my var' may only hold letters, digits, '_' and '-', starting "
       "with a letter or '_' (it is used in references: configVars.KEY)"},
      {"name: Test\nconfigVars:\n  - type: string\n" + kHead.substr(11) + kSteps,
       "f.yaml:3:5: missing required key 'key' in config variable 1"},
      {"name: Test\nconfigVars:\n  - key: b\n    type: binary\n" + kHead.substr(11) + kSteps,
       "f.yaml:4:11: unknown type 'binary' for config variable 'b'; types are string, number, boolean, "
       "json, schedule, secret"},
      {"name: Test\nconfigVars:\n  - key: apiKey\n    type: secret\n    required: true\n" +
           kHead.substr(11) + kSteps,
       "f.yaml:3:5: config variable 'apiKey' is required and has no default, and there is no instances "
       "list to set it; give it a default, or add instances that set it"},
      {"name: Test\nconfigVars:\n  - key: when\n    type: schedule\ntrigger:\n  schedule: {configVar: when}\n" +
           kSteps,
       "f.yaml:3:5: config variable 'when' has no default, and there is no instances list to set it, so "
       "the schedule trigger could never fire; give it a default, or add instances that set it"},
      // Instances.
      {kHead + kSteps + "instances: []\n",
       "f.yaml:10:12: 'instances' is empty; list at least one instance, or remove the key to get one "
       "instance named 'default'"},
      {kHead + kSteps + "instances:\n  - name: a\n  - name: a\n",
       "f.yaml:12:11: instance name 'a' is used twice"},
      {kHead + kSteps + "instances:\n  - configVars: {}\n",
       "f.yaml:11:5: missing required key 'name' in instance 1"},
      {"name: Test\nconfigVars:\n  - key: bucket\n" + kHead.substr(11) + kSteps +
           "instances:\n  - name: acme\n    configVars: {buckt: x}\n",
       "f.yaml:14:18: instance 'acme' sets config variable 'buckt', which is not declared (did you mean "
       "'bucket'?)"},
      {"name: Test\nconfigVars:\n  - key: port\n    type: number\n" + kHead.substr(11) + kSteps +
           "instances:\n  - name: acme\n    configVars: {port: \"80\"}\n",
       "f.yaml:15:24: config variable 'port' of instance 'acme' must be a number, not a string (remove "
       "the quotes)"},
      {"name: Test\nconfigVars:\n  - key: when\n    type: schedule\n" + kHead.substr(11) + kSteps +
           "instances:\n  - name: acme\n    configVars: {when: \"* * *\"}\n",
       "f.yaml:15:24: config variable 'when' of instance 'acme' is not a valid schedule: cron "
       "expression '* * *' has 3 fields; expected 5: minute hour day-of-month month day-of-week"},
      {"name: Test\nconfigVars:\n  - key: apiKey\n    type: secret\n    required: true\n" +
           kHead.substr(11) + kSteps + "instances:\n  - name: acme\n",
       "f.yaml:15:11: instance 'acme' does not set config variable 'apiKey', which is required and has "
       "no default"},
      {"name: Test\nconfigVars:\n  - key: when\n    type: schedule\ntrigger:\n  schedule: {configVar: when}\n" +
           kSteps + "instances:\n  - name: acme\n    enabled: nope\n",
       "f.yaml:14:11: instance 'acme' does not set config variable 'when', which the schedule trigger "
       "reads and which has no default\n"
       "f.yaml:15:14: 'enabled' must be true or false, not a string"},
  }));
  CAPTURE(yaml);
  CHECK(errorsOf(yaml) == expected);
}

TEST_CASE("Every error of a file is reported, in file order", "[loader][errors]") {
  std::string yaml =
      "name: Test\n"
      "colour: red\n"
      "trigger:\n"
      "  webhook: {}\n"
      "steps:\n"
      "  - name: a\n"
      "    component: jsn\n"
      "    action: value\n"
      "  - name: b\n"
      "    component: json\n"
      "    action: select\n"
      "    inputs:\n"
      "      value: \"{{ steps.c.results }}\"\n";
  CHECK(errorsOf(yaml) ==
        "f.yaml:2:1: unknown key 'colour' in the integration; expected one of: name, key, description, "
        "configVars, trigger, execution, steps, instances\n"
        "f.yaml:7:16: unknown component 'jsn' (did you mean 'json'?)\n"
        "f.yaml:12:5: step 'b' is missing required input 'path' of json.select\n"
        "f.yaml:13:18: input 'value': reference 'steps.c.results': no step named 'c' (did you mean 'a'?)");
}

TEST_CASE("Secret values never appear in error messages", "[loader][errors][secrets]") {
  std::string yaml =
      "name: Test\n"
      "configVars:\n"
      "  - key: token\n"
      "    type: secret\n"
      "    default: 987654321\n"
      "  - key: other\n"
      "    type: number\n"
      "trigger:\n  webhook: {}\n" + kSteps +
      "instances:\n"
      "  - name: acme\n"
      "    configVars: {token: [hunter2-secret], other: hunter3-secret}\n";
  std::string errors = errorsOf(yaml);
  CHECK(errors ==
        "f.yaml:5:14: the default of config variable 'token' must be a string (it is a secret), not a "
        "number\n"
        "f.yaml:18:25: config variable 'token' of instance 'acme' must be a string (it is a secret), "
        "not a list\n"
        "f.yaml:18:50: config variable 'other' of instance 'acme' must be a number, not a string");
  CHECK(errors.find("987654321") == std::string::npos);
  CHECK(errors.find("hunter") == std::string::npos);
}

TEST_CASE("Literal inputs are checked against every input type", "[loader][errors]") {
  std::string head = kHead + "steps:\n  - name: t\n    component: types\n    action: all\n    inputs:\n";
  SECTION("fitting values load") {
    IntegrationSpec spec = load(head +
                                "      s: text\n      n: 1.5\n      b: false\n      j: {any: [thing]}\n"
                                "      bin: some text\n      sch: {every: 1, unit: days}\n      sec: pw\n");
    CHECK(spec.steps[0].inputs["sch"] == Json{{"every", 1}, {"unit", "days"}});
  }
  SECTION("single references are accepted for any type; their type is known only at run time") {
    load(head + "      n: \"{{ trigger.results.n }}\"\n      b: \"{{ trigger.results.b }}\"\n"
                "      bin: \"{{ trigger.results.rawBody }}\"\n");
  }
  SECTION("values that do not fit are refused") {
    CHECK(errorsOf(head + "      s: 5\n      b: 1\n      sch: \"every day\"\n      sec: {a: 1}\n") ==
          "f.yaml:9:10: input 's' of types.all must be a string, not a number\n"
          "f.yaml:10:10: input 'b' of types.all must be true or false, not a number\n"
          "f.yaml:11:12: input 'sch' of types.all is not a valid schedule: cron expression 'every day' "
          "has 2 fields; expected 5: minute hour day-of-month month day-of-week\n"
          "f.yaml:12:12: input 'sec' of types.all must be a string (it is a secret), not a map");
  }
}

TEST_CASE("Integration keys are derived from names", "[loader]") {
  auto [name, key] = GENERATE(table<std::string, std::string>({
      {"Render Status", "render-status"},
      {"  Sync: Orders -> ERP (v2) ", "sync-orders-erp-v2"},
      {"already-a-key", "already-a-key"},
      {"Ünïcode Näme", "n-code-n-me"},
      {"!!!", ""},
  }));
  CHECK(deriveIntegrationKey(name) == key);
}

TEST_CASE("Errors format as FILE:LINE:COL: message", "[loader]") {
  CHECK(IntegrationError{{"a.yaml", 3, 7}, "boom"}.format() == "a.yaml:3:7: boom");
  CHECK(IntegrationError{{"a.yaml", 0, 0}, "cannot read"}.format() == "a.yaml: cannot read");
}

namespace {

/// A temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("plexus-integration-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name) << content;
    return (path_ / name).string();
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

std::vector<std::string> keysOf(const DirectoryLoadResult& result) {
  std::vector<std::string> keys;
  for (const auto& spec : result.integrations) keys.push_back(spec.key);
  return keys;
}

}  // namespace

TEST_CASE("A folder loads every *.yaml file; a broken one leaves the others loaded", "[loader][directory]") {
  TempDir dir;
  dir.write("b.yaml", "name: Beta\n" + kHead.substr(11) + kSteps);
  std::string broken = dir.write("c.yaml", "name: Gamma\ntrigger:\n  webhook: {}\nsteps: 3\n");
  dir.write("a.yaml", "name: Alpha\n" + kHead.substr(11) + kSteps);
  dir.write("notes.txt", "not yaml");
  dir.write("d.yml", "name: Other extension\n");
  dir.write(".hidden.yaml", "broken: [");

  DirectoryLoadResult result = loadIntegrationDirectory(dir.path(), test::catalog());
  CHECK(keysOf(result) == std::vector<std::string>{"alpha", "beta"});
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].format() ==
        broken + ":4:8: 'steps' must be a list of steps (- name: ..., component: ..., action: ...), not a "
                 "single value");
  CHECK(result.integrations[0].file == dir.path() + "/a.yaml");
}

TEST_CASE("A second file with an integration key already taken is refused", "[loader][directory]") {
  TempDir dir;
  dir.write("1.yaml", "name: Render Status\n" + kHead.substr(11) + kSteps);
  std::string second = dir.write("2.yaml", "name: Other\nkey: render-status\n" + kHead.substr(11) + kSteps);
  DirectoryLoadResult result = loadIntegrationDirectory(dir.path(), test::catalog());
  CHECK(keysOf(result) == std::vector<std::string>{"render-status"});
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].format() == second + ":2:6: integration key 'render-status' is already used by " +
                                         dir.path() + "/1.yaml; give this integration another `key:`");
}

TEST_CASE("Missing files and folders are one error naming them", "[loader][directory]") {
  TempDir dir;
  std::string missing = dir.path() + "/nope";
  IntegrationLoadResult file = loadIntegrationFile(missing + ".yaml", test::catalog());
  REQUIRE(file.errors.size() == 1);
  CHECK(file.errors[0].format() == missing + ".yaml: cannot read the file: No such file or directory");

  DirectoryLoadResult folder = loadIntegrationDirectory(missing, test::catalog());
  REQUIRE(folder.errors.size() == 1);
  CHECK(folder.errors[0].format() == missing + ": cannot read the integrations folder: No such file or directory");
}

TEST_CASE("Damaged documents give errors, never exceptions", "[loader][errors]") {
  // Every one-character deletion, every line deleted or doubled, and
  // characters swapped for YAML punctuation: whatever the damage, the loader
  // reports it as errors (or loads the file) and never throws.
  const std::string& text = kContractExample;
  std::vector<std::string> variants;
  for (std::size_t i = 0; i < text.size(); ++i) variants.push_back(text.substr(0, i) + text.substr(i + 1));
  std::vector<std::string> lines;
  for (std::size_t start = 0, end; start < text.size(); start = end + 1) {
    end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start + 1));
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string without, doubled;
    for (std::size_t j = 0; j < lines.size(); ++j) {
      if (j != i) without += lines[j];
      doubled += lines[j];
      if (j == i) doubled += lines[j];
    }
    variants.push_back(without);
    variants.push_back(doubled);
  }
  const std::string punctuation = "{}[]:-'\"|>&*!#,? \t\n";
  for (std::size_t i = 0; i < text.size(); i += 3)
    variants.push_back(text.substr(0, i) + punctuation[i % punctuation.size()] + text.substr(i + 1));

  for (const auto& variant : variants) {
    CAPTURE(variant);
    IntegrationLoadResult result;
    REQUIRE_NOTHROW(result = parseIntegration(variant, "f.yaml", test::catalog()));
    CHECK(result.errors.empty() == result.integration.has_value());
    for (const auto& error : result.errors) {
      CHECK(error.mark.line >= 1);
      CHECK(error.mark.column >= 1);
    }
  }
}

namespace {

/// kHead + `steps` (YAML from "steps:" on).
std::string flowErrors(const std::string& steps) { return errorsOf(kHead + steps); }

}  // namespace

TEST_CASE("Flow control keys load into the step tree", "[loader][flow]") {
  IntegrationSpec spec = load(kHead +
                              "steps:\n"
                              "  - name: fetch\n    component: json\n    action: value\n    timeoutMs: 5000\n"
                              "    retry: { maxAttempts: 4, delayMs: 250, backoff: exponential, maxDelayMs: 2000, "
                              "jitter: true }\n    onError: continue\n"
                              "  - name: route\n    branch:\n"
                              "      - when: \"{{ steps.fetch.error != null }}\"\n"
                              "        steps: [{ name: complain, component: json, action: value }]\n"
                              "      - else:\n          - { name: fine, component: json, action: value, inputs: "
                              "{ value: \"{{ steps.fetch.results }}\" } }\n"
                              "  - name: each\n    loop:\n      items: \"{{ steps.fetch.results.items }}\"\n"
                              "      concurrency: 4\n      steps:\n"
                              "        - { name: one, component: json, action: value, inputs: { value: \"{{ loop.item }}\" } }\n"
                              "        - { name: two, component: json, action: value, inputs: { value: \"{{ steps.one.results }}\" } }\n"
                              "  - name: after\n    component: json\n    action: value\n"
                              "    inputs: { value: \"{{ steps.each.results }} {{ steps.fine.results }}\" }\n");
  REQUIRE(spec.steps.size() == 4);
  const StepSpec& fetch = spec.steps[0];
  CHECK(fetch.retry.maxAttempts == 4);
  CHECK(fetch.retry.delayMs == 250);
  CHECK(fetch.retry.exponential);
  CHECK(fetch.retry.maxDelayMs == 2000);
  CHECK(fetch.retry.jitter);
  CHECK(fetch.onError == OnError::Continue);
  const StepSpec& route = spec.steps[1];
  CHECK(route.kind == StepSpec::Kind::Branch);
  REQUIRE(route.branches.size() == 2);
  CHECK(route.branches[0].when);
  CHECK_FALSE(route.branches[1].when);
  CHECK(route.branches[1].steps[0].compiledInputs);  // nested inputs are compiled too
  const StepSpec& each = spec.steps[2];
  CHECK(each.kind == StepSpec::Kind::Loop);
  CHECK(each.loop.concurrency == 4);
  CHECK(each.loop.steps.size() == 2);
  CHECK(spec.step("two") == &each.loop.steps[1]);
  CHECK(spec.enclosingLoop("two") == &each);
  CHECK(spec.enclosingLoop("fine") == nullptr);
}

TEST_CASE("Flow control mistakes are refused with where and how to fix them", "[loader][flow]") {
  const std::string action = "    component: json\n    action: value\n";
  auto [steps, expected] = GENERATE_REF(table<std::string, std::string>({
      {"steps:\n  - name: a\n" + action + "    retry: { maxAttempts: 0 }\n",
       "f.yaml:8:27: 'maxAttempts' must be a whole number from 1 to 100, not 0"},
      {"steps:\n  - name: a\n" + action + "    retry: { maxAtempts: 3 }\n",
       "f.yaml:8:14: unknown key 'maxAtempts' in retry (did you mean 'maxAttempts'?)"},
      {"steps:\n  - name: a\n" + action + "    retry: { backoff: linear }\n",
       "f.yaml:8:23: 'backoff' must be fixed or exponential, not 'linear'"},
      {"steps:\n  - name: a\n" + action + "    onError: ignore\n",
       "f.yaml:8:14: 'onError' must be fail or continue, not 'ignore'"},
      {"steps:\n  - name: a\n" + action + "    onEror: continue\n",
       "f.yaml:8:5: unknown key 'onEror' in step 'a' (did you mean 'onError'?)"},
      {"steps:\n  - name: b\n    branch:\n      - when: \"{{ 1 = 1 }}\"\n        steps: [{ name: c, component: json, "
       "action: value }]\n",
       "f.yaml:7:21: case 1 of branch 'b': 'when': '=' assigns nothing here; compare with '=='"},
      {"steps:\n  - name: b\n    branch:\n      - when: true\n        steps: [{ name: c, component: json, "
       "action: value }]\n",
       "f.yaml:7:15: case 1 of branch 'b': 'when' must be one expression in {{ }}, e.g. \"{{ "
       "steps.fetch.results.status >= 400 }}\", not a boolean"},
      {"steps:\n  - name: b\n    branch:\n      - else: [{ name: c, component: json, action: value }]\n"
       "      - when: \"{{ true }}\"\n        steps: [{ name: d, component: json, action: value }]\n",
       "f.yaml:7:9: case 1 of branch 'b': 'else' must be the last case of the branch"},
      {"steps:\n  - name: b\n    component: json\n    branch:\n      - else: [{ name: c, component: json, action: "
       "value }]\n",
       "f.yaml:6:5: step 'b' is a branch: it takes name, description and branch, not 'component' (put it on the "
       "steps inside)"},
      {"steps:\n  - name: l\n    loop:\n      items: \"{{ trigger.results.body }}\"\n      concurrency: 0\n"
       "      steps: [{ name: c, component: json, action: value }]\n",
       "f.yaml:8:20: 'concurrency' must be a whole number from 1 to 64, not 0"},
      {"steps:\n  - name: l\n    loop:\n      steps: [{ name: c, component: json, action: value }]\n",
       "f.yaml:7:7: missing required key 'items' in loop 'l'"},
      {"steps:\n  - name: a\n" + action + "    inputs: { value: \"{{ loop.item }}\" }\n",
       "f.yaml:8:26: input 'value': reference 'loop.item': loop.item and loop.index exist only in the steps of a loop"},
      {"steps:\n  - name: l\n    loop:\n      items: \"{{ trigger.results.body }}\"\n"
       "      steps: [{ name: c, component: json, action: value }]\n"
       "  - name: a\n" + action + "    inputs: { value: \"{{ steps.c.results }}\" }\n",
       "f.yaml:12:26: input 'value': reference 'steps.c.results': step 'c' runs once per iteration of loop 'l'; "
       "after the loop, use steps.l.results (each iteration's last result)"},
      {"steps:\n  - name: b\n    branch:\n      - when: \"{{ true }}\"\n        steps: [{ name: c, component: json, "
       "action: value }]\n      - else: [{ name: d, component: json, action: value, inputs: { value: \"{{ "
       "steps.c.results }}\" } }]\n",
       "f.yaml:9:80: input 'value': reference 'steps.c.results': step 'c' does not run before this one; a step "
       "can only use the results of the steps before it (in a branch or a loop, also those before the branch or "
       "loop)"},
      {"steps:\n  - name: l\n    loop:\n      items: \"{{ trigger.results.body }}\"\n      steps:\n"
       "        - name: m\n          loop: { items: \"{{ loop.item }}\", steps: [{ name: c, component: json, "
       "action: value }] }\n",
       "f.yaml:10:11: loop 'm' is inside loop 'l'; loops do not nest: give the inner loop an integration of its own "
       "and call its webhook from the outer loop"},
      {"steps:\n  - name: a\n" + action + "  - name: b\n    branch:\n      - else: [{ name: a, component: json, "
       "action: value }]\n",
       "f.yaml:10:24: step name 'a' is used twice (first at line 5); step names must be unique across the "
       "integration, nested steps too"},
  }));
  CAPTURE(steps);
  CHECK(flowErrors(steps) == expected);
}
