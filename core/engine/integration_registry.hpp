// The integrations currently deployed, by key.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "integration/model.hpp"

namespace plexus::core {

using IntegrationPtr = std::shared_ptr<const IntegrationSpec>;

/// Deployed integrations. Specs are immutable and shared: a running
/// execution keeps the spec it started with even if the set is replaced.
/// Threads: all methods are safe from any thread (one mutex, held briefly).
class IntegrationRegistry {
 public:
  /// Replaces the whole set (a reload).
  void replaceAll(std::vector<IntegrationSpec> specs);
  /// The integration with this key, or nullptr.
  IntegrationPtr find(const std::string& key) const;
  /// Every integration, sorted by key.
  std::vector<IntegrationPtr> all() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, IntegrationPtr> byKey_;
};

}  // namespace plexus::core
