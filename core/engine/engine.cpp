#include "engine/engine.hpp"

#include <algorithm>

#include <Poco/Logger.h>

#include "engine/execution_control.hpp"
#include "engine/execution_runner.hpp"
#include "engine/timers.hpp"
#include "engine/worker_pool.hpp"
#include "io/http_loop.hpp"
#include "util/ids.hpp"

namespace plexus::core {

namespace {
Poco::Logger& logger() { return Poco::Logger::get("plexus.engine"); }

std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}
}  // namespace

Engine::Engine(Store& store, const ComponentCatalog& catalog, const IntegrationRegistry& integrations,
               Options options)
    : store_(store), catalog_(catalog), integrations_(integrations), options_(std::move(options)),
      clock_(*options_.clock),
      pool_(std::make_unique<WorkerPool>(WorkerPool::Options{std::max(1, options_.workers),
                                                             std::max(options_.workers, options_.maxWorkers),
                                                             options_.idleWorkerLifetime})),
      timers_(std::make_unique<Timers>(clock_, options_.tick, [this] { superviseRunning(); })),
      http_(std::make_unique<HttpLoop>(HttpLoop::Options{options_.maxHttpConnections})) {}

Engine::~Engine() { stop(); }

std::string Engine::newExecutionId() { return timeOrderedId(); }

void Engine::start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (started_) return;
    started_ = true;
    draining_ = false;
  }
  pool_->start();
  timers_->start();
  http_->start();
}

int Engine::stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_ || draining_) return 0;
    draining_ = true;
  }
  // Running executions go on (step after step) for the grace; the steps
  // still running then are told to stop, and given up after abandonGrace.
  {
    std::unique_lock<std::mutex> lock(mutex_);
    auto until = clock_.steadyNow() + grace;
    while (!running_.empty() && clock_.steadyNow() < until) clock_.waitUntil(runningChanged_, lock, until);
    for (auto& [id, control] : running_) control->requestStop(StopReason::ShuttingDown, clock_.steadyNow());
    auto giveUp = clock_.steadyNow() + options_.abandonGrace + options_.tick;
    while (!running_.empty() && clock_.steadyNow() < giveUp) clock_.waitUntil(runningChanged_, lock, giveUp);
  }
  http_->stop();  // what still awaits an answer is told it stopped; it resumes after the restart
  timers_->stop();
  int leftBehind = pool_->stop(std::chrono::milliseconds(100));
  if (leftBehind > 0)
    logger().warning("stopping: %d step(s) did not stop when told to; they resume after the restart", leftBehind);
  // Executions whose end is still queued in the store call back into this
  // engine once it commits: wait for that before telling the rest.
  try {
    store_.flush();
  } catch (const StoreError& error) {
    logger().error("stopping: the store did not confirm the last executions' end: %s", std::string(error.what()));
  }
  std::unordered_map<std::string, std::vector<Completion>> interrupted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    interrupted.swap(waiting_);
    running_.clear();
  }
  for (auto& [id, callbacks] : interrupted) {
    ExecutionOutcome outcome;
    outcome.executionId = id;
    outcome.interrupted = true;
    outcome.status = ExecutionStatus::Running;
    outcome.error = stopMessage(StopReason::ShuttingDown, IntegrationSpec{});
    for (auto& callback : callbacks) callback(outcome);
  }
  return leftBehind;
}

void Engine::submit(ExecutionRequest request, std::optional<IdempotencyKeyRecord> idempotencyKey) {
  // The trigger results (a whole webhook payload) are lent to the record,
  // not copied, and taken back once the store has encoded them.
  NewExecution record{request.executionId,   request.integration->key, request.instance.id,
                      request.instance.name, request.trigger,          std::move(request.triggerResults),
                      clock_.now()};
  record.idempotencyKey = std::move(idempotencyKey);
  store_.createExecution(record);  // Durable before anyone is told the id.
  request.triggerResults = std::move(record.triggerResults);
  enqueue(std::move(request));
}

void Engine::submitRecorded(ExecutionRequest request) { enqueue(std::move(request)); }

