#include "trigger/webhook/webhook_response.hpp"

#include "integration/template.hpp"

namespace plexus::core {

plexus::StatusResult renderWebhookResponse(const WebhookResponseSpec& spec, const plexus::Json& scope) {
  plexus::Json parts = {{"headers", spec.headers}};
  if (spec.body) parts["body"] = *spec.body;
  plexus::Json rendered = spec.compiled ? spec.compiled->render(scope) : resolveInputs(parts, scope);
  plexus::StatusResult reply;
  reply.statusCode = spec.statusCode;
  for (const auto& [name, value] : rendered["headers"].items())
    reply.headers[name] =
        value.is_string() ? value.get<std::string>() : value.dump(-1, ' ', false, plexus::Json::error_handler_t::replace);
  if (rendered.contains("body")) reply.body = std::move(rendered["body"]);
  return reply;
}

}  // namespace plexus::core
