#include "instances/instance_service.hpp"

#include "engine/config_values.hpp"
#include "trigger/schedule/schedule.hpp"
#include "util/ids.hpp"
#include "util/time.hpp"

namespace plexus::core {

void InstanceService::loadAll() {
  std::lock_guard<std::mutex> lock(changes_);
  for (const IntegrationPtr& integration : integrations_.all()) {
    for (const InstanceSpec& declared : integration->instances) {
      auto existing = store_.instanceByName(integration->key, declared.name);
      InstanceRecord record;
      if (existing) {
        record = *existing;
      } else {
        record.id = randomId(16);
        record.integrationKey = integration->key;
        record.name = declared.name;
        record.enabled = declared.enabled;
        record.createdAt = nowMs();
      }
      bool webhook = kinds_.of(integration->trigger.kind).usesWebhookToken();
      if (webhook && record.webhookToken.empty()) record.webhookToken = randomId(24);
      if (!webhook) record.webhookToken.clear();
      if (!existing || record.webhookToken != existing->webhookToken) store_.saveInstance(record);
    }
  }
  for (const InstanceRecord& instance : store_.instances()) {
    remember(instance);
    announce(instance);
  }
}

void InstanceService::remember(const InstanceRecord& instance) {
  std::unique_lock<std::shared_mutex> lock(mapsMutex_);
  auto old = byId_.find(instance.id);
  if (old != byId_.end() && !old->second.webhookToken.empty()) idByToken_.erase(old->second.webhookToken);
  byId_[instance.id] = instance;
  if (!instance.webhookToken.empty()) idByToken_[instance.webhookToken] = instance.id;
}

void InstanceService::forget(const std::string& id) {
  std::unique_lock<std::shared_mutex> lock(mapsMutex_);
  auto it = byId_.find(id);
  if (it == byId_.end()) return;
  if (!it->second.webhookToken.empty()) idByToken_.erase(it->second.webhookToken);
  byId_.erase(it);
}

std::optional<InstanceRecord> InstanceService::byToken(const std::string& token) const {
  std::shared_lock<std::shared_mutex> lock(mapsMutex_);
  auto id = idByToken_.find(token);
  if (id == idByToken_.end()) return std::nullopt;
  return byId_.at(id->second);
}

std::optional<InstanceRecord> InstanceService::byId(const std::string& id) const {
  std::shared_lock<std::shared_mutex> lock(mapsMutex_);
  auto it = byId_.find(id);
  if (it == byId_.end()) return std::nullopt;
  return it->second;
}

plexus::Json InstanceService::describe(const InstanceRecord& instance) const {
  plexus::Json out = {{"id", instance.id},
                      {"name", instance.name},
                      {"integration", instance.integrationKey},
                      {"enabled", instance.enabled}};
  IntegrationPtr integration = integrations_.find(instance.integrationKey);
  if (!integration) {
    if (!instance.webhookToken.empty()) kinds_.of(TriggerKind::Webhook).describe(IntegrationSpec{}, instance, {}, out);
    out["error"] = "integration '" + instance.integrationKey + "' is not deployed";
    return out;
  }
  out["configVars"] = maskSecrets(*integration, effectiveConfigVars(*integration, instance));
  kinds_.of(integration->trigger.kind).describe(*integration, instance, out["configVars"], out);
  return out;
}

void InstanceService::announce(const InstanceRecord& instance) {
  if (IntegrationPtr integration = integrations_.find(instance.integrationKey))
    kinds_.of(integration->trigger.kind).instanceChanged(*integration, instance);
}

void InstanceService::validateConfigVars(const IntegrationSpec& integration, const plexus::Json& values) const {
  if (!values.is_object()) throw RequestError(400, "configVars must be an object");
  for (const auto& [key, value] : values.items()) {
    const ConfigVarSpec* spec = integration.configVar(key);
    if (!spec)
      throw RequestError(400, "integration '" + integration.key + "' has no config variable '" + key + "'");
    if (spec->type == plexus::InputType::Secret && value == "********")
      throw RequestError(400, "config variable '" + key + "' is a secret: send its real value, not the "
                              "mask GET shows (leave it out to keep the current one)");
    if (!value.is_null() && !plexus::valueFitsType(value, spec->type))
      throw RequestError(400, "config variable '" + key + "' must be " + plexus::toString(spec->type) +
                                  ", got " + plexus::describeType(value));
    if (spec->type == plexus::InputType::Schedule && !value.is_null()) {
      try {
        parseSchedule(value);
      } catch (const ScheduleError& error) {
        throw RequestError(400, "config variable '" + key + "': " + error.what());
      }
    }
  }
}

InstanceRecord InstanceService::create(const plexus::Json& body) {
  if (!body.is_object()) throw RequestError(400, "the request body must be a JSON object");
  for (const char* field : {"integration", "name"})
    if (body.contains(field) && !body[field].is_string())
      throw RequestError(400, std::string("\"") + field + "\" must be a string");
  if (body.contains("enabled") && !body["enabled"].is_boolean())
    throw RequestError(400, "\"enabled\" must be true or false");
  std::string key = body.value("integration", "");
  std::string name = body.value("name", "");
  IntegrationPtr integration = integrations_.find(key);
  if (!integration) throw RequestError(400, "no deployed integration '" + key + "' (see GET /api/integrations)");
  if (name.empty()) throw RequestError(400, "\"name\" is required: a name for the new instance");
  plexus::Json configVars = body.value("configVars", plexus::Json::object());
  validateConfigVars(*integration, configVars);

  std::lock_guard<std::mutex> lock(changes_);
  if (store_.instanceByName(key, name))
    throw RequestError(409, "integration '" + key + "' already has an instance named '" + name + "'");
  InstanceRecord record;
  record.id = randomId(16);
  record.integrationKey = key;
  record.name = name;
  record.enabled = body.value("enabled", true);
  record.configVars = configVars;
  record.createdAt = nowMs();
  if (kinds_.of(integration->trigger.kind).usesWebhookToken()) record.webhookToken = randomId(24);
  store_.saveInstance(record);
  remember(record);
  announce(record);
  return record;
}

InstanceRecord InstanceService::update(const std::string& id, const plexus::Json& body) {
  if (!body.is_object()) throw RequestError(400, "the request body must be a JSON object");
  std::lock_guard<std::mutex> lock(changes_);
  auto record = store_.instance(id);
  if (!record) throw RequestError(404, "no instance '" + id + "'");
  IntegrationPtr integration = integrations_.find(record->integrationKey);
  for (const auto& [key, value] : body.items()) {
    if (key == "enabled") {
      if (!value.is_boolean()) throw RequestError(400, "\"enabled\" must be true or false");
      record->enabled = value.get<bool>();
    } else if (key == "configVars") {
      if (!integration) throw RequestError(409, "integration '" + record->integrationKey + "' is not deployed");
      validateConfigVars(*integration, value);
      for (const auto& [name, setting] : value.items()) {
        if (setting.is_null()) record->configVars.erase(name);  // Back to the file's value or default.
        else record->configVars[name] = setting;
      }
    } else if (key == "name") {
      throw RequestError(400, "an instance cannot be renamed; create a new one");
    } else {
      throw RequestError(400, "unknown field \"" + key + "\" (expected \"enabled\" or \"configVars\")");
    }
  }
  store_.saveInstance(*record);
  remember(*record);
  announce(*record);
  return *record;
}

void InstanceService::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(changes_);
  if (!store_.deleteInstance(id)) throw RequestError(404, "no instance '" + id + "'");
  std::optional<InstanceRecord> known = byId(id);
  IntegrationPtr integration = known ? integrations_.find(known->integrationKey) : nullptr;
  forget(id);
  if (integration) kinds_.of(integration->trigger.kind).instanceRemoved(id);
}

}  // namespace plexus::core
