#include "trigger/schedule/scheduler.hpp"

#include <algorithm>
#include <deque>
#include <iostream>
#include <utility>

namespace plexus::core {
namespace {

/// Where an instance's fires start: with a previous fire, the runs missed
/// since then that `policy` keeps; else (or when none were missed) the next
/// future due time.
TimePoint firstDue(const Schedule& schedule, MissedRunPolicy policy, std::optional<TimePoint> lastFire,
                   TimePoint now) {
  if (lastFire && policy != MissedRunPolicy::None) {
    const std::size_t limit = policy == MissedRunPolicy::All ? Scheduler::kMaxMissedRuns : 1;
    const std::vector<TimePoint> missed = newestFireTimes(schedule, *lastFire, now, limit);
    // For All the rest follow from the first by nextAfter, oldest first.
    if (!missed.empty()) return missed.front();
  }
  // A fire recorded ahead (setFireAhead) may be the last one yet still due.
  return schedule.nextAfter(lastFire ? std::max(now, *lastFire) : now);
}

}  // namespace

std::vector<TimePoint> newestFireTimes(const Schedule& schedule, TimePoint after, TimePoint upTo, std::size_t limit) {
  std::deque<TimePoint> newest;
  std::chrono::milliseconds window = std::chrono::minutes(1);
  while (true) {
    const bool reachesAfter = upTo - after <= window;
    const TimePoint from = reachesAfter ? after : upTo - window;
    newest.clear();
    for (TimePoint t = schedule.nextAfter(from); t <= upTo; t = schedule.nextAfter(t)) {
      newest.push_back(t);
      if (newest.size() > limit) newest.pop_front();
    }
    if (newest.size() >= limit || reachesAfter) return {newest.begin(), newest.end()};
    window *= 2;
  }
}

Scheduler::Scheduler(FireLedger& ledger, FireCallback onFire, ErrorCallback onError, const TimeSource& clock)
    : ledger_(ledger), clock_(clock), onError_(std::move(onError)) {
  onFires_ = [this, onFire = std::move(onFire)](const std::vector<DueTime>& fires) {
    return fireOneByOne(fires, onFire);
  };
}

Scheduler::Scheduler(FireLedger& ledger, FireBatchHandler onFires, ErrorCallback onError, const TimeSource& clock)
    : ledger_(ledger), clock_(clock), onError_(std::move(onError)), onFires_(std::move(onFires)) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
  }
  for (int i = 0; i < kFiringThreads; ++i) {
    shards_.push_back(std::make_unique<FiringShard>());
    FiringShard& shard = *shards_.back();
    shard.thread = std::thread([this, &shard] { fireLoop(shard); });
  }
  thread_ = std::thread(&Scheduler::run, this);
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& shard : shards_) {
    {
      std::lock_guard<std::mutex> lock(shard->mutex);
      shard->stopping = true;  // It fires what is already due, then exits.
    }
    shard->ready.notify_all();
    shard->thread.join();
  }
  shards_.clear();
}

void Scheduler::handOver(DueFire fire) {
  FiringShard& shard = *shards_[std::hash<std::string>{}(fire.instanceId) % shards_.size()];
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    shard.queue.push_back(std::move(fire));
  }
  shard.ready.notify_one();
}

void Scheduler::fireLoop(FiringShard& shard) {
  std::deque<DueFire> taken;
  std::vector<DueTime> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(shard.mutex);
      shard.ready.wait(lock, [&] { return shard.stopping || !shard.queue.empty(); });
      if (shard.queue.empty()) return;
      taken.swap(shard.queue);  // Everything due so far: one batch.
    }
    batch.clear();
    for (const DueFire& fire : taken) batch.push_back(DueTime{fire.instanceId, fire.due});
    std::vector<FireOutcome> outcomes;
    try {
      outcomes = onFires_(batch);
    } catch (const std::exception& error) {
      report(std::to_string(batch.size()) + " fire(s) could not be recorded (retrying): " + error.what());
    }
    outcomes.resize(batch.size(), FireOutcome::Failed);  // none, or too few: retry the rest
    std::lock_guard<std::mutex> lock(mutex_);
    bool retrying = false;
    for (std::size_t i = 0; i < taken.size(); ++i) {
      if (outcomes[i] != FireOutcome::Failed) continue;
      retryLater(taken[i].instanceId, taken[i].version, taken[i].due);
      retrying = true;
    }
    if (retrying) wake_.notify_all();
    taken.clear();
  }
}

void Scheduler::upsert(const std::string& instanceId, Schedule schedule, MissedRunPolicy policy) {
  // The ledger may be slow (a durable store) and the missed-run search
  // takes a little CPU: do both before taking the lock the thread needs.
  const std::optional<TimePoint> lastFire = ledger_.lastFire(instanceId);
  const TimePoint due = firstDue(schedule, policy, lastFire, clock_.now());
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] =
      entries_.insert_or_assign(instanceId, Entry{std::move(schedule), policy, due, due - fireAhead_, false, 0});
  scheduleEntry(it->first, it->second);
  wake_.notify_one();
}

