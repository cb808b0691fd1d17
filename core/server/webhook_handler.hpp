// The webhook intake: /trigger/{token}.
#pragma once

#include <optional>

#include "server/http_message.hpp"
#include "server/runtime.hpp"

namespace plexus::core {

/// Turns one webhook request into an execution (CONTRACT §4, §8): checks the
/// token, parses the body, lets the integration's component trigger run,
/// reply or refuse, admits an idempotency key, records the execution, then
/// answers at once (async, or the trigger's own reply) or when it ends
/// (sync). The size limit is the front end's.
class WebhookHandler {
 public:
  WebhookHandler(Runtime& runtime, std::string token) : runtime_(runtime), token_(std::move(token)) {}
  /// The refusal to send before the body is read (an unknown token or a
  /// disabled instance: 404), or nothing when the request may go on.
  std::optional<HttpResponse> refuseEarly() const;
  void handle(const HttpRequest& request, HttpResponse& response);

 private:
  void replySynchronously(const std::string& executionId, HttpResponse& response);
  /// trigger.webhook.response, rendered with the execution's id.
  void replyAsConfigured(const WebhookResponseSpec& spec, const std::string& executionId, plexus::Json& scope,
                         HttpResponse& response);

  Runtime& runtime_;
  std::string token_;
};

}  // namespace plexus::core
