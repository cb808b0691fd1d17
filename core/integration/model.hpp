// An integration as loaded from YAML: what the engine, scheduler and server
// run. Plain immutable data, built once by the YAML loader.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <plexus/component.hpp>
#include <plexus/value.hpp>

#include "trigger/schedule/schedule.hpp"  // MissedRunPolicy

namespace plexus::core {

/// Where something came from in a YAML file (lines and columns from 1).
struct SourceMark {
  std::string file;
  int line = 0;
  int column = 0;
};

class CompiledInputs;  // integration/template.hpp
class Template;        // integration/template.hpp

struct ConfigVarSpec {
  std::string key;
  plexus::InputType type = plexus::InputType::String;
  std::optional<plexus::Json> defaultValue;
  bool required = false;
  std::string label;
  std::string description;
};

/// `retry` of a step (CONTRACT §9): when an attempt throws or times out,
/// the step runs again after a wait, up to maxAttempts attempts in all.
struct RetrySpec {
  int maxAttempts = 1;              ///< All attempts, the first included; 1: no retry.
  long long delayMs = 1000;         ///< The wait before the second attempt.
  bool exponential = false;         ///< `backoff: exponential`: each wait doubles.
  long long maxDelayMs = 3600000;   ///< No wait is longer (default 1 h).
  bool jitter = false;              ///< Each wait drawn from [wait/2, wait].
};

/// What a failed step (its last attempt) does to the execution.
enum class OnError {
  Fail,      ///< The execution fails (the default).
  Continue,  ///< It goes on: steps.NAME.results is null, steps.NAME.error the message.
};

struct StepSpec;

/// One `- when:` (or the `- else:`) of a branch.
struct BranchCase {
  /// The condition, a template that is one expression; null for `else`.
  std::shared_ptr<const Template> when;
  std::vector<StepSpec> steps;
  SourceMark mark;
};

/// `loop:` over an array: its steps run once per item.
struct LoopSpec {
  /// `items`: a template that is one expression and gives an array.
  std::shared_ptr<const Template> items;
  int concurrency = 1;  ///< Iterations at once; at 1 they run in order.
  std::vector<StepSpec> steps;
};

/// One step: call `component.action` with `inputs`, or a branch, or a
/// loop. Input values are the raw YAML values converted to JSON; strings
/// may contain `{{ }}` expressions, rendered at run time by the engine.
struct StepSpec {
  enum class Kind { Action, Branch, Loop };
  Kind kind = Kind::Action;
  std::string name;
  std::string component;  ///< Action steps only.
  std::string action;     ///< Action steps only.
  plexus::Json inputs = plexus::Json::object();
  /// `timeoutMs`: each attempt of the step is told to stop (and fails) after it.
  std::optional<long long> timeoutMs;
  RetrySpec retry;
  OnError onError = OnError::Fail;
  std::vector<BranchCase> branches;  ///< Branch steps: the cases in order, `else` last.
  LoopSpec loop;                     ///< Loop steps.
  SourceMark mark;
  /// `inputs` with every template parsed once by the loader: render with
  /// compiledInputs->render(scope) instead of resolveInputs(inputs, scope).
  /// Set for every action step of a loaded integration; null in hand-built specs.
  std::shared_ptr<const CompiledInputs> compiledInputs;
};

enum class TriggerKind { Webhook, Schedule };

/// `trigger.webhook.component/trigger/inputs`: a component's trigger that
/// sees each request first (CONTRACT §8).
struct ComponentTriggerSpec {
  std::string component;
  std::string trigger;
  plexus::Json inputs = plexus::Json::object();
  /// `inputs` with templates parsed once (over configVars, instance, integration).
  std::shared_ptr<const CompiledInputs> compiledInputs;
  SourceMark mark;
};

/// `trigger.webhook.response`: the reply to an asynchronous call, instead
/// of `200 {"executionId"}`. Templates over execution, trigger.results,
/// configVars, instance and integration.
struct WebhookResponseSpec {
  int statusCode = 200;
  std::map<std::string, std::string> headers;  ///< Values may hold templates.
  std::optional<plexus::Json> body;            ///< Strings may hold templates.
  /// `headers` (an object) and `body` ({"body": ...}) with templates parsed once.
  std::shared_ptr<const CompiledInputs> compiled;
};

/// Options of a webhook trigger (CONTRACT §8); all optional.
struct WebhookTriggerSpec {
  std::optional<ComponentTriggerSpec> component;
  /// `idempotencyKey`: a template over trigger.results, configVars, instance
  /// and integration; a request for which it renders non-empty is keyed.
  std::shared_ptr<const Template> idempotencyKey;
  std::optional<WebhookResponseSpec> response;
};

struct IntegrationTrigger {
  TriggerKind kind = TriggerKind::Webhook;
  WebhookTriggerSpec webhook;
  /// For schedules: the raw schedule value from YAML — {every, unit},
  /// {cron, timezone} or {configVar: KEY} — validated at load time.
  plexus::Json schedule;
  MissedRunPolicy missedRuns = MissedRunPolicy::Last;
};

struct InstanceSpec {
  std::string name;
  plexus::Json configVars = plexus::Json::object();  ///< As given in YAML (no defaults applied).
  bool enabled = true;
};

/// `execution.concurrency`: how many executions of one instance may be
/// under way at once (running, waiting or awaiting an answer), and what
/// becomes of one beyond that.
struct ConcurrencySpec {
  int limit = 1;
  enum class Behavior {
    Queue,  ///< It waits, queued, in order, until one ends.
    Skip,   ///< It ends cancelled at once, saying why.
    Fail,   ///< It ends failed at once, saying why.
  } behavior = Behavior::Queue;
};

struct IntegrationSpec {
  std::string key;   ///< `key:` or derived from the name ("Render Status" -> "render-status").
  std::string name;
  std::string description;
  std::vector<ConfigVarSpec> configVars;
  IntegrationTrigger trigger;
  bool synchronous = false;  ///< execution.synchronous
  /// execution.timeoutMs: the whole run, waits included, from its start.
  std::optional<long long> timeoutMs;
  std::optional<ConcurrencySpec> concurrency;  ///< execution.concurrency; none: no limit.
  std::vector<StepSpec> steps;
  std::vector<InstanceSpec> instances;  ///< Never empty: "default" when the file has none.
  std::string file;  ///< The YAML file it was loaded from.
  SourceMark keyMark;  ///< Where the key comes from (`key:`, else `name:`): for duplicate-key errors.

