// What one trigger kind (webhook, schedule) adds to Plexus, so that instance
// management, the API and the composition root never switch on the kind:
// they ask the kind's handler. A new kind is one folder below core/trigger/
// (what its requests or events become), one handler here, and one
// registration line in the composition root (server/runtime.cpp).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <plexus/value.hpp>

#include "integration/model.hpp"
#include "store/store.hpp"

namespace plexus::core {

class TriggerKindHandler {
 public:
  virtual ~TriggerKindHandler() = default;
  /// The kind it handles (`trigger: {webhook: ...}` or `{schedule: ...}`).
  virtual TriggerKind kind() const = 0;
  /// True when each instance gets a webhook token (and so a URL).
  virtual bool usesWebhookToken() const { return false; }
  /// An instance of `integration` was loaded at start, created, or changed
  /// (enabled, disabled, new config values). Called with instance changes
  /// serialised (InstanceService holds its lock).
  virtual void instanceChanged(const IntegrationSpec& integration, const InstanceRecord& instance) {
    (void)integration;
    (void)instance;
  }
  /// The instance was deleted.
  virtual void instanceRemoved(const std::string& instanceId) { (void)instanceId; }
  /// Adds this kind's fields to an instance as GET /api/instances shows it
  /// (`webhookUrl`; `schedule`, `nextRunAt`). `shownConfigVars` are the
  /// instance's effective config values with secrets masked.
  virtual void describe(const IntegrationSpec& integration, const InstanceRecord& instance,
                        const plexus::Json& shownConfigVars, plexus::Json& out) const {
    (void)integration;
    (void)instance;
    (void)shownConfigVars;
    (void)out;
  }
};

/// The registered kinds, filled once by the composition root before anything
/// is served; read-only (and so safe from any thread) after that.
class TriggerKinds {
 public:
  void add(std::unique_ptr<TriggerKindHandler> handler) { handlers_.push_back(std::move(handler)); }
  /// The handler of `kind`; throws std::logic_error if none was registered.
  TriggerKindHandler& of(TriggerKind kind) const {
    for (const auto& handler : handlers_)
      if (handler->kind() == kind) return *handler;
    throw std::logic_error("no handler registered for this trigger kind");
  }

 private:
  std::vector<std::unique_ptr<TriggerKindHandler>> handlers_;
};

}  // namespace plexus::core
