// Calling a component's trigger (CONTRACT §8) at the plugin boundary: the
// request goes in, run / reply comes out, and anything else it does
// (a refusal, an exception) becomes a TriggerRefused with the status to send.
#pragma once

#include <map>
#include <stdexcept>
#include <string>

#include <plexus/trigger.hpp>

#include "integration/model.hpp"
#include "loader/component_catalog.hpp"
#include "store/store.hpp"
#include "trigger/trigger_results.hpp"
#include "util/time.hpp"

namespace plexus::core {

/// The webhook answers `status` with {"error": message} and `headers`, and
/// runs nothing: a component trigger refused the request, or failed.
class TriggerRefused : public std::runtime_error {
 public:
  TriggerRefused(int status, const std::string& message, std::map<std::string, std::string> headers = {})
      : std::runtime_error(message), status_(status), headers_(std::move(headers)) {}
  int status() const { return status_; }
  const std::map<std::string, std::string>& headers() const { return headers_; }

 private:
  int status_;
  std::map<std::string, std::string> headers_;
};

/// The request as a component trigger sees it (copies of the parts: the
/// trigger results are built from the originals afterwards).
plexus::WebhookRequest webhookRequestFor(const WebhookRequestParts& parts);

/// Runs the integration's component trigger (`spec`) on `request` for
/// `instance`: renders its inputs (configVars, instance, integration),
/// checks them against the trigger's specs and calls its perform. Returns
/// what it decided. Throws TriggerRefused: with the trigger's status for a
/// plexus::TriggerRefusal (500 if that is not 400–599), 500 for anything
/// else it throws, naming the trigger; secrets are masked in every message.
plexus::TriggerResult callComponentTrigger(const ComponentTriggerSpec& spec, const ComponentCatalog& components,
                                           const IntegrationSpec& integration, const InstanceRecord& instance,
                                           const plexus::WebhookRequest& request, TimePoint now);

}  // namespace plexus::core
