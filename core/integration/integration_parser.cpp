#include "integration/integration_parser.hpp"

#include <algorithm>

#include "integration/integration_loader.hpp"
#include "integration/suggest.hpp"
#include "integration/yaml_json.hpp"
#include "trigger/schedule/schedule.hpp"

namespace plexus::core {

namespace {

using plexus::InputType;
using plexus::Json;

const std::vector<std::string> kTopKeys = {"name",    "key",       "description", "configVars",
                                           "trigger", "execution", "steps",       "instances"};
const std::vector<std::string> kConfigVarKeys = {"key",      "type",  "default",
                                                 "required", "label", "description"};
const std::vector<std::string> kTriggerKeys = {"webhook", "schedule"};
const std::vector<std::string> kWebhookKeys = {"component", "trigger", "inputs", "idempotencyKey", "response"};
const std::vector<std::string> kResponseKeys = {"statusCode", "headers", "body"};
const std::vector<std::string> kScheduleKeys = {"every",    "unit",      "cron",
                                                "timezone", "configVar", "missedRuns"};
const std::vector<std::string> kExecutionKeys = {"synchronous", "timeoutMs", "concurrency"};
const std::vector<std::string> kConcurrencyKeys = {"limit", "behavior"};
/// The most executions of one instance a limit may let run at once.
constexpr long long kMaxConcurrencyLimit = 10000;
const std::vector<std::string> kStepKeys = {"name",      "description", "component", "action", "inputs",
                                            "timeoutMs", "retry",       "onError",   "branch", "loop"};
const std::vector<std::string> kRetryKeys = {"maxAttempts", "delayMs", "backoff", "maxDelayMs", "jitter"};
const std::vector<std::string> kBranchCaseKeys = {"when", "steps", "else"};
const std::vector<std::string> kLoopKeys = {"items", "concurrency", "steps"};
/// The most attempts a retry may ask for, and the most iterations a loop
/// may run at once: bounds on what one execution holds in flight.
constexpr long long kMaxAttempts = 100;
constexpr long long kMaxLoopConcurrency = 64;
/// The longest timeout: 30 days (a wait costs a row, not a thread, so long
/// ones are fine; a typo of a few more zeros is not).
constexpr long long kMaxTimeoutMs = 30LL * 24 * 60 * 60 * 1000;
const std::vector<std::string> kInstanceKeys = {"name", "configVars", "enabled"};
const std::vector<std::string> kConfigVarTypes = {"string", "number", "boolean",
                                                  "json",   "schedule", "secret"};
const std::vector<std::string> kMissedRuns = {"none", "last", "all"};

/// Step names and config variable keys appear in paths (steps.NAME.results,
/// configVars.KEY), so they are kept to plain names: a letter or '_', then
/// letters, digits, '_' or '-'.
bool isPathName(const std::string& name) {
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (name.empty() || !letter(name[0])) return false;
  for (char c : name)
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '-') return false;
  return true;
}

bool isIntegrationKey(const std::string& key) {
  if (key.empty() || key[0] == '-') return false;
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

/// "a number", "true or false", ...: what a value of `type` looks like.
std::string expected(InputType type) {
  switch (type) {
    case InputType::String: return "a string";
    case InputType::Secret: return "a string (it is a secret)";
    case InputType::Number: return "a number";
    case InputType::Boolean: return "true or false";
    case InputType::Binary: return "binary data or a string";
    case InputType::Schedule: return "a schedule (a cron string, {every, unit} or {cron, timezone})";
    case InputType::Json: return "any JSON value";
  }
  return "a value";
}

/// What a value is, in YAML's words ("a list", "a map", "empty"); never
/// the value itself.
std::string describeValue(const Json& value) {
  if (value.is_array()) return "a list";
  if (value.is_object()) return "a map";
  if (value.is_null()) return "empty";
  return plexus::describeType(value);
}

/// " (remove the quotes)" when a quoted string would have had the right
/// type unquoted ("415" for a number). Looks at the value but never shows it.
std::string quoteHint(const Json& value, InputType type) {
  if (!value.is_string()) return "";
  Json plain = typePlainScalar(value.get_ref<const std::string&>());
  bool fits = (type == InputType::Number && plain.is_number()) ||
              (type == InputType::Boolean && plain.is_boolean());
  return fits ? " (remove the quotes)" : "";
}

std::optional<std::string> scheduleProblem(const Json& value) {
  try {
    parseSchedule(value);
    return std::nullopt;
  } catch (const ScheduleError& error) {
    return std::string(error.what());
  }
}

std::vector<std::string> keysOf(const std::map<std::string, SourceMark>& map) {
  std::vector<std::string> keys;
  for (const auto& [key, mark] : map) keys.push_back(key);
  return keys;
}

/// The plain value under `key` in `node`, if `node` is a map that has one.
/// (yaml-cpp's const operator[] yields a node that throws when inspected.)
std::optional<std::string> scalarChild(const YAML::Node& node, const std::string& key) {
  if (!node.IsMap()) return std::nullopt;
  for (const auto& item : node)
    if (item.first.IsScalar() && item.first.Scalar() == key && item.second.IsScalar())
      return item.second.Scalar();
  return std::nullopt;
}

bool hasKey(const YAML::Node& node, const std::string& key) {
  if (!node.IsMap()) return false;
  for (const auto& item : node)
    if (item.first.IsScalar() && item.first.Scalar() == key) return true;
  return false;
}

/// `name` for messages: the node's `name:` if it is a plain value, else
/// "NOUN N" (counting from 1).
std::string describeItem(const YAML::Node& node, const std::string& noun, const char* nameKey,
                         std::size_t number) {
  auto name = scalarChild(node, nameKey);
  if (name && !name->empty()) return noun + " '" + *name + "'";
  return noun + " " + std::to_string(number);
}

const YamlEntry* find(const std::map<std::string, YamlEntry>& entries, const std::string& key) {
  auto it = entries.find(key);
  return it == entries.end() ? nullptr : &it->second;
}

}  // namespace

IntegrationSpec IntegrationParser::parse(const YAML::Node& root) {
  spec_.file = diagnostics_.file();
  Entries top = diagnostics_.entries(root, kTopKeys, "the integration");
  requireKeys(top, root, "the integration", {"name", "trigger", "steps"});
  parseIdentity(top);
  // Order matters: triggers, steps and instances refer to config variables.
  if (const YamlEntry* entry = find(top, "configVars")) parseConfigVars(*entry);
  if (const YamlEntry* entry = find(top, "trigger")) parseTrigger(*entry);
  if (const YamlEntry* entry = find(top, "execution")) parseExecution(*entry);
  if (const YamlEntry* entry = find(top, "steps")) parseSteps(*entry);
  parseInstances(find(top, "instances"));
  spec_.keyMark = keyMark_;
  return spec_;
}

void IntegrationParser::requireKeys(const Entries& entries, const YAML::Node& map,
                                    const std::string& where, const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    // A key that is present but was refused (repeated, say) is not "missing".
    if (entries.count(key) || hasKey(map, key)) continue;
    diagnostics_.error(map, "missing required key '" + key + "' in " + where);
  }
}

