// Where every HTTP request enters: routes a path to its handler.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include "server/runtime.hpp"

namespace plexus::core {

/// Routes:
///   GET  /healthz                              -> health
///   ANY  /trigger/{token}                      -> WebhookHandler
///   GET  /executions/{id}/result               -> the final step's output
///   ...  /api/...                              -> ApiHandler (bearer token when configured)
/// Handlers are short-lived (one per request) and borrow the Runtime.
class RequestRouter : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit RequestRouter(Runtime& runtime) : runtime_(runtime) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override;

 private:
  Runtime& runtime_;
};

}  // namespace plexus::core