  const ConfigVarSpec* configVar(const std::string& key) const {
    for (const auto& spec : configVars)
      if (spec.key == key) return &spec;
    return nullptr;
  }
  /// The step named `name`, at any depth (names are unique across the
  /// whole integration), or nullptr.
  const StepSpec* step(const std::string& name) const { return findStep(steps, name); }
  /// The loop step that `name` runs inside, or nullptr when it is not inside one.
  const StepSpec* enclosingLoop(const std::string& name) const { return findLoop(steps, name, nullptr); }
  /// The YAML declaration of the instance named `name`, or nullptr
  /// (instances created through the API have none). Constant time once
  /// indexInstances() has run (IntegrationRegistry runs it), a scan before:
  /// every execution looks its instance up, and a file may declare 10,000.
  const InstanceSpec* declaredInstance(const std::string& name) const {
    if (!instanceIndex_.empty() || instances.empty()) {
      auto it = instanceIndex_.find(name);
      return it == instanceIndex_.end() ? nullptr : &instances[it->second];
    }
    for (const auto& spec : instances)
      if (spec.name == name) return &spec;
    return nullptr;
  }
  /// Builds the index declaredInstance uses; call again after changing `instances`.
  void indexInstances() {
    instanceIndex_.clear();
    for (std::size_t i = 0; i < instances.size(); ++i) instanceIndex_.emplace(instances[i].name, i);
  }

 private:
  static const StepSpec* findStep(const std::vector<StepSpec>& list, const std::string& name);
  static const StepSpec* findLoop(const std::vector<StepSpec>& list, const std::string& name, const StepSpec* loop);
  std::unordered_map<std::string, std::size_t> instanceIndex_;  ///< name -> position in `instances`
};

}  // namespace plexus::core

namespace plexus::core {

/// Appends the name of every step in [first, last), nested ones too, in file order.
inline void collectStepNames(const StepSpec* first, const StepSpec* last, std::vector<std::string>& out);
inline void collectStepNames(const std::vector<StepSpec>& steps, std::vector<std::string>& out) {
  collectStepNames(steps.data(), steps.data() + steps.size(), out);
}
inline void collectStepNames(const StepSpec* first, const StepSpec* last, std::vector<std::string>& out) {
  for (const StepSpec* step = first; step != last; ++step) {
    out.push_back(step->name);
    for (const BranchCase& branch : step->branches) collectStepNames(branch.steps, out);
    collectStepNames(step->loop.steps, out);
  }
}

inline const StepSpec* IntegrationSpec::findStep(const std::vector<StepSpec>& list, const std::string& name) {
  for (const StepSpec& spec : list) {
    if (spec.name == name) return &spec;
    for (const BranchCase& branch : spec.branches)
      if (const StepSpec* found = findStep(branch.steps, name)) return found;
    if (const StepSpec* found = findStep(spec.loop.steps, name)) return found;
  }
  return nullptr;
}

inline const StepSpec* IntegrationSpec::findLoop(const std::vector<StepSpec>& list, const std::string& name,
                                                 const StepSpec* loop) {
  for (const StepSpec& spec : list) {
    if (spec.name == name) return loop;
    for (const BranchCase& branch : spec.branches)
      if (const StepSpec* found = findLoop(branch.steps, name, loop)) return found;
    if (const StepSpec* found = findLoop(spec.loop.steps, name, &spec)) return found;
  }
  return nullptr;
}

}  // namespace plexus::core