void Engine::submitRecordedAt(std::vector<ExecutionRequest> requests, TimePoint startsAt,
                              std::function<void(std::size_t)> onQueued) {
  if (requests.empty()) return;
  // The tasks are built now, so that queueing thousands at their due time
  // is one move each, not an allocation each while the first ones run.
  auto tasks = std::make_shared<std::vector<WorkerPool::Task>>();
  tasks->reserve(requests.size());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (ExecutionRequest& request : requests) {
      waiting_.try_emplace(request.executionId);  // a cancel finds it (runExecution then skips it)
      tasks->push_back(runInMemory(std::move(request), Start::Due));
    }
    sleeping_ += tasks->size();
  }
  timers_->at(startsAt, [this, tasks, onQueued = std::move(onQueued)] {
    const std::size_t count = tasks->size();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      sleeping_ -= count;
      queued_ += count;
    }
    pool_->postAll(std::move(*tasks));
    if (onQueued) onQueued(count);
  });
}

std::function<void()> Engine::runInMemory(ExecutionRequest request, Start start) {
  auto shared = std::make_shared<ExecutionRequest>(std::move(request));
  return [this, shared, start] {
    countTaken(false);
    runExecution(std::move(*shared), start, "");
  };
}

void Engine::enqueue(ExecutionRequest request, Start start) {
  bool inMemory;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.try_emplace(request.executionId);
    inMemory = queued_ - deferred_ < options_.maxQueued;
    ++queued_;
    if (!inMemory) ++deferred_;
  }
  if (inMemory) {
    pool_->post(runInMemory(std::move(request), start));
  } else {
    std::string id = request.executionId;
    pool_->post([this, id, start] {
      countTaken(true);
      runStored(id, "", start);
    });
  }
}

void Engine::enqueueStored(const std::string& executionId, std::string note, Start start) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.try_emplace(executionId);
    ++queued_;
    ++deferred_;
  }
  pool_->post([this, executionId, note = std::move(note), start] {
    countTaken(true);
    runStored(executionId, note, start);
  });
}

void Engine::countTaken(bool deferred) {
  std::lock_guard<std::mutex> lock(mutex_);
  --queued_;
  if (deferred) --deferred_;
}

std::size_t Engine::deferredCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return deferred_;
}

std::size_t Engine::queuedCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_;
}

std::size_t Engine::waitingCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sleeping_;
}

std::size_t Engine::runningCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_.size();
}

int Engine::workerThreads() const { return pool_->threads(); }

void Engine::runStored(const std::string& executionId, const std::string& note, Start start) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (draining_) return;  // It stays unfinished in the store and runs after the restart.
  }
  std::optional<NewExecution> record;
  try {
    record = store_.executionToRun(executionId);
    if (!record) throw StoreError("the execution is missing from the store");
  } catch (const StoreUnavailable&) {
    return park(executionId, std::current_exception());
  } catch (const std::exception& error) {
    return endWithout(executionId, ExecutionStatus::Failed,
                      std::string("cannot be read back from the store: ") + error.what());
  }
  if (hasEnded(record->status)) {  // cancelled while it waited or was queued
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelRequested_.erase(executionId);
    }
    return releaseSlot(executionId);
  }
  IntegrationPtr integration = integrations_.find(record->integrationKey);
  std::optional<InstanceRecord> instance;
  try {
    instance = store_.instance(record->instanceId);
  } catch (const StoreError&) {
    return park(executionId, std::current_exception());
  }
  if (!integration || !instance) {
    std::string why = !integration ? "integration '" + record->integrationKey + "' is no longer deployed"
                                   : "instance '" + record->instanceId + "' no longer exists";
    return endWithout(executionId, ExecutionStatus::Failed,
                      (record->startedAt ? "cannot run again: " : "cannot run: ") + why);
  }
  // Woken after a restart before it ever started: a schedule fire recorded ahead.
  if (start == Start::AfterWait && !record->startedAt) start = Start::Due;
  ExecutionRequest request{executionId, integration, *instance, record->trigger, std::move(record->triggerResults),
                           record->startedAt};
  runExecution(std::move(request), start, note);
}