// --- Typed reads -----------------------------------------------------------

std::optional<std::string> IntegrationParser::text(const YamlEntry& entry, const std::string& what) {
  if (!entry.value.IsScalar()) {
    diagnostics_.error(entry, "'" + what + "' must be text, not " + describeNode(entry.value));
    return std::nullopt;
  }
  return entry.value.Scalar();
}

std::optional<bool> IntegrationParser::boolean(const YamlEntry& entry, const std::string& what) {
  Json value = entry.value.IsScalar() ? yamlScalarToJson(entry.value) : Json();
  if (value.is_boolean()) return value.get<bool>();
  std::string found = entry.value.IsScalar() ? describeValue(value) : describeNode(entry.value);
  diagnostics_.error(entry, "'" + what + "' must be true or false, not " + found +
                                quoteHint(value, InputType::Boolean));
  return std::nullopt;
}

std::optional<long long> IntegrationParser::timeoutMs(const YamlEntry& entry, const std::string& what) {
  Json value = entry.value.IsScalar() ? yamlScalarToJson(entry.value) : Json();
  if (value.is_number_integer() && value.get<long long>() >= 1 && value.get<long long>() <= kMaxTimeoutMs)
    return value.get<long long>();
  // A number out of range is shown as written; anything else by its kind.
  std::string found = !entry.value.IsScalar() ? describeNode(entry.value)
                      : value.is_number()     ? entry.value.Scalar()
                                              : describeValue(value);
  diagnostics_.error(entry, "'" + what + "' must be a whole number of milliseconds from 1 to " +
                                std::to_string(kMaxTimeoutMs) + " (30 days), not " + found);
  return std::nullopt;
}

std::optional<long long> IntegrationParser::integer(const YamlEntry& entry, const std::string& what, long long least,
                                                   long long most) {
  Json value = entry.value.IsScalar() ? yamlScalarToJson(entry.value) : Json();
  if (value.is_number_integer() && value.get<long long>() >= least && value.get<long long>() <= most)
    return value.get<long long>();
  std::string found = !entry.value.IsScalar() ? describeNode(entry.value)
                      : value.is_number()     ? entry.value.Scalar()
                                              : describeValue(value);
  diagnostics_.error(entry, "'" + what + "' must be a whole number from " + std::to_string(least) + " to " +
                                std::to_string(most) + ", not " + found + quoteHint(value, InputType::Number));
  return std::nullopt;
}

std::optional<Json> IntegrationParser::json(const YamlEntry& entry) {
  try {
    return yamlToJson(entry.value);
  } catch (const YamlConversionError& error) {
    diagnostics_.error(error.mark, error.what());
    return std::nullopt;
  }
}

bool IntegrationParser::checkFits(const Json& value, InputType type, const SourceMark& at,
                                  const std::string& subject) {
  if (!plexus::valueFitsType(value, type)) {
    diagnostics_.error(at, subject + " must be " + expected(type) + ", not " + describeValue(value) +
                               quoteHint(value, type));
    return false;
  }
  if (type != InputType::Schedule) return true;
  if (auto problem = scheduleProblem(value)) {
    diagnostics_.error(at, subject + " is not a valid schedule: " + *problem);
    return false;
  }
  return true;
}

// --- name, key, description --------------------------------------------------

void IntegrationParser::parseIdentity(const Entries& top) {
  if (const YamlEntry* name = find(top, "name")) {
    keyMark_ = diagnostics_.mark(*name);
    if (auto value = text(*name, "name")) {
      spec_.name = *value;
      if (value->empty()) diagnostics_.error(*name, "'name' is empty; give the integration a name");
    }
  }
  if (const YamlEntry* description = find(top, "description"))
    if (auto value = text(*description, "description")) spec_.description = *value;

  if (const YamlEntry* key = find(top, "key")) {
    keyMark_ = diagnostics_.mark(*key);
    if (auto value = text(*key, "key")) {
      spec_.key = *value;
      if (!isIntegrationKey(*value))
        diagnostics_.error(*key, "key '" + *value +
                                     "' may only hold lowercase letters, digits and dashes, and must "
                                     "not start with a dash");
    }
  } else if (!spec_.name.empty()) {
    spec_.key = deriveIntegrationKey(spec_.name);
    if (spec_.key.empty())
      diagnostics_.error(keyMark_, "cannot derive a key from this name (it has no letters or digits); "
                                   "add `key:` with lowercase letters, digits and dashes");
  }
}

// --- configVars -------------------------------------------------------------

void IntegrationParser::parseConfigVars(const YamlEntry& entry) {
  if (entry.value.IsNull()) return;
  if (!entry.value.IsSequence()) {
    diagnostics_.error(entry, "'configVars' must be a list of config variables (- key: NAME, type: "
                              "TYPE), not " + describeNode(entry.value));
    return;
  }
  std::size_t number = 0;
  for (const auto& node : entry.value) parseConfigVar(node, ++number);
}

void IntegrationParser::parseConfigVar(const YAML::Node& node, std::size_t number) {
  std::string where = describeItem(node, "config variable", "key", number);
  if (!node.IsMap()) {
    diagnostics_.error(node, where + " must be a map with key and type, not " + describeNode(node));
    return;
  }
  Entries fields = diagnostics_.entries(node, kConfigVarKeys, where);
  requireKeys(fields, node, where, {"key"});
  const YamlEntry* keyField = find(fields, "key");
  if (!keyField) return;
  const YamlEntry& keyEntry = *keyField;

  ConfigVarSpec var;
  if (auto key = text(keyEntry, "key")) var.key = *key;
  else return;
  if (!isPathName(var.key)) {
    diagnostics_.error(keyEntry, "config variable key '" + var.key +
                                     "' may only hold letters, digits, '_' and '-', starting with a "
                                     "letter or '_' (it is used in references: configVars.KEY)");
  }
  if (auto first = configVarMarks_.find(var.key); first != configVarMarks_.end()) {
    diagnostics_.error(keyEntry, "config variable '" + var.key + "' is declared twice (first at line " +
                                     std::to_string(first->second.line) + ")");
    return;
  }
  configVarMarks_[var.key] = diagnostics_.mark(node);

  bool typeKnown = true;
  if (const YamlEntry* type = find(fields, "type")) {
    auto name = text(*type, "type");
    auto parsed = name ? plexus::inputTypeFromString(*name) : std::nullopt;
    if (name && (!parsed || *parsed == InputType::Binary)) {
      std::string hint = didYouMean(*name, kConfigVarTypes);
      diagnostics_.error(*type, "unknown type '" + *name + "' for config variable '" + var.key + "'" +
                                    hint + "; types are " + joinShort(kConfigVarTypes));
    }
    if (parsed && *parsed != InputType::Binary) var.type = *parsed;
    else typeKnown = false;
  }
  if (const YamlEntry* required = find(fields, "required"))
    var.required = boolean(*required, "required").value_or(false);
  if (const YamlEntry* label = find(fields, "label")) var.label = text(*label, "label").value_or("");
  if (const YamlEntry* description = find(fields, "description"))
    var.description = text(*description, "description").value_or("");
  if (const YamlEntry* fallback = find(fields, "default")) {
    auto value = json(*fallback);
    if (value && !value->is_null()) {
      if (typeKnown)
        checkFits(*value, var.type, diagnostics_.mark(*fallback),
                  "the default of config variable '" + var.key + "'");
      var.defaultValue = std::move(*value);
    }
  }
  spec_.configVars.push_back(std::move(var));
}

