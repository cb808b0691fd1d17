#include "trigger/trigger_results.hpp"

#include <utility>

namespace plexus::core {
namespace {

plexus::Json instancePart(const InstanceRecord& instance) {
  return {{"id", instance.id}, {"name", instance.name}};
}

plexus::Json integrationPart(const IntegrationSpec& integration) {
  return {{"key", integration.key}, {"name", integration.name}};
}

}  // namespace

plexus::Json webhookTriggerResults(WebhookRequestParts request, const std::string& executionId,
                                   const std::string& startedAt, const InstanceRecord& instance,
                                   const IntegrationSpec& integration) {
  return plexus::Json{
      {"method", std::move(request.method)},
      {"headers", std::move(request.headers)},
      {"queryParameters", std::move(request.queryParameters)},
      {"body", {{"data", std::move(request.bodyData)}, {"contentType", request.contentType}}},
      {"rawBody", {{"data", plexus::Json::binary(std::move(request.rawBody))}, {"contentType", request.contentType}}},
      {"webhookUrl", std::move(request.webhookUrl)},
      {"executionId", executionId},
      {"startedAt", startedAt},
      {"instance", instancePart(instance)},
      {"integration", integrationPart(integration)}};
}

plexus::Json componentTriggerResults(plexus::Json own, const std::string& webhookUrl, const std::string& executionId,
                                     const std::string& startedAt, const InstanceRecord& instance,
                                     const IntegrationSpec& integration) {
  if (!own.is_object()) own = plexus::Json{{"data", std::move(own)}};
  own["webhookUrl"] = webhookUrl;
  own["executionId"] = executionId;
  own["startedAt"] = startedAt;
  own["instance"] = instancePart(instance);
  own["integration"] = integrationPart(integration);
  return own;
}

plexus::Json scheduleTriggerResults(const std::string& scheduledAt, const std::string& startedAt,
                                    const std::string& executionId, const InstanceRecord& instance,
                                    const IntegrationSpec& integration) {
  return plexus::Json{{"scheduledAt", scheduledAt},
                      {"startedAt", startedAt},
                      {"executionId", executionId},
                      {"instance", instancePart(instance)},
                      {"integration", integrationPart(integration)}};
}

}  // namespace plexus::core