void Engine::runExecution(ExecutionRequest request, Start start, const std::string& note) {
  const std::string executionId = request.executionId;
  auto control = std::make_shared<ExecutionControl>(executionId);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (draining_) return;  // It stays unfinished in the store and runs after the restart.
    if (cancelRequested_.erase(executionId) > 0) return;  // cancel() ended it
  }
  if (!admit(request, start, note)) return;
  bool cancelled;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (draining_) return;  // It stays unfinished in the store and runs after the restart.
    // Checked again: a cancel between the two locks found it neither taken
    // nor running, and ended it (which freed its slot).
    cancelled = cancelRequested_.erase(executionId) > 0;
    if (!cancelled) running_.emplace(executionId, control);
  }
  if (cancelled) return;
  runSlice(control, [&] {
    ExecutionRunner runner(store_, catalog_, clock_, options_.prepare);
    return runner.run(std::move(request), start, note, *control);
  });
}

void Engine::runSlice(const std::shared_ptr<ExecutionControl>& control, const std::function<Slice()>& produce) {
  const std::string& executionId = control->executionId();
  auto forget = [&] {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      running_.erase(executionId);
    }
    runningChanged_.notify_all();
  };
  Slice slice;
  try {
    slice = produce();
  } catch (const StoreError&) {
    if (control->abandoned()) return WorkerPool::leaveAfterTask();
    forget();
    return park(executionId, std::current_exception());
  } catch (const std::exception& error) {
    if (control->abandoned()) return WorkerPool::leaveAfterTask();
    // Neither a step's failure (an outcome) nor the store's: a fault of the
    // runtime itself. Ended failed, saying so, rather than lost.
    slice = Slice{};
    slice.outcome.executionId = executionId;
    slice.outcome.status = ExecutionStatus::Failed;
    slice.outcome.error = std::string("internal error while running this execution: ") + error.what();
    slice.outcome.endedAt = clock_.now();
  }
  // An abandoned step's thread touches nothing of the engine: the
  // supervisor ended the execution, and the engine may be gone.
  if (control->abandoned()) return WorkerPool::leaveAfterTask();
  if (slice.end == Slice::End::AwaitingHttp) return awaitHttp(control, std::move(slice));  // still running
  forget();
  switch (slice.end) {
    case Slice::End::Ended:
      recordEnd(std::make_shared<ExecutionOutcome>(std::move(slice.outcome)));
      break;
    case Slice::End::Suspended:
      recordSuspend(executionId, slice.waitingStep, slice.pendingResult, slice.wakeAt);
      break;
    case Slice::End::Stopped:
    case Slice::End::AwaitingHttp:
    case Slice::End::Blocked:
      break;  // shutting down: it stays running in the store and resumes after the restart
  }
}

void Engine::awaitHttp(const std::shared_ptr<ExecutionControl>& control, Slice slice) {
  // The answers come back together: a worker goes on with the execution
  // once every exchange has ended, so its lanes never run on two threads.
  struct Gathering {
    std::mutex mutex;
    std::vector<HttpAnswer> answers;
    std::size_t left = 0;
  };
  auto gathering = std::make_shared<Gathering>();
  gathering->left = slice.exchanges.size();
  std::shared_ptr<RunState> state = std::move(slice.state);
  for (Slice::Exchange& exchange : slice.exchanges) {
    // The deadline as a duration: the loop times the exchange on the real
    // clock, the engine's deadlines are on the injected one.
    auto deadlineIn =
        exchange.deadline == std::chrono::steady_clock::time_point::max()
            ? std::chrono::milliseconds::max()
            : std::chrono::duration_cast<std::chrono::milliseconds>(exchange.deadline - clock_.steadyNow());
    void* lane = exchange.lane;
    http_->send(
        std::move(exchange.request), deadlineIn, [control] { return control->stopReason() != StopReason::None; },
        [this, control, state, gathering, lane](plexus::HttpResponse response) {
          std::vector<HttpAnswer> all;
          {
            std::lock_guard<std::mutex> lock(gathering->mutex);
            gathering->answers.push_back(HttpAnswer{lane, std::move(response)});
            if (--gathering->left > 0) return;
            all = std::move(gathering->answers);
          }
          auto answers = std::make_shared<std::vector<HttpAnswer>>(std::move(all));
          pool_->post([this, control, state, answers] { continueAfterHttp(control, state, std::move(*answers)); });
        });
  }
}

