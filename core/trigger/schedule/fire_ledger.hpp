// What the scheduler needs from storage to fire each due time exactly once.
#pragma once

#include <optional>
#include <string>

#include "util/time.hpp"

namespace plexus::core {

/// The record of schedule fires. Implemented by the Store; the scheduler
/// depends on this narrow interface only.
/// Threads: safe to call from any thread.
class FireLedger {
 public:
  virtual ~FireLedger() = default;
  /// Records that `instanceId` fired for `dueAt`. Returns false when that
  /// fire, or a later one of the same instance, was already recorded (it
  /// must not run again): an instance's fires are recorded in due order, so
  /// the latest is all a ledger needs to keep. Durable on return.
  virtual bool recordFire(const std::string& instanceId, TimePoint dueAt) = 0;
  /// The latest recorded due time for the instance, if any.
  virtual std::optional<TimePoint> lastFire(const std::string& instanceId) = 0;
};

}  // namespace plexus::core
