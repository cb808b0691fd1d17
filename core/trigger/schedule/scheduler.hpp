// The Scheduler: fires each scheduled instance at each due time, once.
//
// One thread and a min-heap of (wake time, instance) — no thread per
// schedule and no polling: the thread sleeps on a condition variable until
// the earliest due time, or until upsert/remove/stop changes the heap.
//
// Exactly once: a fire (instance, due) runs only once it is recorded where
// FireLedger::lastFire sees it, and only if it was not recorded before, so
// a due time is never fired twice, across restarts or by two schedulers
// sharing a ledger. With a FireCallback the scheduler records it through
// FireLedger::recordFire, then calls the callback (even when the instance
// was removed meanwhile: the record says it ran). With a FireBatchHandler
// the handler records the fires due together, with what they start.
//
// Missed runs (the server was down, or the ledger was failing): when an
// instance is upserted and the ledger has a last fire for it, the due times
// after that fire and up to now follow its MissedRunPolicy:
//   None - none of them run; the next run is the next future due time.
//   Last - (the default) one run, for the latest missed due time.
//   All  - each missed due time runs, oldest first, at most kMaxMissedRuns
//          (the newest ones; older ones are dropped).
// An instance the ledger has never seen starts at its next future due time.
//
// A fire whose ledger write throws is retried every kLedgerRetryDelay until
// the ledger takes it; the due times missed meanwhile then follow the
// instance's policy, as after downtime.
//
// Fire ahead (setFireAhead): with a FireBatchHandler the scheduler may hand
// each fire over that long before it is due, so that the handler records it
// ahead (as an execution waiting for its due time) and recording 10,000
// fires due together costs nothing at the due time itself.
//
// Costs: upsert and remove are O(log n) (a replaced or removed entry's heap
// item is dropped lazily, and the heap is rebuilt once stale items outnumber
// live ones), so 10,000 instances are cheap.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "trigger/schedule/fire_ledger.hpp"
#include "trigger/schedule/schedule.hpp"
#include "util/clock.hpp"
#include "util/time.hpp"

namespace plexus::core {

/// Called on the scheduler thread for each fire, after it was recorded.
/// It must be quick (the engine only enqueues an execution): while it runs
/// no other instance fires. It may call Scheduler::nextRunAt, upsert and
/// remove, but not stop. An exception it throws is reported to the
/// ErrorCallback; the fire is not repeated.
using FireCallback = std::function<void(const std::string& instanceId, TimePoint dueAt)>;

/// A due time of an instance, handed to a FireBatchHandler.
struct DueTime {
  std::string instanceId;
  TimePoint due;
};
enum class FireOutcome {
  Fired,         ///< Recorded now, and started.
  FiredBefore,   ///< Recorded already (a restart, another scheduler): nothing to do.
  Failed,        ///< Not recorded: retried after kLedgerRetryDelay.
};
/// Records and starts several due fires at once (the fires that came due
/// together), returning one outcome per fire in order. Called on a firing
/// thread; one instance's fires always reach the same thread, in due order.
/// It owns exactly-once: a fire it reports Fired must be recorded where
/// FireLedger::lastFire will see it. Why batches: the store can record
/// thousands of fires, each with the execution it starts, in one
/// transaction, instead of one commit each.
using FireBatchHandler = std::function<std::vector<FireOutcome>(const std::vector<DueTime>& fires)>;

class Scheduler {
 public:
  using FireCallback = plexus::core::FireCallback;
  /// Told about failures the scheduler recovers from (the ledger throwing,
  /// the callback throwing). Called on the scheduler thread.
  using ErrorCallback = std::function<void(const std::string& message)>;

  /// The most missed runs MissedRunPolicy::All makes for one instance.
  static constexpr std::size_t kMaxMissedRuns = 1000;
  /// Firing threads (see FiringShard).
  static constexpr int kFiringThreads = 8;
  /// How long to wait before retrying a fire whose ledger write failed.
  static constexpr std::chrono::milliseconds kLedgerRetryDelay{1000};

