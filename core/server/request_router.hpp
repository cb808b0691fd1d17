// Where every HTTP request enters: routes a path to its handler.
#pragma once

#include <optional>

#include "server/http_message.hpp"
#include "server/runtime.hpp"

namespace plexus::core {

/// Routes:
///   GET  /healthz                              -> health
///   ANY  /trigger/{token}                      -> WebhookHandler
///   GET  /executions/{id}/result               -> the final step's output
///   ...  /api/...                              -> ApiHandler (bearer token when configured)
/// Handlers are short-lived (one per request) and borrow the Runtime.
/// Thread-safe: the front end calls it from many threads at once.
class RequestRouter {
 public:
  explicit RequestRouter(Runtime& runtime) : runtime_(runtime) {}
  /// Called on the I/O thread once the head has arrived, before the body is
  /// read: a refusal that makes reading the body pointless (an unknown
  /// webhook token). Must not block.
  std::optional<HttpResponse> refuseEarly(const std::string& method, const std::string& target) const;
  /// Serves a complete request; may block (a synchronous webhook waits for
  /// its execution). Never throws: an unexpected failure is a JSON 500.
  HttpResponse handle(const HttpRequest& request) const;

 private:
  Runtime& runtime_;
};

}  // namespace plexus::core