void Engine::continueAfterHttp(const std::shared_ptr<ExecutionControl>& control,
                               const std::shared_ptr<RunState>& state, std::vector<HttpAnswer> answers) {
  runSlice(control, [&] {
    ExecutionRunner runner(store_, catalog_, clock_, options_.prepare);
    return runner.resume(state, std::move(answers), *control);
  });
}

void Engine::recordSuspend(const std::string& executionId, const StepRecord& step,
                           const std::optional<StoredResult>& result,
                           TimePoint wakeAt) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++sleeping_;
  }
  try {
    store_.suspendExecutionLater(executionId, step, result, wakeAt, [this, executionId, wakeAt](std::exception_ptr failure) {
      if (failure) {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          --sleeping_;
        }
        return park(executionId, failure);
      }
      timers_->at(wakeAt, [this, executionId] { wakeUp(executionId); });
    });
  } catch (const StoreError&) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --sleeping_;
    }
    park(executionId, std::current_exception());
  }
}

void Engine::wakeUp(const std::string& executionId) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --sleeping_;
    if (cancelRequested_.erase(executionId) > 0) return;  // cancel() ended it while it waited
  }
  enqueueStored(executionId, "", Start::AfterWait);
}

void Engine::park(const std::string& executionId, const std::exception_ptr& failure,
                  std::chrono::milliseconds backoff) {
  std::string cause = "unknown error";
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& error) {
    cause = error.what();
  } catch (...) {
    // May run on the store's writer thread, which must not end: say what we can.
    cause = "a non-standard exception";
  }
  if (backoff == kFirstRetry)
    logger().error("execution %s: the store could not record it (%s); it runs again from its first step "
                   "once the store can (first try in %d ms, then less and less often)",
                   executionId, cause, static_cast<int>(backoff.count()));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (draining_) return;  // It stays unfinished in the store and runs after the restart.
  }
  Parked parked{executionId, backoff, std::move(cause)};
  timers_->at(clock_.now() + backoff, [this, parked] {
    pool_->post([this, parked] { retryParked(parked); });
  });
}

void Engine::retryParked(const Parked& parked) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (draining_) return;
    if (cancelRequested_.erase(parked.executionId) > 0) return;
  }
  std::chrono::milliseconds next = std::min(parked.backoff * 2, kLongestRetry);
  try {
    store_.resetForRetry(parked.executionId);  // its partial record goes: it starts over
  } catch (const StoreError&) {
    return park(parked.executionId, std::current_exception(), next);  // still failing: try again later
  }
  logger().information("execution %s: running it again now that the store can record it", parked.executionId);
  runStored(parked.executionId,
            "the store could not record this execution's progress (" + parked.cause +
                "); running it again from its first step",
            Start::Again);
}

void Engine::recordEnd(const std::shared_ptr<ExecutionOutcome>& outcome) {
  try {
    // Not waited for: the worker takes the next execution while this end
    // state waits for its commit, so commits carry many executions. Waiters
    // are told once it is durable, never before.
    store_.finishExecutionLater(outcome->executionId, outcome->status, outcome->endedAt, outcome->error,
                                outcome->errorStep, [this, outcome](std::exception_ptr failure) {
                                  // Not recorded (its progress or its end): it runs again, and its
                                  // waiters hear of the run that is recorded.
                                  if (failure) return park(outcome->executionId, failure);
                                  finish(*outcome);
                                });
  } catch (const StoreError&) {
    park(outcome->executionId, std::current_exception());
  }
}

