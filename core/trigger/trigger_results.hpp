// trigger.results (CONTRACT §4, §5): built here and nowhere else, for the
// webhook intake, the scheduler and `plexus run` alike.
#pragma once

#include <string>

#include <plexus/value.hpp>

#include "integration/model.hpp"
#include "store/store.hpp"

namespace plexus::core {

/// What a webhook request contributes to its trigger results.
struct WebhookRequestParts {
  std::string method;
  plexus::Json headers = plexus::Json::object();          ///< Lower-cased names.
  plexus::Json queryParameters = plexus::Json::object();
  plexus::Json bodyData;                                   ///< Parsed by content type (or deferred JSON).
  std::string contentType;
  plexus::Binary rawBody;                                  ///< The bytes as received.
  std::string webhookUrl;
};

/// `{method, headers, queryParameters, body, rawBody, webhookUrl,
/// executionId, startedAt, instance, integration}`. Takes the request's
/// parts by value: bodies are moved, not copied.
plexus::Json webhookTriggerResults(WebhookRequestParts request, const std::string& executionId,
                                   const std::string& startedAt, const InstanceRecord& instance,
                                   const IntegrationSpec& integration);

/// A component trigger's own trigger results (TriggerResult::run(results),
/// an object), with executionId, startedAt, webhookUrl, instance and
/// integration set by the runtime (the trigger cannot know them).
plexus::Json componentTriggerResults(plexus::Json own, const std::string& webhookUrl, const std::string& executionId,
                                     const std::string& startedAt, const InstanceRecord& instance,
                                     const IntegrationSpec& integration);

/// `{scheduledAt, startedAt, executionId, instance, integration}`. The
/// times come formatted (ISO-8601), since fires due together share them.
plexus::Json scheduleTriggerResults(const std::string& scheduledAt, const std::string& startedAt,
                                    const std::string& executionId, const InstanceRecord& instance,
                                    const IntegrationSpec& integration);

}  // namespace plexus::core
