// The checks of one integration document, section by section. Internal to
// the integration loader: use parseIntegration (integration_loader.hpp).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "integration/model.hpp"
#include "integration/template.hpp"
#include "integration/yaml_diagnostics.hpp"
#include "loader/component_catalog.hpp"

namespace plexus::core {

/// Turns a YAML document's root into an IntegrationSpec, reporting every
/// problem to the Diagnostics. The spec is meaningful only when no error
/// was reported. One parser per document.
class IntegrationParser {
 public:
  IntegrationParser(Diagnostics& diagnostics, const ComponentCatalog& catalog)
      : diagnostics_(diagnostics), catalog_(catalog) {}

  IntegrationSpec parse(const YAML::Node& root);

 private:
  using Entries = std::map<std::string, YamlEntry>;

  void parseIdentity(const Entries& top);
  void parseConfigVars(const YamlEntry& entry);
  void parseConfigVar(const YAML::Node& node, std::size_t number);
  void parseTrigger(const YamlEntry& entry);
  void parseWebhookTrigger(const YamlEntry& entry);
  void parseComponentTrigger(const YamlEntry& entry, const Entries& fields);
  void parseWebhookResponse(const YamlEntry& entry);
  /// When a webhook option's template is rendered: a trigger's inputs
  /// before the request is read (configVars, instance, integration), the
  /// idempotency key once it is (trigger.results too), the response once the
  /// execution exists (execution too). Steps never.
  enum TemplateStage { kBeforeIntake, kKeying, kAfterIntake };
  /// Reports each template in `node` that does not parse or uses a root it
  /// may not; false if any was reported.
  bool checkTriggerTemplates(const YAML::Node& node, const std::string& subject, TemplateStage stage);
  void parseScheduleTrigger(const YamlEntry& entry);
  void parseScheduleConfigVar(const YamlEntry& entry);
  void parseExecution(const YamlEntry& entry);
  void parseConcurrency(const YamlEntry& entry);
  void parseSteps(const YamlEntry& entry);
  /// Records every step name under `list` (nested ones too) with the loop
  /// it runs in ("" for none), before any step is parsed.
  void collectStepNames(const YAML::Node& list, const std::string& loop);
  std::vector<StepSpec> parseStepList(const YAML::Node& list);
  StepSpec parseStep(const YAML::Node& node, std::size_t index);
  void parseRetry(StepSpec& step, const YamlEntry& entry);
  void parseBranch(StepSpec& step, const YamlEntry& entry);
  void parseLoop(StepSpec& step, const YamlEntry& entry);
  /// A `when:` or `items:`: one `{{ }}` expression, its paths checked as a
  /// step's inputs are; null (and reported) when it is not one.
  std::shared_ptr<const Template> parseCondition(const YamlEntry& entry, const std::string& what);
  void parseInputs(StepSpec& step, const YamlEntry& entry, const plexus::ActionSpec* action);
  void checkInputValue(const plexus::InputSpec& spec, const YamlEntry& entry, const plexus::Json& value,
                       const std::string& actionName);
  void checkTemplates(const YAML::Node& node, std::vector<PathSegment>& path);
  /// Reports a path the current step may not use (a step that has not run
  /// before it, a config variable not declared, loop.item outside a loop);
  /// false if reported. `subject` starts the message ("input 'url'").
  bool checkReference(const Reference& reference, const YAML::Node& scalar, const std::string& subject);
  void parseInstances(const YamlEntry* entry);
  void parseInstance(const YAML::Node& node, std::size_t number);
  void checkUnsetConfigVars(const InstanceSpec& instance, const SourceMark& at);
  void checkConfigVarsWithoutInstances();
  const plexus::ActionSpec* findAction(const Entries& fields);
  void parseInstanceConfigVars(InstanceSpec& instance, const YAML::Node& map);

  /// Reports `value` (for `subject`, e.g. "default of config variable 'x'")
  /// unless it fits `type`; schedules are parsed in full. False if reported.
  bool checkFits(const plexus::Json& value, plexus::InputType type, const SourceMark& at,
                 const std::string& subject);

  // Typed reads of one entry; each reports a wrong type and returns nullopt.
  std::optional<std::string> text(const YamlEntry& entry, const std::string& what);
  std::optional<bool> boolean(const YamlEntry& entry, const std::string& what);
  std::optional<long long> timeoutMs(const YamlEntry& entry, const std::string& what);
  std::optional<long long> integer(const YamlEntry& entry, const std::string& what, long long least, long long most);
  std::optional<plexus::Json> json(const YamlEntry& entry);
  /// Reports each of `keys` that `map` lacks.
  void requireKeys(const Entries& entries, const YAML::Node& map, const std::string& where,
                   const std::vector<std::string>& keys);

  Diagnostics& diagnostics_;
  const ComponentCatalog& catalog_;
  IntegrationSpec spec_;
  SourceMark keyMark_;
  std::map<std::string, SourceMark> configVarMarks_;   ///< Where each config variable is declared.
  std::map<std::string, std::string> loopOf_;          ///< Every step's name -> the loop it is in ("" for none).
  std::map<std::string, SourceMark> stepMarks_;        ///< Where each step name is first used.
  /// The steps that may have run before the step being parsed, on its path
  /// (earlier siblings, and those before its branch or loop).
  std::vector<std::string> visible_;
  std::string currentStep_;  ///< The step whose templates are being checked.
  std::string currentLoop_;  ///< The loop the step being parsed is in, or "".
  std::set<std::string> instanceNames_;               ///< Declared so far (a file may declare 10,000).
  std::optional<std::string> scheduleConfigVar_;       ///< The config variable the trigger reads.
};

}  // namespace plexus::core