bool Engine::admit(const ExecutionRequest& request, Start start, const std::string& note) {
  const std::optional<ConcurrencySpec>& concurrency = request.integration->concurrency;
  if (!concurrency) return true;
  const std::string& executionId = request.executionId;
  const std::string& instanceId = request.instance.id;
  std::size_t holding = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    InstanceSlots& slots = slots_[instanceId];
    // Woken from a wait, it holds its slot already (after a restart it
    // takes one back, even past the limit: it was admitted before).
    if (slots.admitted.count(executionId) > 0) return true;
    holding = slots.admitted.size();
    if (start == Start::AfterWait || holding < static_cast<std::size_t>(concurrency->limit)) {
      slots.admitted.emplace(executionId, true);
      slotOwner_[executionId] = instanceId;
      return true;
    }
    if (concurrency->behavior == ConcurrencySpec::Behavior::Queue) {
      // It stays queued in the store (a restart queues it again).
      slots.queued.push_back(Queued{executionId, start, note});
      slotOwner_[executionId] = instanceId;
      return false;
    }
  }
  bool skip = concurrency->behavior == ConcurrencySpec::Behavior::Skip;
  std::string message = std::string(skip ? "skipped" : "refused") + ": " + std::to_string(holding) +
                        (holding == 1 ? " execution" : " executions") + " of instance '" + request.instance.name +
                        "' already under way (execution.concurrency: limit " + std::to_string(concurrency->limit) +
                        ", behavior " + (skip ? "skip" : "fail") + ")";
  endWithout(executionId, skip ? ExecutionStatus::Cancelled : ExecutionStatus::Failed, message);
  return false;
}

void Engine::releaseSlot(const std::string& executionId) {
  std::optional<Queued> next;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto owner = slotOwner_.find(executionId);
    if (owner == slotOwner_.end()) return;
    const std::string instanceId = owner->second;
    slotOwner_.erase(owner);
    InstanceSlots& slots = slots_[instanceId];
    if (slots.admitted.erase(executionId) == 0) {
      // Ended while queued for a slot (cancelled): it leaves the queue, and
      // no worker will take it to clear its cancel.
      for (auto it = slots.queued.begin(); it != slots.queued.end(); ++it)
        if (it->executionId == executionId) {
          slots.queued.erase(it);
          break;
        }
      cancelRequested_.erase(executionId);
      if (slots.admitted.empty() && slots.queued.empty()) slots_.erase(instanceId);
      return;
    }
    if (!slots.queued.empty()) {
      // The first in line takes the slot now, so that no newcomer does
      // before it has been read back.
      next = std::move(slots.queued.front());
      slots.queued.pop_front();
      slots.admitted.emplace(next->executionId, true);
    } else if (slots.admitted.empty()) {
      slots_.erase(instanceId);  // an idle instance costs nothing
    }
    if (draining_) return;
  }
  if (next) enqueueStored(next->executionId, next->note, next->start);
}

void Engine::finish(const ExecutionOutcome& outcome) {
  releaseSlot(outcome.executionId);
  std::vector<Completion> callbacks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = waiting_.find(outcome.executionId);
    if (it != waiting_.end()) {
      callbacks = std::move(it->second);
      waiting_.erase(it);
    }
  }
  for (auto& callback : callbacks) callback(outcome);
}

void Engine::endWithout(const std::string& executionId, ExecutionStatus status, const std::string& message) {
  // Ended rather than left queued: a cause that lasts (a missing blob file,
  // an unreadable row) would otherwise fail it at every start.
  logger().error("execution %s: %s", executionId, message);
  try {
    store_.appendLog(executionId, LogRecord{clock_.now(), plexus::LogLevel::Error, "", message});
    store_.finishExecution(executionId, status, clock_.now(), message, std::nullopt);
  } catch (const StoreError& error) {
    // The store is failing: it stays unfinished there and runs after a restart.
    logger().error("execution %s: cannot record its end either: %s", executionId, std::string(error.what()));
  }
  ExecutionOutcome outcome;
  outcome.executionId = executionId;
  outcome.status = status;
  outcome.error = message;
  outcome.endedAt = clock_.now();
  finish(outcome);
}

