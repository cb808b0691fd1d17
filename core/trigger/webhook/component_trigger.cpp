#include "trigger/webhook/component_trigger.hpp"

#include "engine/config_values.hpp"
#include "integration/template.hpp"

namespace plexus::core {

namespace {

class RuntimeTriggerContext final : public plexus::TriggerContext {
 public:
  RuntimeTriggerContext(const InstanceRecord& instance, plexus::Json configVars, TimePoint now)
      : instance_(instance), configVars_(std::move(configVars)), now_(now) {}
  const std::string& instanceId() const override { return instance_.id; }
  const std::string& instanceName() const override { return instance_.name; }
  const plexus::Json& configVars() const override { return configVars_; }
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(now_.time_since_epoch()));
  }

 private:
  const InstanceRecord& instance_;
  plexus::Json configVars_;
  TimePoint now_;
};

}  // namespace

plexus::WebhookRequest webhookRequestFor(const WebhookRequestParts& parts) {
  plexus::WebhookRequest request;
  request.method = parts.method;
  request.headers = parts.headers;
  request.queryParameters = parts.queryParameters;
  request.rawBody = parts.rawBody;  // shares the bytes
  request.body = plexus::Json{{"data", parts.bodyData}, {"contentType", parts.contentType}};
  request.webhookUrl = parts.webhookUrl;
  return request;
}

plexus::TriggerResult callComponentTrigger(const ComponentTriggerSpec& spec, const ComponentCatalog& components,
                                           const IntegrationSpec& integration, const InstanceRecord& instance,
                                           const plexus::WebhookRequest& request, TimePoint now) {
  const std::string name = "trigger " + spec.component + "." + spec.trigger;
  LoadedComponentPtr component = components.find(spec.component);
  const plexus::TriggerSpec* trigger = component ? component->spec.trigger(spec.trigger) : nullptr;
  if (!trigger) throw TriggerRefused(500, name + " is not loaded (see the server's log)");
  plexus::Json configVars = effectiveConfigVars(integration, instance);
  const std::vector<std::string> secrets = secretValues(integration, configVars);
  const plexus::Json scope = {{"configVars", configVars},
                              {"instance", {{"id", instance.id}, {"name", instance.name}}},
                              {"integration", {{"key", integration.key}, {"name", integration.name}}}};
  RuntimeTriggerContext context(instance, std::move(configVars), now);
  try {
    plexus::Json given = spec.compiledInputs ? spec.compiledInputs->render(scope) : resolveInputs(spec.inputs, scope);
    plexus::Inputs inputs = trigger->prepareInputs(std::move(given));
    return trigger->perform(request, inputs, context);
  } catch (const plexus::TriggerRefusal& refusal) {
    const int status = refusal.status() >= 400 && refusal.status() <= 599 ? refusal.status() : 500;
    throw TriggerRefused(status, redact(refusal.what(), secrets), refusal.headers());
  } catch (const std::exception& error) {
    throw TriggerRefused(500, name + " failed: " + redact(error.what(), secrets));
  } catch (...) {
    // A plugin may throw anything; there is no cause to show beyond that.
    throw TriggerRefused(500, name + " threw something that is not a std::exception");
  }
}

}  // namespace plexus::core