// --- trigger ----------------------------------------------------------------

void IntegrationParser::parseTrigger(const YamlEntry& entry) {
  if (!entry.value.IsMap()) {
    diagnostics_.error(entry, "'trigger' must be a map with `webhook: {}` or `schedule: {...}`, not " +
                                  describeNode(entry.value));
    return;
  }
  Entries fields = diagnostics_.entries(entry.value, kTriggerKeys, "the trigger");
  const YamlEntry* webhook = find(fields, "webhook");
  const YamlEntry* schedule = find(fields, "schedule");
  if (webhook && schedule) {
    const YamlEntry& later = diagnostics_.mark(webhook->key).line > diagnostics_.mark(schedule->key).line
                                 ? *webhook
                                 : *schedule;
    diagnostics_.error(later.key, "the trigger has both 'webhook' and 'schedule'; an integration has "
                                  "exactly one trigger");
    return;
  }
  if (!webhook && !schedule) {
    if (fields.size() == entry.value.size())  // Not already reported as an unknown key.
      diagnostics_.error(entry, "the trigger needs `webhook: {}` or `schedule: {...}`");
    return;
  }
  if (webhook) {
    spec_.trigger.kind = TriggerKind::Webhook;
    parseWebhookTrigger(*webhook);
    return;
  }
  spec_.trigger.kind = TriggerKind::Schedule;
  parseScheduleTrigger(*schedule);
}

void IntegrationParser::parseWebhookTrigger(const YamlEntry& entry) {
  if (entry.value.IsNull()) return;
  if (!entry.value.IsMap()) {
    diagnostics_.error(entry, "'webhook' must be a map of its options (component, trigger, inputs, "
                              "idempotencyKey, response) or {}, not " + describeNode(entry.value));
    return;
  }
  Entries fields = diagnostics_.entries(entry.value, kWebhookKeys, "the webhook trigger");
  WebhookTriggerSpec& webhook = spec_.trigger.webhook;
  if (find(fields, "component") || find(fields, "trigger") || find(fields, "inputs"))
    parseComponentTrigger(entry, fields);
  if (const YamlEntry* key = find(fields, "idempotencyKey")) {
    if (auto text = this->text(*key, "idempotencyKey")) {
      if (checkTriggerTemplates(key->value, "idempotencyKey", kKeying))
        webhook.idempotencyKey = std::make_shared<const Template>(Template::parse(*text));
    }
  }
  if (const YamlEntry* response = find(fields, "response")) parseWebhookResponse(*response);
}

void IntegrationParser::parseComponentTrigger(const YamlEntry& entry, const Entries& fields) {
  const YamlEntry* componentEntry = find(fields, "component");
  const YamlEntry* triggerEntry = find(fields, "trigger");
  if (!componentEntry || !triggerEntry) {
    diagnostics_.error(entry, "a component trigger needs both 'component' and 'trigger' (e.g. component: "
                              "webhook-auth, trigger: hmac)");
    return;
  }
  auto componentKey = text(*componentEntry, "component");
  auto triggerKey = text(*triggerEntry, "trigger");
  if (!componentKey || !triggerKey) return;
  ComponentTriggerSpec spec;
  spec.component = *componentKey;
  spec.trigger = *triggerKey;
  spec.mark = diagnostics_.mark(entry);
  const plexus::TriggerSpec* trigger = nullptr;
  if (LoadedComponentPtr component = catalog_.find(*componentKey)) {
    trigger = component->spec.trigger(*triggerKey);
    if (!trigger) {
      std::vector<std::string> known;
      for (const auto& offered : component->spec.triggers) known.push_back(offered.key);
      std::string hint = didYouMean(*triggerKey, known);
      if (hint.empty())
        hint = known.empty() ? " (it offers no triggers)" : "; its triggers: " + joinShort(known, 12);
      diagnostics_.error(*triggerEntry,
                         "component '" + *componentKey + "' has no trigger '" + *triggerKey + "'" + hint);
    }
  } else {
    std::vector<std::string> known;
    for (const auto& loaded : catalog_.all())
      if (!loaded->spec.triggers.empty()) known.push_back(loaded->spec.key);
    std::string hint = didYouMean(*componentKey, known);
    if (hint.empty())
      hint = known.empty() ? " (no loaded component offers triggers; check the plugins folder)"
                           : "; components with triggers: " + joinShort(known, 12);
    diagnostics_.error(*componentEntry, "unknown component '" + *componentKey + "'" + hint);
  }
  const std::string owner = *componentKey + "." + *triggerKey;
  const YamlEntry* inputs = find(fields, "inputs");
  Entries given;
  if (inputs && inputs->value.IsMap()) {
    std::vector<std::string> known;
    if (trigger)
      for (const auto& input : trigger->inputs) known.push_back(input.key);
    for (const auto& item : inputs->value)
      if (item.first.IsScalar() && !trigger) known.push_back(item.first.Scalar());
    given = diagnostics_.entries(inputs->value, known, "the inputs of trigger " + owner);
  } else if (inputs && !inputs->value.IsNull()) {
    diagnostics_.error(*inputs, "'inputs' must be a map of input names to values, not " +
                                    describeNode(inputs->value));
  }
  for (const auto& [key, field] : given) {
    auto value = json(field);
    if (!value) continue;
    if (!checkTriggerTemplates(field.value, "input '" + key + "' of trigger " + owner, kBeforeIntake)) continue;
    if (trigger)
      if (const plexus::InputSpec* input = trigger->input(key)) checkInputValue(*input, field, *value, owner);
    spec.inputs[key] = std::move(*value);
  }
  if (trigger) {
    for (const auto& input : trigger->inputs) {
      auto it = spec.inputs.find(input.key);
      if ((it == spec.inputs.end() || it->is_null()) && input.required && !input.defaultValue)
        diagnostics_.error(inputs ? inputs->key : triggerEntry->key,
                           "the webhook trigger is missing required input '" + input.key + "' of " + owner);
    }
  }
  spec_.trigger.webhook.component = std::move(spec);
}

