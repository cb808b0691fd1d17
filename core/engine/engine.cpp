#include "engine/engine.hpp"

#include <algorithm>

#include <Poco/Logger.h>

#include "engine/crash_handler.hpp"
#include "engine/execution_runner.hpp"
#include "util/ids.hpp"

namespace plexus::core {

namespace {
// Nothing cancels a running execution yet: stop() lets it finish, because a
// cancelled step would be recorded as failed, while one cut off by a crash
// runs again after the restart. Per-execution timeouts will set this.
std::atomic<bool> gNeverCancelled{false};

Poco::Logger& logger() { return Poco::Logger::get("plexus.engine"); }
}  // namespace

Engine::Engine(Store& store, const ComponentCatalog& catalog, const IntegrationRegistry& integrations,
               Options options)
    : store_(store), catalog_(catalog), integrations_(integrations), options_(options) {}

Engine::~Engine() { stop(); }

std::string Engine::newExecutionId() { return timeOrderedId(); }

void Engine::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = false;
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { workerLoop(); });
}

void Engine::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (workers_.empty()) return;
    stopping_ = true;
    parked_.clear();  // They stay unfinished in the store and run after the next start.
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
  // Executions whose end is still queued in the store call back into this
  // engine once it commits: wait for that before anything is destroyed.
  try {
    store_.flush();
  } catch (const StoreError& error) {
    logger().error("stopping: the store did not confirm the last executions' end: %s", std::string(error.what()));
  }
}

void Engine::submit(ExecutionRequest request) {
  // The trigger results (a whole webhook payload) are lent to the record,
  // not copied, and taken back once the store has encoded them.
  NewExecution record{request.executionId,   request.integration->key, request.instance.id,
                      request.instance.name, request.trigger,          std::move(request.triggerResults),
                      nowMs()};
  store_.createExecution(record);  // Durable before anyone is told the id.
  request.triggerResults = std::move(record.triggerResults);
  enqueue(Job{std::move(request), {}});
}

void Engine::submitRecorded(ExecutionRequest request) { enqueue(Job{std::move(request), {}}); }

void Engine::enqueue(Job job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.try_emplace(job.request.executionId);
    if (queue_.size() < options_.maxQueued && deferred_.empty()) {
      queue_.push_back(std::move(job));
    } else {
      deferred_.push_back(Deferred{job.request.executionId, std::move(job.recoveryNote)});
    }
  }
  wake_.notify_one();
}

std::size_t Engine::queuedCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size() + deferred_.size();
}

std::size_t Engine::deferredCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return deferred_.size();
}

void Engine::workerLoop() {
  AlternateSignalStack crashStack;  // so a component's stack overflow still gets its crash line
  for (;;) {
    std::optional<Job> job;
    std::optional<Deferred> deferred;
    std::optional<Parked> parked;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      for (;;) {
        if (stopping_) return;  // Whatever is queued or parked stays queued in the store.
        if ((parked = takeDueParked(std::chrono::steady_clock::now()))) break;
        if (!queue_.empty() || !deferred_.empty()) break;
        if (parked_.empty()) {
          wake_.wait(lock);
        } else {
          auto earliest = std::min_element(parked_.begin(), parked_.end(),
                                           [](const Parked& a, const Parked& b) { return a.due < b.due; });
          wake_.wait_until(lock, earliest->due);
        }
      }
      if (parked) {
        // handled below, unlocked
      } else if (!queue_.empty()) {
        job = std::move(queue_.front());
        queue_.pop_front();
      } else {
        deferred = std::move(deferred_.front());
        deferred_.pop_front();
      }
    }
    if (parked) {
      retryParked(std::move(*parked));
      continue;
    }
    if (deferred) {
      try {
        job = loadJob(deferred->executionId, deferred->recoveryNote);
      } catch (const std::exception& error) {
        failUnreadable(deferred->executionId, error.what());
        continue;
      }
      if (!job) continue;
    }
    runJob(std::move(*job));
  }
}

std::optional<Engine::Parked> Engine::takeDueParked(std::chrono::steady_clock::time_point now) {
  auto due = std::find_if(parked_.begin(), parked_.end(), [&](const Parked& parked) { return parked.due <= now; });
  if (due == parked_.end()) return std::nullopt;
  Parked taken = std::move(*due);
  parked_.erase(due);
  return taken;
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
    if (stopping_) return;  // It stays unfinished in the store and runs after the restart.
    parked_.push_back(Parked{executionId, std::chrono::steady_clock::now() + backoff, backoff, std::move(cause)});
  }
  wake_.notify_one();
}