Engine::CancelOutcome Engine::cancel(const std::string& executionId) {
  bool known;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = running_.find(executionId); it != running_.end()) {
      // Its running step is told (cancelled()); the runner ends it cancelled,
      // or the supervisor gives the step up after abandonGrace.
      it->second->requestStop(StopReason::Cancelled, clock_.steadyNow());
      return CancelOutcome::Cancelling;
    }
    known = waiting_.count(executionId) > 0;
    if (known) cancelRequested_[executionId] = true;  // skipped when a worker or the timer gets to it
  }
  if (!known) {
    auto record = store_.execution(executionId);
    if (!record) return CancelOutcome::Unknown;
    if (hasEnded(record->status)) return CancelOutcome::Ended;
  }
  endWithout(executionId, ExecutionStatus::Cancelled, stopMessage(StopReason::Cancelled, IntegrationSpec{}));
  return CancelOutcome::Cancelling;
}

void Engine::superviseRunning() {
  std::vector<std::shared_ptr<ExecutionControl>> overdue;
  auto now = clock_.steadyNow();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, control] : running_) {
      auto due = control->deadline();
      if (auto asked = control->stopRequestedAt()) due = std::min(due, *asked);
      if (due != ExecutionControl::Steady::max() && now >= due + options_.abandonGrace) overdue.push_back(control);
    }
  }
  for (auto& control : overdue)
    if (auto step = control->abandonStep()) abandon(control, *step);
  pool_->growIfStarved();
}

void Engine::abandon(const std::shared_ptr<ExecutionControl>& control, const StepRecord& running) {
  const std::string& executionId = control->executionId();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_.erase(executionId);
  }
  runningChanged_.notify_all();
  pool_->replaceLost();
  StopReason reason = control->stopReason();
  if (reason == StopReason::ShuttingDown) return;  // left running in the store: it resumes after the restart

  std::string stopped = " did not stop within " + std::to_string(options_.abandonGrace.count()) +
                        " ms of being told to; it was given up (its thread is left to end on its own)";
  std::string message;
  if (reason == StopReason::Cancelled)
    message = "cancelled while step '" + running.name + "' ran; the step" + stopped;
  else if (reason == StopReason::TimedOut || clock_.steadyNow() >= control->executionDeadline())
    message = "the execution timed out while step '" + running.name + "' ran; the step" + stopped;
  else
    message = "step '" + running.name + "' timed out after " + std::to_string(control->stepTimeoutMs().value_or(0)) +
              " ms (its timeoutMs) and" + stopped;
  logger().warning("execution %s: %s", executionId, message);
  StepRecord record = running;
  record.status = StepStatus::Failed;
  record.endedAt = clock_.now();
  record.error = message;
  auto outcome = std::make_shared<ExecutionOutcome>();
  outcome->executionId = executionId;
  outcome->status = reason == StopReason::Cancelled ? ExecutionStatus::Cancelled : ExecutionStatus::Failed;
  outcome->error = message;
  outcome->errorStep = running.name;
  outcome->endedAt = clock_.now();
  try {
    store_.recordStepFinished(executionId, record, std::nullopt);
    store_.appendLog(executionId, LogRecord{clock_.now(), plexus::LogLevel::Error, running.name, message});
  } catch (const StoreError&) {
    return park(executionId, std::current_exception());
  }
  recordEnd(outcome);
}