void IntegrationParser::parseWebhookResponse(const YamlEntry& entry) {
  if (!entry.value.IsMap()) {
    diagnostics_.error(entry, "'response' must be a map (statusCode, headers, body), not " +
                                  describeNode(entry.value));
    return;
  }
  Entries fields = diagnostics_.entries(entry.value, kResponseKeys, "the webhook response");
  WebhookResponseSpec response;
  if (const YamlEntry* status = find(fields, "statusCode")) {
    Json value = status->value.IsScalar() ? yamlScalarToJson(status->value) : Json();
    if (value.is_number_integer() && value.get<long long>() >= 200 && value.get<long long>() <= 599) {
      response.statusCode = value.get<int>();
    } else {
      diagnostics_.error(*status, "'statusCode' must be a whole number from 200 to 599 (a final reply), not " +
                                      (status->value.IsScalar() ? status->value.Scalar() : describeNode(status->value)));
    }
  }
  if (const YamlEntry* headers = find(fields, "headers")) {
    if (!headers->value.IsMap()) {
      diagnostics_.error(*headers, "'headers' must be a map of header names to text, not " +
                                       describeNode(headers->value));
    } else if (auto value = json(*headers)) {
      for (const auto& [name, text] : value->items()) {
        if (!text.is_string() && !text.is_number() && !text.is_boolean()) {
          diagnostics_.error(*headers, "header '" + name + "' must be text, not " + describeValue(text));
          continue;
        }
        response.headers[name] = text.is_string() ? text.get<std::string>() : text.dump();
      }
      checkTriggerTemplates(headers->value, "a response header", kAfterIntake);
    }
  }
  if (const YamlEntry* body = find(fields, "body")) {
    if (auto value = json(*body)) {
      if (checkTriggerTemplates(body->value, "the response body", kAfterIntake)) response.body = std::move(*value);
    }
  }
  spec_.trigger.webhook.response = std::move(response);
}

bool IntegrationParser::checkTriggerTemplates(const YAML::Node& node, const std::string& subject,
                                              TemplateStage stage) {
  if (node.IsMap() || node.IsSequence()) {
    bool fine = true;
    for (const auto& item : node) {
      const YAML::Node& child = node.IsMap() ? item.second : item;
      fine = checkTriggerTemplates(child, subject, stage) && fine;
    }
    return fine;
  }
  if (!node.IsScalar() || node.Scalar().find("{{") == std::string::npos) return true;
  Json value = yamlScalarToJson(node);
  if (!value.is_string()) return true;
  try {
    Template parsed = Template::parse(value.get_ref<const std::string&>());
    bool fine = true;
    for (const Reference& reference : parsed.references()) {
      SourceMark at = diagnostics_.markInScalar(node, reference.column);
      std::string prefix = subject + ": reference '" + reference.path() + "': ";
      if (reference.root == ReferenceRoot::StepResults || reference.root == ReferenceRoot::StepError ||
          reference.root == ReferenceRoot::Loop) {
        diagnostics_.error(at, prefix + "no step has run when the webhook answers; use trigger.results, "
                                        "configVars, instance or integration");
        fine = false;
      } else if (stage == kBeforeIntake &&
                 (reference.root == ReferenceRoot::TriggerResults || reference.root == ReferenceRoot::Execution)) {
        diagnostics_.error(at, prefix + "a trigger's inputs are rendered before the request is read and "
                                        "before any execution exists; use configVars, instance or integration");
        fine = false;
      } else if (stage == kKeying && reference.root == ReferenceRoot::Execution) {
        diagnostics_.error(at, prefix + "the key decides whether an execution starts, so it cannot use one; "
                                        "use trigger.results, configVars, instance or integration");
        fine = false;
      } else if (reference.root == ReferenceRoot::ConfigVar && !spec_.configVar(reference.name)) {
        std::string hint = didYouMean(reference.name, keysOf(configVarMarks_));
        if (hint.empty()) hint = "; declare it under configVars";
        diagnostics_.error(at, prefix + "no config variable '" + reference.name + "'" + hint);
        fine = false;
      }
    }
    return fine;
  } catch (const TemplateSyntaxError& error) {
    diagnostics_.error(diagnostics_.markInScalar(node, error.column()), subject + ": " + error.what(),
                       error.excerpt());
    return false;
  }
}

void IntegrationParser::parseScheduleTrigger(const YamlEntry& entry) {
  const YAML::Node& node = entry.value;
  if (node.IsScalar()) {  // A bare cron string.
    Json cron = yamlScalarToJson(node);
    if (checkFits(cron, InputType::Schedule, diagnostics_.mark(entry), "the schedule"))
      spec_.trigger.schedule = Json{{"cron", cron}};
    return;
  }
  if (!node.IsMap()) {
    diagnostics_.error(entry, "'schedule' must be {every, unit}, {cron, timezone}, {configVar} or a "
                              "cron string, not " + describeNode(node));
    return;
  }
  Entries fields = diagnostics_.entries(node, kScheduleKeys, "the schedule");
  // With an unknown or repeated key (reported), checking the rest would mislead.
  bool allKeysKnown = fields.size() == node.size();
  if (const YamlEntry* missed = find(fields, "missedRuns")) {
    if (auto policy = text(*missed, "missedRuns")) {
      if (*policy == "none") spec_.trigger.missedRuns = MissedRunPolicy::None;
      else if (*policy == "last") spec_.trigger.missedRuns = MissedRunPolicy::Last;
      else if (*policy == "all") spec_.trigger.missedRuns = MissedRunPolicy::All;
      else
        diagnostics_.error(*missed, "missedRuns must be none, last or all" +
                                        didYouMean(*policy, kMissedRuns));
    }
    fields.erase("missedRuns");
  }
  if (find(fields, "configVar")) {
    parseScheduleConfigVar(fields.at("configVar"));
    if (fields.size() > 1)
      diagnostics_.error(node, "a schedule takes either configVar or its own every/unit or "
                               "cron/timezone, not both");
    return;
  }
  if (fields.empty()) {
    diagnostics_.error(entry, "the schedule needs every and unit, cron (and timezone), or configVar");
    return;
  }
  if (!allKeysKnown) return;
  Json schedule = Json::object();
  for (const auto& [key, field] : fields) {
    auto value = json(field);
    if (!value) return;
    schedule[key] = std::move(*value);
  }
  if (auto problem = scheduleProblem(schedule)) {
    diagnostics_.error(node, "invalid schedule: " + *problem);
    return;
  }
  spec_.trigger.schedule = std::move(schedule);
}