  /// `ledger` (and `clock`) must outlive the Scheduler. Nothing fires until
  /// start(). Without `onError`, errors are written to std::cerr. Due times
  /// are on `clock`'s wall time (tests pass a SimulatedClock).
  Scheduler(FireLedger& ledger, FireCallback onFire, ErrorCallback onError = nullptr,
            const TimeSource& clock = TimeSource::real());
  /// As above, but `onFires` records and starts the fires itself, in
  /// batches; `ledger` is only asked for lastFire.
  Scheduler(FireLedger& ledger, FireBatchHandler onFires, ErrorCallback onError = nullptr,
            const TimeSource& clock = TimeSource::real());
  /// Stops the thread (as stop()).
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Hands each fire over `ahead` before it is due (default: at its due
  /// time); the handler gets the due time as always. Before start().
  void setFireAhead(std::chrono::milliseconds ahead) { fireAhead_ = ahead; }

  /// Starts the scheduler thread; does nothing when it is running.
  /// start() and stop() are for the owner's thread (not thread-safe with
  /// each other).
  void start();
  /// Stops and joins the thread: no fire starts after it returns. Entries
  /// are kept; start() resumes them. Must not be called from a callback.
  void stop();

  /// Adds the instance or replaces its schedule and policy. Calls
  /// ledger.lastFire(instanceId) (on the caller's thread) to schedule the
  /// runs missed since then by `policy`; throws what the ledger throws.
  /// Thread-safe.
  void upsert(const std::string& instanceId, Schedule schedule, MissedRunPolicy policy = MissedRunPolicy::Last);
  /// Stops scheduling the instance. A fire already recorded in the ledger
  /// still reaches the callback, even if remove returns first. Thread-safe;
  /// an unknown id is ignored.
  void remove(const std::string& instanceId);

  /// The instance's next due time (in the past while missed runs are being
  /// caught up), or nullopt for an unknown instance. Thread-safe.
  std::optional<TimePoint> nextRunAt(const std::string& instanceId) const;
  /// How many instances are scheduled. Thread-safe.
  std::size_t size() const;

 private:
  struct Entry {
    Schedule schedule;
    MissedRunPolicy policy;
    TimePoint due;         ///< The due time fired next.
    TimePoint wakeAt;      ///< When to fire it: `due`, or later when retrying.
    bool retrying = false; ///< `due` failed to reach the ledger.
    std::uint64_t version; ///< Matches the one live heap item.
  };
  struct HeapItem {
    TimePoint wakeAt;
    std::uint64_t version;
    std::string instanceId;
  };

  static bool wakesLater(const HeapItem& a, const HeapItem& b) { return a.wakeAt > b.wakeAt; }
  /// One due time handed from the timer thread to a firing thread.
  struct DueFire {
    std::string instanceId;
    TimePoint due;
    std::uint64_t version;
  };

  /// A firing thread and the due times handed to it. An instance always
  /// goes to the same shard, so its own fires stay in order; several shards
  /// fire at once, so many instances due together share commits in the
  /// ledger instead of waiting for one commit each in turn.
  struct FiringShard {
    std::mutex mutex;  ///< Guards queue and stopping.
    std::condition_variable ready;
    std::deque<DueFire> queue;
    bool stopping = false;
    std::thread thread;
  };

  void run();
  void handOver(DueFire fire);
  void fireLoop(FiringShard& shard);
  /// FireCallback's way: records each fire in the ledger, then calls it.
  std::vector<FireOutcome> fireOneByOne(const std::vector<DueTime>& fires, const FireCallback& onFire);
  void retryLater(const std::string& instanceId, std::uint64_t version, TimePoint due);  // Requires mutex_.
  void scheduleEntry(const std::string& instanceId, Entry& entry);  // Requires mutex_.
  void compactHeapIfStale();                                        // Requires mutex_.
  bool isLive(const HeapItem& item) const;                          // Requires mutex_.
  void report(const std::string& message);

  FireLedger& ledger_;
  const TimeSource& clock_;
  const ErrorCallback onError_;
  FireBatchHandler onFires_;  // set by the constructors, then read-only
  std::chrono::milliseconds fireAhead_{0};  // set before start(), then read-only

  // Guarded by mutex_: entries_, heap_, nextVersion_, stopping_. The
  // ledger and the callbacks are called without it held.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::unordered_map<std::string, Entry> entries_;
  std::vector<HeapItem> heap_;  ///< A min-heap on wakeAt; may hold stale items.
  std::uint64_t nextVersion_ = 1;
  bool stopping_ = false;
  std::thread thread_;  ///< Touched only by start(), stop() and the destructor.
  std::vector<std::unique_ptr<FiringShard>> shards_;  ///< Touched only by start(), stop() and the destructor.
};

/// The newest `limit` fire times of `schedule` in (after, upTo], oldest
/// first. Looks back in doubling windows from `upTo`, so a long outage of a
/// frequent schedule costs about `limit` nextAfter calls, not one per
/// missed fire. Used for missed runs; public for tests.
std::vector<TimePoint> newestFireTimes(const Schedule& schedule, TimePoint after, TimePoint upTo, std::size_t limit);

}  // namespace plexus::core
