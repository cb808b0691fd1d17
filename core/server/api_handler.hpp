// /healthz, /executions/{id}/result and the /api endpoints (CONTRACT §6).
#pragma once

#include <string>
#include <vector>


#include "server/http_message.hpp"
#include "server/runtime.hpp"

namespace plexus::core {

class ApiHandler {
 public:
  explicit ApiHandler(Runtime& runtime) : runtime_(runtime) {}
  void handle(const HttpRequest& request, HttpResponse& response);

 private:
  void route(const std::string& method, const std::vector<std::string>& path,
             const HttpRequest& request, HttpResponse& response);
  void listExecutions(const HttpRequest& request, HttpResponse& response);
  void getExecution(const std::string& id, HttpResponse& response);
  void cancelExecution(const std::string& id, HttpResponse& response);
  void replayExecution(const std::string& id, const HttpRequest& request, HttpResponse& response);
  void getStepResult(const std::string& id, const std::string& step, const HttpRequest& request,
                     HttpResponse& response);
  void getFinalResult(const std::string& id, HttpResponse& response);
  void instances(const std::string& method, const std::vector<std::string>& path,
                 const HttpRequest& request, HttpResponse& response);
  void listIntegrations(HttpResponse& response);
  void listComponents(HttpResponse& response);
  bool authorized(const HttpRequest& request) const;

  Runtime& runtime_;
};

/// The execution as GET /api/executions/{id} shows it.
plexus::Json describeExecution(const ExecutionRecord& execution);

}  // namespace plexus::core