void IntegrationParser::parseScheduleConfigVar(const YamlEntry& entry) {
  auto key = text(entry, "configVar");
  if (!key) return;
  spec_.trigger.schedule = Json{{"configVar", *key}};
  const ConfigVarSpec* var = spec_.configVar(*key);
  if (!var) {
    std::string hint = didYouMean(*key, keysOf(configVarMarks_));
    diagnostics_.error(entry, "no config variable '" + *key + "'" + hint +
                                  "; declare it under configVars with type: schedule");
    return;
  }
  if (var->type != InputType::Schedule) {
    diagnostics_.error(entry, "config variable '" + *key + "' has type " + plexus::toString(var->type) +
                                  "; a schedule trigger needs one of type schedule");
    return;
  }
  scheduleConfigVar_ = *key;
}

// --- execution --------------------------------------------------------------

void IntegrationParser::parseExecution(const YamlEntry& entry) {
  if (entry.value.IsNull()) return;
  if (!entry.value.IsMap()) {
    diagnostics_.error(entry, "'execution' must be a map (synchronous: true|false, timeoutMs: N, concurrency: "
                              "{limit, behavior}), not " +
                                  describeNode(entry.value));
    return;
  }
  Entries fields = diagnostics_.entries(entry.value, kExecutionKeys, "execution");
  if (const YamlEntry* synchronous = find(fields, "synchronous"))
    spec_.synchronous = boolean(*synchronous, "synchronous").value_or(false);
  if (const YamlEntry* timeout = find(fields, "timeoutMs")) spec_.timeoutMs = timeoutMs(*timeout, "timeoutMs");
  if (const YamlEntry* concurrency = find(fields, "concurrency")) parseConcurrency(*concurrency);
}

void IntegrationParser::parseConcurrency(const YamlEntry& entry) {
  if (!entry.value.IsMap()) {
    diagnostics_.error(entry, "'concurrency' must be a map (limit: N, behavior: queue|skip|fail), not " +
                                  describeNode(entry.value));
    return;
  }
  Entries fields = diagnostics_.entries(entry.value, kConcurrencyKeys, "execution.concurrency");
  ConcurrencySpec concurrency;
  if (const YamlEntry* limit = find(fields, "limit"))
    concurrency.limit = static_cast<int>(integer(*limit, "limit", 1, kMaxConcurrencyLimit).value_or(1));
  if (const YamlEntry* behavior = find(fields, "behavior")) {
    auto value = text(*behavior, "behavior");
    if (value == "skip") concurrency.behavior = ConcurrencySpec::Behavior::Skip;
    else if (value == "fail") concurrency.behavior = ConcurrencySpec::Behavior::Fail;
    else if (value && *value != "queue")
      diagnostics_.error(*behavior, "'behavior' must be queue, skip or fail, not '" + *value + "'" +
                                        didYouMean(*value, {"queue", "skip", "fail"}));
  }
  spec_.concurrency = concurrency;
}

// --- steps ------------------------------------------------------------------

void IntegrationParser::parseSteps(const YamlEntry& entry) {
  if (!entry.value.IsSequence()) {
    diagnostics_.error(entry, "'steps' must be a list of steps (- name: ..., component: ..., action: "
                              "...), not " + describeNode(entry.value));
    return;
  }
  if (entry.value.size() == 0) {
    diagnostics_.error(entry, "'steps' is empty; an integration needs at least one step");
    return;
  }
  // Names first, so that a reference to a later step can be told apart
  // from a reference to no step at all.
  collectStepNames(entry.value, "");
  spec_.steps = parseStepList(entry.value);
}

void IntegrationParser::collectStepNames(const YAML::Node& list, const std::string& loop) {
  if (!list.IsSequence()) return;
  for (const auto& node : list) {
    if (auto name = scalarChild(node, "name")) loopOf_.emplace(*name, loop);
    if (!node.IsMap()) continue;
    for (const auto& item : node) {
      if (!item.first.IsScalar()) continue;
      const std::string& key = item.first.Scalar();
      if (key == "branch" && item.second.IsSequence()) {
        for (const auto& branch : item.second) {
          if (!branch.IsMap()) continue;
          for (const auto& field : branch)
            if (field.first.IsScalar() && (field.first.Scalar() == "steps" || field.first.Scalar() == "else"))
              collectStepNames(field.second, loop);
        }
      } else if (key == "loop" && item.second.IsMap()) {
        for (const auto& field : item.second)
          if (field.first.IsScalar() && field.first.Scalar() == "steps")
            collectStepNames(field.second, scalarChild(node, "name").value_or(""));
      }
    }
  }
}

std::vector<StepSpec> IntegrationParser::parseStepList(const YAML::Node& list) {
  std::vector<StepSpec> steps;
  for (std::size_t i = 0; i < list.size(); ++i) {
    StepSpec step = parseStep(list[i], i);
    // What the step ran is visible to the steps after it (a branch's and a
    // loop's own steps too: the checks say which may use them).
    visible_.push_back(step.name);
    steps.push_back(std::move(step));
  }
  return steps;
}

StepSpec IntegrationParser::parseStep(const YAML::Node& node, std::size_t index) {
  std::string where = describeItem(node, "step", "name", index + 1);
  StepSpec step;
  if (!node.IsMap()) {
    diagnostics_.error(node, where + " must be a map with name, component, action and inputs (or branch, or "
                                     "loop), not " + describeNode(node));
    return step;
  }
  Entries fields = diagnostics_.entries(node, kStepKeys, where);
  step.mark = diagnostics_.mark(node);
  if (const YamlEntry* name = find(fields, "name")) {
    step.name = text(*name, "name").value_or("");
    if (!name->value.IsScalar()) {
      // Reported by text().
    } else if (!isPathName(step.name)) {
      diagnostics_.error(*name, "step name '" + step.name +
                                    "' may only hold letters, digits, '_' and '-', starting with a "
                                    "letter or '_' (later steps refer to it as steps.NAME.results)");
    } else if (auto first = stepMarks_.find(step.name); first != stepMarks_.end()) {
      diagnostics_.error(*name, "step name '" + step.name + "' is used twice (first at line " +
                                    std::to_string(first->second.line) +
                                    "); step names must be unique across the integration, nested steps too");
    } else {
      stepMarks_[step.name] = diagnostics_.mark(*name);
    }
  }
  const YamlEntry* branch = find(fields, "branch");
  const YamlEntry* loop = find(fields, "loop");
  step.kind = branch ? StepSpec::Kind::Branch : loop ? StepSpec::Kind::Loop : StepSpec::Kind::Action;
  if (branch && loop) {
    diagnostics_.error(loop->key, where + " has both 'branch' and 'loop'; make them two steps");
    return step;
  }
  if (step.kind != StepSpec::Kind::Action) {
    const char* kind = branch ? "branch" : "loop";
    requireKeys(fields, node, where, {"name"});
    for (const char* key : {"component", "action", "inputs", "timeoutMs", "retry", "onError"})
      if (const YamlEntry* misplaced = find(fields, key))
        diagnostics_.error(misplaced->key, where + " is a " + kind + ": it takes name, description and " + kind +
                                               ", not '" + key + "' (put it on the steps inside)");
    std::string outerStep = std::exchange(currentStep_, step.name);
    if (branch) parseBranch(step, *branch);
    else parseLoop(step, *loop);
    currentStep_ = std::move(outerStep);
    return step;
  }
  requireKeys(fields, node, where, {"name", "component", "action"});
  const plexus::ActionSpec* action = findAction(fields);
  if (const YamlEntry* component = find(fields, "component")) step.component = component->value.Scalar();
  if (const YamlEntry* actionKey = find(fields, "action")) step.action = actionKey->value.Scalar();

  if (const YamlEntry* timeout = find(fields, "timeoutMs")) step.timeoutMs = timeoutMs(*timeout, "timeoutMs");
  if (const YamlEntry* retry = find(fields, "retry")) parseRetry(step, *retry);
  if (const YamlEntry* onError = find(fields, "onError")) {
    auto value = text(*onError, "onError");
    if (value == "continue") step.onError = OnError::Continue;
    else if (value && *value != "fail")
      diagnostics_.error(*onError, "'onError' must be fail or continue, not '" + *value + "'" +
                                       didYouMean(*value, {"fail", "continue"}));
  }
  std::string outerStep = std::exchange(currentStep_, step.name);
  if (const YamlEntry* inputs = find(fields, "inputs")) {
    parseInputs(step, *inputs, action);
  } else if (action) {  // No inputs at all: still report the required ones.
    parseInputs(step, YamlEntry{fields.at("action").key, YAML::Node()}, action);
  }
  currentStep_ = std::move(outerStep);
  return step;
}

