// The webhook trigger kind: every instance has a token and so a URL,
// `{public-url}/trigger/{token}` (CONTRACT §4). Requests themselves go
// through core/trigger/webhook/.
#pragma once

#include <string>

#include "trigger/trigger_kind.hpp"

namespace plexus::core {

class WebhookKind final : public TriggerKindHandler {
 public:
  TriggerKind kind() const override { return TriggerKind::Webhook; }
  bool usesWebhookToken() const override { return true; }
  void describe(const IntegrationSpec& integration, const InstanceRecord& instance,
                const plexus::Json& shownConfigVars, plexus::Json& out) const override;

  /// Called once the HTTP port is bound, before anything is served.
  void setPublicUrl(std::string url) { publicUrl_ = std::move(url); }
  const std::string& publicUrl() const { return publicUrl_; }
  /// `{public-url}/trigger/{token}`, or "" for an instance without a token.
  std::string webhookUrl(const InstanceRecord& instance) const;

 private:
  std::string publicUrl_;
};

}  // namespace plexus::core
