#include "trigger/webhook_kind.hpp"

namespace plexus::core {

std::string WebhookKind::webhookUrl(const InstanceRecord& instance) const {
  return instance.webhookToken.empty() ? "" : publicUrl_ + "/trigger/" + instance.webhookToken;
}

void WebhookKind::describe(const IntegrationSpec&, const InstanceRecord& instance, const plexus::Json&,
                           plexus::Json& out) const {
  if (!instance.webhookToken.empty()) out["webhookUrl"] = webhookUrl(instance);
}

}  // namespace plexus::core