void Scheduler::remove(const std::string& instanceId) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (entries_.erase(instanceId) == 0) return;
  compactHeapIfStale();
  // The thread may be sleeping until this instance's due time; waking it
  // lets it drop the stale item and sleep until the next live one.
  wake_.notify_one();
}

std::optional<TimePoint> Scheduler::nextRunAt(const std::string& instanceId) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(instanceId);
  if (it == entries_.end()) return std::nullopt;
  return it->second.due;
}

std::size_t Scheduler::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

void Scheduler::scheduleEntry(const std::string& instanceId, Entry& entry) {
  entry.version = nextVersion_++;
  heap_.push_back(HeapItem{entry.wakeAt, entry.version, instanceId});
  std::push_heap(heap_.begin(), heap_.end(), wakesLater);
  compactHeapIfStale();
}

void Scheduler::compactHeapIfStale() {
  if (heap_.size() <= 2 * entries_.size() + 64) return;
  heap_.clear();
  for (const auto& [instanceId, entry] : entries_) heap_.push_back(HeapItem{entry.wakeAt, entry.version, instanceId});
  std::make_heap(heap_.begin(), heap_.end(), wakesLater);
}

bool Scheduler::isLive(const HeapItem& item) const {
  auto it = entries_.find(item.instanceId);
  return it != entries_.end() && it->second.version == item.version;
}

void Scheduler::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!heap_.empty() && !isLive(heap_.front())) {  // Replaced or removed.
      std::pop_heap(heap_.begin(), heap_.end(), wakesLater);
      heap_.pop_back();
      continue;
    }
    if (heap_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const TimePoint wakeAt = heap_.front().wakeAt;
    const TimePoint now = clock_.now();
    if (wakeAt > now) {
      // Woken early by a change to the heap (or spuriously): look again.
      clock_.waitUntil(wake_, lock, clock_.steadyNow() + (wakeAt - now));
      continue;
    }
    std::pop_heap(heap_.begin(), heap_.end(), wakesLater);
    const std::string instanceId = std::move(heap_.back().instanceId);
    heap_.pop_back();
    Entry& entry = entries_.at(instanceId);
    const TimePoint due = entry.due;
    // Advance before firing, so upsert and nextRunAt during the fire see
    // the next due time. After a ledger outage the policy decides, as
    // after downtime; `due` counts as the last fire.
    entry.due = entry.retrying ? firstDue(entry.schedule, entry.policy, due, clock_.now()) : entry.schedule.nextAfter(due);
    entry.wakeAt = entry.due - fireAhead_;
    entry.retrying = false;
    scheduleEntry(instanceId, entry);
    const std::uint64_t version = entry.version;

    handOver(DueFire{instanceId, due, version});  // shards_ is fixed while run() lives.
  }
}

std::vector<FireOutcome> Scheduler::fireOneByOne(const std::vector<DueTime>& fires, const FireCallback& onFire) {
  std::vector<FireOutcome> outcomes;
  outcomes.reserve(fires.size());
  for (const DueTime& fire : fires) {
    bool firstTime = false;
    try {
      firstTime = ledger_.recordFire(fire.instanceId, fire.due);
    } catch (const std::exception& error) {
      report("instance '" + fire.instanceId + "': could not record its fire due at " + formatIsoMs(fire.due) +
             " (retrying): " + error.what());
      outcomes.push_back(FireOutcome::Failed);
      continue;
    }
    if (!firstTime) {  // Fired before (a restart, or another scheduler).
      outcomes.push_back(FireOutcome::FiredBefore);
      continue;
    }
    try {
      onFire(fire.instanceId, fire.due);
    } catch (const std::exception& error) {
      report("instance '" + fire.instanceId + "': the fire callback for " + formatIsoMs(fire.due) +
             " threw: " + error.what());
    }
    outcomes.push_back(FireOutcome::Fired);  // Recorded: it must not run again.
  }
  return outcomes;
}

void Scheduler::retryLater(const std::string& instanceId, std::uint64_t version, TimePoint due) {
  auto it = entries_.find(instanceId);
  // Removed, or replaced by upsert (which chose its own start) meanwhile.
  if (it == entries_.end() || it->second.version != version) return;
  Entry& entry = it->second;
  entry.due = due;
  entry.wakeAt = clock_.now() + kLedgerRetryDelay;
  entry.retrying = true;
  scheduleEntry(instanceId, entry);
}

void Scheduler::report(const std::string& message) {
  if (onError_) {
    onError_(message);
  } else {
    std::cerr << "plexus scheduler: " << message << "\n";
  }
}

}  // namespace plexus::core
