// The webhook intake: /trigger/{token}.
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>

#include "server/runtime.hpp"

namespace plexus::core {

/// Turns one webhook request into an execution (CONTRACT §4): checks the
/// token and the size limit, parses the body, records the execution, then
/// answers at once (async) or when it ends (sync).
class WebhookHandler : public Poco::Net::HTTPRequestHandler {
 public:
  WebhookHandler(Runtime& runtime, std::string token) : runtime_(runtime), token_(std::move(token)) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override;

 private:
  void replySynchronously(const std::string& executionId, Poco::Net::HTTPServerResponse& response);

  Runtime& runtime_;
  std::string token_;
};

}  // namespace plexus::core
