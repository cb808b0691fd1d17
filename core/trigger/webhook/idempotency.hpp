// Webhook idempotency (CONTRACT §8): a request that repeats an
// Idempotency-Key seen for the same instance within the TTL starts nothing
// and replays the first execution; the same key with another body is a 422.
//
// The store is the record: a key is written in the transaction that creates
// its execution, so an acknowledged key survives kill -9 and a repeat after
// the restart still replays. The insert itself detects a repeat (the key's
// primary key; an expired record is replaced), so a fresh key costs no
// lookup. Requests with the same key are serialised by a lock stripe held
// until that transaction has committed, so a repeat sent at once waits for
// the first and then replays it (requests with other keys hash to other
// stripes, mostly, and do not wait for each other).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "store/store.hpp"
#include "util/clock.hpp"

namespace plexus::core {

/// The longest Idempotency-Key accepted (bytes); longer ones are a 400.
constexpr std::size_t kMaxIdempotencyKeyBytes = 255;

class IdempotencyGuard {
 public:
  /// What became of a keyed request.
  struct Admission {
    bool replay = false;      ///< True: `executionId` is the first request's; nothing was started.
    std::string executionId;  ///< The execution this request is answered with.
  };
  /// Starts the execution for a keyed request: records it with `key` (which
  /// it must pass to Engine::submit) and returns its id.
  using Start = std::function<std::string(IdempotencyKeyRecord key)>;

  IdempotencyGuard(Store& store, const TimeSource& clock, std::chrono::seconds ttl)
      : store_(store), clock_(clock), ttl_(ttl) {}

  /// Admits a request with `key` for `instanceId` whose raw body is
  /// `body`: replays the first execution when the key is recorded and
  /// unexpired, else calls `start`. Throws TriggerRefused 422 when the key
  /// was recorded with another body, 400 for a key over
  /// kMaxIdempotencyKeyBytes; what `start` throws passes through.
  Admission admit(const std::string& instanceId, const std::string& key, std::string_view body, const Start& start);

 private:
  /// Forgets expired keys, at most once a minute (on the calling request).
  void purgeExpired(TimePoint now);

  Store& store_;
  const TimeSource& clock_;
  const std::chrono::seconds ttl_;
  std::array<std::mutex, 256> stripes_;  // by hash of (instance, key); held across lookup + record
  std::atomic<std::int64_t> lastPurgeMs_{0};
};

}  // namespace plexus::core