void Engine::retryParked(Parked parked) {
  std::chrono::milliseconds next = std::min(parked.backoff * 2, kLongestRetry);
  std::optional<Job> job;
  try {
    store_.resetForRetry(parked.executionId);  // its partial record goes: it starts over
    job = loadJob(parked.executionId, "the store could not record this execution's progress (" + parked.cause +
                                          "); running it again from its first step");
  } catch (const StoreError&) {
    park(parked.executionId, std::current_exception(), next);  // still failing: try again later
    return;
  }
  if (!job) return;  // ended as failed, saying why (integration or instance gone)
  logger().information("execution %s: running it again now that the store can record it", parked.executionId);
  runJob(std::move(*job));
}

void Engine::runJob(Job job) {
  ExecutionRunner runner(store_, catalog_, gNeverCancelled, options_.prepare);
  auto outcome = std::make_shared<ExecutionOutcome>();
  const std::string executionId = job.request.executionId;
  try {
    *outcome = runner.run(std::move(job.request), job.recoveryNote);
  } catch (const StoreError&) {
    return park(executionId, std::current_exception());
  } catch (const std::exception& error) {
    // Neither a step's failure (an outcome) nor the store's: a fault of the
    // runtime itself. Ended failed, saying so, rather than lost.
    outcome->executionId = executionId;
    outcome->status = ExecutionStatus::Failed;
    outcome->error = std::string("internal error while running this execution: ") + error.what();
    outcome->endedAt = nowMs();
  }
  recordEnd(outcome);
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

void Engine::finish(const ExecutionOutcome& outcome) {
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
  if (!record || (record->status != ExecutionStatus::Succeeded && record->status != ExecutionStatus::Failed))
    return std::nullopt;
  ExecutionOutcome outcome;
  outcome.executionId = executionId;
  outcome.status = record->status;
  outcome.error = record->error;
  outcome.errorStep = record->errorStep;
  if (record->status == ExecutionStatus::Succeeded && !record->steps.empty())
    outcome.result = store_.stepResult(executionId, record->steps.back().name);
  return outcome;
}

void Engine::failUnreadable(const std::string& executionId, const std::string& cause) {
  // Ended as failed rather than left queued: a cause that lasts (a missing
  // blob file, an unreadable row) would otherwise fail it at every start.
  std::string message = "cannot be read back from the store: " + cause;
  logger().error("execution %s: %s", executionId, message);
  try {
    store_.finishExecution(executionId, ExecutionStatus::Failed, nowMs(), message, std::nullopt);
  } catch (const StoreError& error) {
    // The store is failing: it stays queued there and runs after a restart.
    logger().error("execution %s: cannot record its failure either: %s", executionId, std::string(error.what()));
  }
  ExecutionOutcome outcome;
  outcome.executionId = executionId;
  outcome.error = message;
  finish(outcome);
}

std::optional<Engine::Job> Engine::loadJob(const std::string& executionId, const std::string& recoveryNote) {
  auto record = store_.executionToRun(executionId);
  if (!record) throw StoreError("the execution is missing from the store");
  IntegrationPtr integration = integrations_.find(record->integrationKey);
  auto instance = store_.instance(record->instanceId);
  if (!integration || !instance) {
    std::string why = !integration ? "integration '" + record->integrationKey + "' is no longer deployed"
                                   : "instance '" + record->instanceId + "' no longer exists";
    std::string message = (recoveryNote.empty() ? "cannot run: " : "cannot run again: ") + why;
    store_.appendLog(executionId, LogRecord{nowMs(), plexus::LogLevel::Error, "", message});
    store_.finishExecution(executionId, ExecutionStatus::Failed, nowMs(), message, std::nullopt);
    ExecutionOutcome outcome;
    outcome.executionId = executionId;
    outcome.error = message;
    finish(outcome);
    return std::nullopt;
  }
  ExecutionRequest request{executionId, integration, *instance, record->trigger, std::move(record->triggerResults)};
  return Job{std::move(request), recoveryNote};
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
  {
    // Read back by a worker, like any execution past maxQueued: nothing of
    // the backlog is read now, and one that cannot be read fails alone.
    std::lock_guard<std::mutex> lock(mutex_);
    for (const RecoveredExecution& execution : report.requeued) {
      waiting_.try_emplace(execution.id);
      deferred_.push_back(Deferred{execution.id, recoveryNote(report.lastStop, execution, policy.maxCrashRestarts)});
    }
  }
  wake_.notify_all();
  return report;
}

}  // namespace plexus::core
