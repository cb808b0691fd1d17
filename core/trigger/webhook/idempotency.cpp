#include "trigger/webhook/idempotency.hpp"

#include <Poco/Logger.h>

#include "store/payload_codec.hpp"
#include "trigger/webhook/component_trigger.hpp"

namespace plexus::core {

namespace {
constexpr std::chrono::minutes kPurgeEvery{1};
constexpr std::size_t kPurgeBatch = 10000;
constexpr std::chrono::milliseconds kPurgeBudget{200};
}  // namespace

IdempotencyGuard::Admission IdempotencyGuard::admit(const std::string& instanceId, const std::string& key,
                                                    std::string_view body, const Start& start) {
  if (key.size() > kMaxIdempotencyKeyBytes)
    throw TriggerRefused(400, "the idempotency key is " + std::to_string(key.size()) + " bytes; at most " +
                                  std::to_string(kMaxIdempotencyKeyBytes) + " are accepted");
  const std::string bodySha256 = sha256Hex(body);  // before the lock: a large body takes a while
  purgeExpired(clock_.now());
  std::mutex& stripe = stripes_[std::hash<std::string>{}(instanceId + '\n' + key) % stripes_.size()];
  std::lock_guard<std::mutex> lock(stripe);
  const TimePoint now = clock_.now();
  auto replay = [&](const IdempotencyKeyRecord& first) {
    if (first.bodySha256 != bodySha256)
      throw TriggerRefused(422, "this idempotency key was used for another request body; send a new key "
                                "for a new request");
    return Admission{true, first.executionId};
  };
  // Insert first, read only on a conflict: a fresh key (the common case)
  // costs its row in the execution's transaction and no lookup. The store's
  // primary key is the arbiter, also for another process on the same store;
  // the stripe keeps this process's requests for the key in order.
  IdempotencyKeyRecord record{instanceId, key, bodySha256, "", now + ttl_, now};
  try {
    return Admission{false, start(record)};
  } catch (const IdempotencyKeyTaken&) {
    if (auto first = store_.idempotencyKey(instanceId, key, now)) return replay(*first);
    throw;  // it expired in between: the caller may retry
  }
}

void IdempotencyGuard::purgeExpired(TimePoint now) {
  const std::int64_t nowMs = now.time_since_epoch().count();
  std::int64_t last = lastPurgeMs_.load();
  const std::int64_t every = std::chrono::duration_cast<std::chrono::milliseconds>(kPurgeEvery).count();
  if (nowMs - last < every || !lastPurgeMs_.compare_exchange_strong(last, nowMs)) return;
  try {
    // Batches until the expired keys are gone or this took long enough
    // (the rest go next minute): a burst of keys a day ago must not grow
    // the table for good, nor stall this request for long.
    const auto until = clock_.steadyNow() + kPurgeBudget;
    while (store_.purgeIdempotencyKeys(now, kPurgeBatch) == kPurgeBatch && clock_.steadyNow() < until) {
    }
  } catch (const StoreError& error) {
    // Expired keys are ignored by lookups anyway; the next purge tries again.
    Poco::Logger::get("plexus.webhook").warning("could not forget expired idempotency keys: %s",
                                                std::string(error.what()));
  }
}

}  // namespace plexus::core
