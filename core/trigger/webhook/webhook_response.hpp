// `trigger.webhook.response` (CONTRACT §8): the reply an asynchronous
// webhook call gets instead of 200 {"executionId"}.
#pragma once

#include <plexus/result.hpp>
#include <plexus/value.hpp>

#include "integration/model.hpp"

namespace plexus::core {

/// The reply `spec` describes, its templates rendered against `scope`
/// ({execution: {id}, trigger: {results}, configVars, instance,
/// integration}). Throws TemplateError naming the template that did not
/// render; a header value that is not text is rendered as JSON.
plexus::StatusResult renderWebhookResponse(const WebhookResponseSpec& spec, const plexus::Json& scope);

}  // namespace plexus::core