void IntegrationParser::parseRetry(StepSpec& step, const YamlEntry& entry) {
  if (!entry.value.IsMap()) {
    diagnostics_.error(entry, "'retry' must be a map (maxAttempts, delayMs, backoff, maxDelayMs, jitter), not " +
                                  describeNode(entry.value));
    return;
  }
  Entries fields = diagnostics_.entries(entry.value, kRetryKeys, "retry");
  RetrySpec& retry = step.retry;
  if (const YamlEntry* attempts = find(fields, "maxAttempts"))
    retry.maxAttempts = static_cast<int>(integer(*attempts, "maxAttempts", 1, kMaxAttempts).value_or(1));
  if (const YamlEntry* delay = find(fields, "delayMs"))
    retry.delayMs = integer(*delay, "delayMs", 0, kMaxTimeoutMs).value_or(retry.delayMs);
  if (const YamlEntry* longest = find(fields, "maxDelayMs"))
    retry.maxDelayMs = integer(*longest, "maxDelayMs", 1, kMaxTimeoutMs).value_or(retry.maxDelayMs);
  if (const YamlEntry* backoff = find(fields, "backoff")) {
    auto value = text(*backoff, "backoff");
    if (value == "exponential") retry.exponential = true;
    else if (value && *value != "fixed")
      diagnostics_.error(*backoff, "'backoff' must be fixed or exponential, not '" + *value + "'" +
                                       didYouMean(*value, {"fixed", "exponential"}));
  }
  if (const YamlEntry* jitter = find(fields, "jitter")) retry.jitter = boolean(*jitter, "jitter").value_or(false);
}

void IntegrationParser::parseBranch(StepSpec& step, const YamlEntry& entry) {
  if (!entry.value.IsSequence() || entry.value.size() == 0) {
    diagnostics_.error(entry, "'branch' must be a list of cases (- when: \"{{ ... }}\" with steps, then "
                              "optionally - else: [steps]), not " + describeNode(entry.value));
    return;
  }
  std::size_t visibleBefore = visible_.size();
  std::vector<std::string> ranInside;  // every case's steps: visible after the branch
  for (std::size_t i = 0; i < entry.value.size(); ++i) {
    const YAML::Node& node = entry.value[i];
    std::string where = "case " + std::to_string(i + 1) + " of branch '" + step.name + "'";
    if (!node.IsMap()) {
      diagnostics_.error(node, where + " must be a map (when: \"{{ ... }}\" and steps, or else), not " +
                                   describeNode(node));
      continue;
    }
    Entries fields = diagnostics_.entries(node, kBranchCaseKeys, where);
    BranchCase branchCase;
    branchCase.mark = diagnostics_.mark(node);
    const YamlEntry* otherwise = find(fields, "else");
    const YamlEntry* steps = otherwise ? otherwise : find(fields, "steps");
    if (otherwise) {
      for (const char* key : {"when", "steps"})
        if (const YamlEntry* extra = find(fields, key))
          diagnostics_.error(extra->key, where + " is the else case: it takes only 'else' (its list of steps)");
      if (i + 1 != entry.value.size())
        diagnostics_.error(otherwise->key, where + ": 'else' must be the last case of the branch");
    } else {
      requireKeys(fields, node, where, {"when", "steps"});
      if (const YamlEntry* when = find(fields, "when"))
        branchCase.when = parseCondition(*when, where + ": 'when'");
    }
    if (steps) {
      if (!steps->value.IsSequence() || steps->value.size() == 0) {
        diagnostics_.error(*steps, where + ": its steps must be a non-empty list of steps, not " +
                                       describeNode(steps->value));
      } else {
        branchCase.steps = parseStepList(steps->value);
      }
    }
    ranInside.insert(ranInside.end(), visible_.begin() + static_cast<std::ptrdiff_t>(visibleBefore), visible_.end());
    visible_.resize(visibleBefore);  // a case does not see the steps of the cases before it
    step.branches.push_back(std::move(branchCase));
  }
  visible_.insert(visible_.end(), ranInside.begin(), ranInside.end());
}

void IntegrationParser::parseLoop(StepSpec& step, const YamlEntry& entry) {
  if (!entry.value.IsMap()) {
    diagnostics_.error(entry, "'loop' must be a map (items: \"{{ ... }}\", concurrency, steps), not " +
                                  describeNode(entry.value));
    return;
  }
  std::string where = "loop '" + step.name + "'";
  if (!currentLoop_.empty()) {
    diagnostics_.error(entry.key, where + " is inside loop '" + currentLoop_ +
                                      "'; loops do not nest: give the inner loop an integration of its own and "
                                      "call its webhook from the outer loop");
    return;
  }
  Entries fields = diagnostics_.entries(entry.value, kLoopKeys, where);
  requireKeys(fields, entry.value, where, {"items", "steps"});
  if (const YamlEntry* items = find(fields, "items")) step.loop.items = parseCondition(*items, where + ": 'items'");
  if (const YamlEntry* concurrency = find(fields, "concurrency"))
    step.loop.concurrency =
        static_cast<int>(integer(*concurrency, "concurrency", 1, kMaxLoopConcurrency).value_or(1));
  if (const YamlEntry* steps = find(fields, "steps")) {
    if (!steps->value.IsSequence() || steps->value.size() == 0) {
      diagnostics_.error(*steps, where + ": 'steps' must be a non-empty list of steps, not " +
                                     describeNode(steps->value));
      return;
    }
    currentLoop_ = step.name;
    step.loop.steps = parseStepList(steps->value);
    currentLoop_.clear();
  }
}