std::string Engine::replay(const std::string& executionId, const std::optional<std::string>& fromStep) {
  auto original = store_.execution(executionId);
  if (!original) throw ReplayRefused(404, "no execution '" + executionId + "'");
  if (!hasEnded(original->status))
    throw ReplayRefused(409, "execution '" + executionId + "' has not ended yet (status " +
                                 toString(original->status) + "); replay it once it has, or cancel it first");
  IntegrationPtr integration = integrations_.find(original->integrationKey);
  if (!integration)
    throw ReplayRefused(409, "integration '" + original->integrationKey + "' of execution '" + executionId +
                                 "' is no longer deployed");
  std::string note = "a replay of execution " + executionId;
  if (fromStep) {
    const StepSpec* step = integration->step(*fromStep);
    bool topLevel = false;
    for (const StepSpec& top : integration->steps) topLevel = topLevel || top.name == *fromStep;
    if (!step) {
      std::vector<std::string> names;
      for (const StepSpec& top : integration->steps) names.push_back(top.name);
      throw ReplayRefused(400, "fromStep: integration '" + integration->key + "' has no step '" + *fromStep +
                                   "'; its steps are " + joinNames(names));
    }
    if (!topLevel)
      throw ReplayRefused(400, "fromStep: step '" + *fromStep +
                                   "' runs inside a branch or a loop; replay from a top-level step (the branch or "
                                   "loop it is in, or one before it)");
    bool reached = false;
    for (const StepRecord& record : original->steps) reached = reached || (record.name == *fromStep && record.parent.empty());
    if (!reached)
      throw ReplayRefused(409, "execution '" + executionId + "' never reached step '" + *fromStep +
                                   "'; replay from a step it reached, or from the start");
    note += " from step '" + *fromStep + "': the steps before it keep the results they had";
  }
  // What the replay keeps: every step before fromStep, at any depth.
  std::vector<std::string> keep;
  if (fromStep) {
    const auto& top = integration->steps;
    auto from = std::find_if(top.begin(), top.end(), [&](const StepSpec& step) { return step.name == *fromStep; });
    collectStepNames(top.data(), top.data() + (from - top.begin()), keep);
  }
  std::string id = newExecutionId();
  store_.createReplay(executionId, id, fromStep, keep, clock_.now());
  enqueueStored(id, note, Start::Again);
  return id;
}

void Engine::whenFinished(const std::string& executionId, Completion done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = waiting_.find(executionId);
    if (it != waiting_.end()) {
      it->second.push_back(std::move(done));
      return;
    }
  }
  // Not in flight here: it has ended (or never existed / runs elsewhere).
  if (auto outcome = outcomeFromStore(executionId)) done(*outcome);
}

std::optional<ExecutionOutcome> Engine::waitFor(const std::string& executionId,
                                                std::chrono::milliseconds timeout) {
  auto state = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
  auto result = std::make_shared<std::optional<ExecutionOutcome>>();
  whenFinished(executionId, [state, result](const ExecutionOutcome& outcome) {
    std::lock_guard<std::mutex> lock(state->first);
    *result = outcome;
    state->second.notify_all();
  });
  std::unique_lock<std::mutex> lock(state->first);
  state->second.wait_for(lock, timeout, [&] { return result->has_value(); });
  return *result;
}

std::optional<ExecutionOutcome> Engine::outcomeFromStore(const std::string& executionId) {
  auto record = store_.execution(executionId);
  if (!record || !hasEnded(record->status)) return std::nullopt;
  ExecutionOutcome outcome;
  outcome.executionId = executionId;
  outcome.status = record->status;
  outcome.error = record->error;
  outcome.errorStep = record->errorStep;
  if (record->status == ExecutionStatus::Succeeded) outcome.result = store_.finalResult(executionId);
  return outcome;
}

namespace {

std::string recoveryNote(const LastStop& lastStop, const RecoveredExecution& execution, int maxCrashRestarts) {
  if (!lastStop.crashed())
    return "the server stopped before this execution ended (the last stop was clean); running it again";
  std::string note = "the server crashed before this execution ended; running it again";
  if (execution.crashes > 0)
    note += " (crash " + std::to_string(execution.crashes) + " of " + std::to_string(maxCrashRestarts) +
            " before it is not retried)";
  return note;
}

}  // namespace

RecoveryReport Engine::recoverUnfinished(const RecoveryPolicy& policy) {
  RecoveryReport report = store_.recoverUnfinished(policy);
  for (const AbandonedExecution& execution : report.abandoned)
    logger().warning("execution %s of %s / %s: %s", execution.id, execution.integrationKey, execution.instanceName,
                     execution.error);
  // Read back by a worker, like any execution past maxQueued: nothing of
  // the backlog is read now, and one that cannot be read fails alone.
  for (const RecoveredExecution& execution : report.requeued)
    enqueueStored(execution.id, recoveryNote(report.lastStop, execution, policy.maxCrashRestarts), Start::Again);
  for (const Wakeup& wakeup : report.waiting) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      waiting_.try_emplace(wakeup.executionId);
      ++sleeping_;
    }
    std::string id = wakeup.executionId;
    timers_->at(wakeup.wakeAt, [this, id] { wakeUp(id); });
  }
  return report;
}

}  // namespace plexus::core
