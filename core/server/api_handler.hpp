// /healthz, /executions/{id}/result and the /api endpoints (CONTRACT §6).
#pragma once

#include <string>
#include <vector>

#include <Poco/Net/HTTPRequestHandler.h>

#include "server/runtime.hpp"

namespace plexus::core {

class ApiHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit ApiHandler(Runtime& runtime) : runtime_(runtime) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override;

 private:
  void route(const std::string& method, const std::vector<std::string>& path,
             Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  void listExecutions(const Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  void getExecution(const std::string& id, Poco::Net::HTTPServerResponse& response);
  void getStepResult(const std::string& id, const std::string& step, Poco::Net::HTTPServerResponse& response);
  void getFinalResult(const std::string& id, Poco::Net::HTTPServerResponse& response);
  void instances(const std::string& method, const std::vector<std::string>& path,
                 Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  void listIntegrations(Poco::Net::HTTPServerResponse& response);
  void listComponents(Poco::Net::HTTPServerResponse& response);
  bool authorized(const Poco::Net::HTTPServerRequest& request) const;

  Runtime& runtime_;
};

/// The execution as GET /api/executions/{id} shows it.
plexus::Json describeExecution(const ExecutionRecord& execution);

}  // namespace plexus::core