std::shared_ptr<const Template> IntegrationParser::parseCondition(const YamlEntry& entry, const std::string& what) {
  Json value = entry.value.IsScalar() ? yamlScalarToJson(entry.value) : Json();
  std::string hint = " must be one expression in {{ }}, e.g. \"{{ steps.fetch.results.status >= 400 }}\"";
  if (!value.is_string()) {
    diagnostics_.error(entry, what + hint + ", not " +
                                  (entry.value.IsScalar() ? describeValue(value) : describeNode(entry.value)));
    return nullptr;
  }
  try {
    Template parsed = Template::parse(value.get_ref<const std::string&>());
    if (!parsed.isSingleExpression()) {
      diagnostics_.error(entry, what + hint + " (with nothing around it)");
      return nullptr;
    }
    bool fine = true;
    for (const Reference& reference : parsed.references())
      fine = checkReference(reference, entry.value, what) && fine;
    if (!fine) return nullptr;
    return std::make_shared<const Template>(std::move(parsed));
  } catch (const TemplateSyntaxError& error) {
    diagnostics_.error(diagnostics_.markInScalar(entry.value, error.column()), what + ": " + error.what(),
                       error.excerpt());
    return nullptr;
  }
}

const plexus::ActionSpec* IntegrationParser::findAction(const Entries& fields) {
  const YamlEntry* componentEntry = find(fields, "component");
  const YamlEntry* actionEntry = find(fields, "action");
  auto componentKey = componentEntry ? text(*componentEntry, "component") : std::nullopt;
  auto actionKey = actionEntry ? text(*actionEntry, "action") : std::nullopt;
  if (!componentKey) return nullptr;

  LoadedComponentPtr component = catalog_.find(*componentKey);
  if (!component) {
    std::vector<std::string> known;
    for (const auto& loaded : catalog_.all()) known.push_back(loaded->spec.key);
    std::string hint = didYouMean(*componentKey, known);
    if (hint.empty())
      hint = known.empty() ? " (no components are loaded; check the plugins folder)"
                           : "; components: " + joinShort(known, 12);
    diagnostics_.error(*componentEntry, "unknown component '" + *componentKey + "'" + hint);
    return nullptr;
  }
  if (!actionKey) return nullptr;
  const plexus::ActionSpec* action = component->spec.action(*actionKey);
  if (!action) {
    std::vector<std::string> known;
    for (const auto& spec : component->spec.actions) known.push_back(spec.key);
    std::string hint = didYouMean(*actionKey, known);
    if (hint.empty()) hint = "; its actions: " + joinShort(known, 12);
    diagnostics_.error(*actionEntry,
                       "component '" + *componentKey + "' has no action '" + *actionKey + "'" + hint);
  }
  return action;
}

void IntegrationParser::parseInputs(StepSpec& step, const YamlEntry& entry, const plexus::ActionSpec* action) {
  std::string actionName = step.component + "." + step.action;
  Entries given;
  if (entry.value.IsMap()) {
    std::vector<std::string> known;
    if (action)
      for (const auto& input : action->inputs) known.push_back(input.key);
    // With the action unknown, every key is accepted (and still checked below).
    for (const auto& item : entry.value)
      if (item.first.IsScalar() && !action) known.push_back(item.first.Scalar());
    given = diagnostics_.entries(entry.value, known, "the inputs of " + actionName);
  } else if (!entry.value.IsNull()) {
    diagnostics_.error(entry, "'inputs' must be a map of input names to values, not " +
                                  describeNode(entry.value));
    return;
  }

  for (const auto& [key, field] : given) {
    auto value = json(field);
    if (!value) continue;
    std::vector<PathSegment> path{{key, std::nullopt}};
    checkTemplates(field.value, path);
    if (action)
      if (const plexus::InputSpec* spec = action->input(key)) checkInputValue(*spec, field, *value, actionName);
    step.inputs[key] = std::move(*value);
  }
  if (!action) return;
  for (const auto& spec : action->inputs) {
    auto it = step.inputs.find(spec.key);
    bool missing = it == step.inputs.end() || it->is_null();
    if (missing && spec.required && !spec.defaultValue)
      diagnostics_.error(entry.key, "step '" + step.name + "' is missing required input '" + spec.key +
                                        "' of " + actionName);
  }
}

void IntegrationParser::checkInputValue(const plexus::InputSpec& spec, const YamlEntry& entry,
                                        const Json& value, const std::string& actionName) {
  if (value.is_null()) return;  // Treated as not given; see the required-input check.
  std::string subject = "input '" + spec.key + "' of " + actionName;
  Json literal = value;
  if (value.is_string()) {
    try {
      Template parsed = Template::parse(value.get_ref<const std::string&>());
      if (parsed.isSingleExpression()) return;  // Its type is known only when it runs.
      if (!parsed.isLiteral()) {
        if (!plexus::valueFitsType(Json(""), spec.type))
          diagnostics_.error(entry, subject + " must be " + expected(spec.type) +
                                        ", but text around a {{ }} reference always makes a string; "
                                        "use the reference alone (\"{{ path }}\")");
        return;
      }
      literal = parsed.render(Json::object());  // Only `\{{` escapes: the text it stands for.
    } catch (const TemplateError&) {
      return;  // Reported by checkTemplates.
    }
  }
  checkFits(literal, spec.type, diagnostics_.mark(entry), subject);
}

void IntegrationParser::checkTemplates(const YAML::Node& node, std::vector<PathSegment>& path) {
  if (node.IsMap()) {
    for (const auto& item : node) {
      if (!item.first.IsScalar()) continue;  // Reported by the conversion to JSON.
      path.push_back({item.first.Scalar(), std::nullopt});
      checkTemplates(item.second, path);
      path.pop_back();
    }
    return;
  }
  if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      path.push_back({"", i});
      checkTemplates(node[i], path);
      path.pop_back();
    }
    return;
  }
  if (!node.IsScalar() || node.Scalar().find("{{") == std::string::npos) return;
  Json value = yamlScalarToJson(node);
  if (!value.is_string()) return;
  std::string input = formatPath(path, path.size());
  try {
    Template parsed = Template::parse(value.get_ref<const std::string&>());
    for (const Reference& reference : parsed.references()) checkReference(reference, node, "input '" + input + "'");
  } catch (const TemplateSyntaxError& error) {
    diagnostics_.error(diagnostics_.markInScalar(node, error.column()), "input '" + input + "': " + error.what(),
                       error.excerpt());
  }
}

