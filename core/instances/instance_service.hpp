// Instances: the ones the YAML files declare, and those made through the API
// (CONTRACT §6). Owns the rules (names unique per integration, config values
// checked, tokens for webhook kinds) and the in-memory maps the hot paths
// read (a webhook's token, a fire's instance id), and tells each instance's
// trigger kind when it changes.
#pragma once

#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include <plexus/value.hpp>

#include "engine/integration_registry.hpp"
#include "store/store.hpp"
#include "trigger/trigger_kind.hpp"

namespace plexus::core {

/// Thrown by instance management for requests that cannot be honoured;
/// `status` is the HTTP status to answer with.
class RequestError : public std::runtime_error {
 public:
  RequestError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

/// Threads: every method may be called from any thread. Changes are
/// serialised by `changes_` (the store, the maps and the trigger kinds
/// agree); lookups take `mapsMutex_` shared and never touch the database.
class InstanceService {
 public:
  InstanceService(Store& store, const IntegrationRegistry& integrations, const TriggerKinds& kinds)
      : store_(store), integrations_(integrations), kinds_(kinds) {}

  /// At start: records the instances the files declare (new ones with a new
  /// id and token; existing ones keep theirs), then loads every stored
  /// instance into memory and tells its trigger kind.
  void loadAll();

  /// The instance whose webhook token this is, from memory.
  std::optional<InstanceRecord> byToken(const std::string& token) const;
  /// The instance with this id, from memory.
  std::optional<InstanceRecord> byId(const std::string& id) const;
  /// The instance as GET /api/instances shows it (secrets masked, its
  /// trigger kind's fields).
  plexus::Json describe(const InstanceRecord& instance) const;

  /// POST /api/instances, PATCH and DELETE /api/instances/{id}. Throw RequestError.
  InstanceRecord create(const plexus::Json& body);
  InstanceRecord update(const std::string& id, const plexus::Json& body);
  void remove(const std::string& id);

 private:
  void validateConfigVars(const IntegrationSpec& integration, const plexus::Json& values) const;
  void remember(const InstanceRecord& instance);  // Requires changes_.
  void forget(const std::string& id);             // Requires changes_.
  /// Tells the integration's trigger kind (if the integration is deployed).
  void announce(const InstanceRecord& instance);  // Requires changes_.

  Store& store_;
  const IntegrationRegistry& integrations_;
  const TriggerKinds& kinds_;
  std::mutex changes_;  // Serialises instance changes (store + maps + trigger kinds).
  // Every instance by id, and webhook instances' ids by token. Written
  // under changes_ and mapsMutex_ (exclusive); read under mapsMutex_ (shared).
  mutable std::shared_mutex mapsMutex_;
  std::unordered_map<std::string, InstanceRecord> byId_;
  std::unordered_map<std::string, std::string> idByToken_;
};

}  // namespace plexus::core