bool IntegrationParser::checkReference(const Reference& reference, const YAML::Node& scalar,
                                       const std::string& subject) {
  SourceMark at = diagnostics_.markInScalar(scalar, reference.column);
  std::string prefix = subject + ": reference '" + reference.path() + "': ";
  if (reference.root == ReferenceRoot::StepResults || reference.root == ReferenceRoot::StepError) {
    const std::string& name = reference.name;
    auto loop = loopOf_.find(name);
    if (loop == loopOf_.end()) {
      std::vector<std::string> names;
      for (const auto& [known, inside] : loopOf_) names.push_back(known);
      diagnostics_.error(at, prefix + "no step named '" + name + "'" + didYouMean(name, names));
      return false;
    }
    if (name == currentStep_) {
      diagnostics_.error(at, prefix + "a step cannot use its own results");
      return false;
    }
    if (std::find(visible_.begin(), visible_.end(), name) == visible_.end()) {
      diagnostics_.error(at, prefix + "step '" + name +
                                 "' does not run before this one; a step can only use the results of the steps "
                                 "before it (in a branch or a loop, also those before the branch or loop)");
      return false;
    }
    if (!loop->second.empty() && loop->second != currentLoop_) {
      diagnostics_.error(at, prefix + "step '" + name + "' runs once per iteration of loop '" + loop->second +
                                 "'; after the loop, use steps." + loop->second +
                                 ".results (each iteration's last result)");
      return false;
    }
  } else if (reference.root == ReferenceRoot::Loop && currentLoop_.empty()) {
    diagnostics_.error(at, prefix + "loop.item and loop.index exist only in the steps of a loop");
    return false;
  } else if (reference.root == ReferenceRoot::ConfigVar && !spec_.configVar(reference.name)) {
    std::string hint = didYouMean(reference.name, keysOf(configVarMarks_));
    if (hint.empty()) hint = "; declare it under configVars";
    diagnostics_.error(at, prefix + "no config variable '" + reference.name + "'" + hint);
    return false;
  }
  return true;
}

// --- instances --------------------------------------------------------------

void IntegrationParser::parseInstances(const YamlEntry* entry) {
  if (!entry || entry->value.IsNull()) {
    spec_.instances.push_back(InstanceSpec{"default", Json::object(), true});
    checkConfigVarsWithoutInstances();
    return;
  }
  if (!entry->value.IsSequence()) {
    diagnostics_.error(*entry, "'instances' must be a list of instances (- name: ..., configVars: "
                               "{...}), not " + describeNode(entry->value));
    return;
  }
  if (entry->value.size() == 0) {
    diagnostics_.error(*entry, "'instances' is empty; list at least one instance, or remove the key "
                               "to get one instance named 'default'");
    return;
  }
  std::size_t number = 0;
  for (const auto& node : entry->value) parseInstance(node, ++number);
}

void IntegrationParser::parseInstance(const YAML::Node& node, std::size_t number) {
  std::string where = describeItem(node, "instance", "name", number);
  if (!node.IsMap()) {
    diagnostics_.error(node, where + " must be a map with name and configVars, not " + describeNode(node));
    return;
  }
  Entries fields = diagnostics_.entries(node, kInstanceKeys, where);
  requireKeys(fields, node, where, {"name"});
  const YamlEntry* nameField = find(fields, "name");
  if (!nameField) return;
  const YamlEntry& name = *nameField;

  InstanceSpec instance;
  instance.name = text(name, "name").value_or("");
  if (instance.name.empty()) {
    if (name.value.IsScalar()) diagnostics_.error(name, "instance name is empty");
    return;
  }
  if (!instanceNames_.insert(instance.name).second)
    diagnostics_.error(name, "instance name '" + instance.name + "' is used twice");
  if (const YamlEntry* enabled = find(fields, "enabled"))
    instance.enabled = boolean(*enabled, "enabled").value_or(true);

  if (const YamlEntry* vars = find(fields, "configVars")) {
    if (vars->value.IsMap()) {
      parseInstanceConfigVars(instance, vars->value);
    } else if (!vars->value.IsNull()) {
      diagnostics_.error(*vars, "'configVars' of an instance must be a map of config variable keys to "
                                "values, not " + describeNode(vars->value));
    }
  }
  checkUnsetConfigVars(instance, diagnostics_.mark(name));
  spec_.instances.push_back(std::move(instance));
}

void IntegrationParser::parseInstanceConfigVars(InstanceSpec& instance, const YAML::Node& map) {
  if (!json(YamlEntry{map, map})) return;  // A repeated or complex key, reported.
  for (const auto& item : map) {
    YamlEntry field{item.first, item.second};
    std::string key = item.first.Scalar();
    const ConfigVarSpec* var = spec_.configVar(key);
    if (!var) {
      std::string hint = didYouMean(key, keysOf(configVarMarks_));
      if (hint.empty()) hint = "; declare it under configVars first";
      diagnostics_.error(field.key, "instance '" + instance.name + "' sets config variable '" + key +
                                        "', which is not declared" + hint);
      continue;
    }
    Json value = yamlToJson(field.value);
    if (value.is_null()) continue;  // Left empty: not set.
    checkFits(value, var->type, diagnostics_.mark(field),
              "config variable '" + key + "' of instance '" + instance.name + "'");
    instance.configVars[key] = std::move(value);
  }
}

void IntegrationParser::checkUnsetConfigVars(const InstanceSpec& instance, const SourceMark& at) {
  for (const auto& var : spec_.configVars) {
    if (var.defaultValue || instance.configVars.contains(var.key)) continue;
    if (var.required)
      diagnostics_.error(at, "instance '" + instance.name + "' does not set config variable '" + var.key +
                                 "', which is required and has no default");
    else if (scheduleConfigVar_ == var.key)
      diagnostics_.error(at, "instance '" + instance.name + "' does not set config variable '" + var.key +
                                 "', which the schedule trigger reads and which has no default");
  }
}

void IntegrationParser::checkConfigVarsWithoutInstances() {
  for (const auto& var : spec_.configVars) {
    if (var.defaultValue) continue;
    const SourceMark& at = configVarMarks_.at(var.key);
    if (var.required)
      diagnostics_.error(at, "config variable '" + var.key +
                                 "' is required and has no default, and there is no instances list "
                                 "to set it; give it a default, or add instances that set it");
    else if (scheduleConfigVar_ == var.key)
      diagnostics_.error(at, "config variable '" + var.key +
                                 "' has no default, and there is no instances list to set it, so the "
                                 "schedule trigger could never fire; give it a default, or add "
                                 "instances that set it");
  }
}

}  // namespace plexus::core
