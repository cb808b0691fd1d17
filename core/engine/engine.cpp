#include "engine/engine.hpp"

#include <Poco/Logger.h>

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
  enqueue(Job{std::move(request), false});
}

void Engine::submitRecorded(ExecutionRequest request) { enqueue(Job{std::move(request), false}); }

void Engine::enqueue(Job job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.try_emplace(job.request.executionId);
    if (queue_.size() < options_.maxQueued && deferred_.empty()) {
      queue_.push_back(std::move(job));
    } else {
      deferred_.push_back(Deferred{job.request.executionId, job.recovered});
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
  for (;;) {
    std::optional<Job> job;
    std::optional<Deferred> deferred;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || !deferred_.empty(); });
      if (stopping_) return;  // Whatever is queued stays queued in the store.
      if (!queue_.empty()) {
        job = std::move(queue_.front());
        queue_.pop_front();
      } else {
        deferred = std::move(deferred_.front());
        deferred_.pop_front();
      }
    }
    if (deferred) {
      try {
        job = loadJob(deferred->executionId, deferred->recovered);
      } catch (const std::exception& error) {
        failUnreadable(deferred->executionId, error.what());
        continue;
      }
      if (!job) continue;
    }
    runJob(std::move(*job));
  }
}

void Engine::runJob(Job job) {
  ExecutionRunner runner(store_, catalog_, gNeverCancelled);
  auto outcome = std::make_shared<ExecutionOutcome>();
  const std::string executionId = job.request.executionId;
  try {
    *outcome = runner.run(std::move(job.request), job.recovered);
    // Not waited for: the worker takes the next execution while this end
    // state waits for its commit, so commits carry many executions. Waiters
    // are told once it is durable, never before.
    store_.finishExecutionLater(outcome->executionId, outcome->status, outcome->endedAt, outcome->error,
                                outcome->errorStep, [this, outcome](std::exception_ptr failure) {
                                  if (failure) failStoreWise(*outcome, failure);
                                  finish(*outcome);
                                });
  } catch (const std::exception&) {
    outcome->executionId = executionId;
    failStoreWise(*outcome, std::current_exception());
    finish(*outcome);
  }
}

void Engine::failStoreWise(ExecutionOutcome& outcome, const std::exception_ptr& failure) {
  // The store failed: the execution stays unfinished there and runs again
  // after a restart. Tell any waiter what happened.
  std::string message = "unknown error";
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& error) {
    message = error.what();
  } catch (...) {
    // Runs on the store's writer thread, which must not end: report what we can.
    message = "a non-standard exception";
  }
  logger().error("execution %s: %s", outcome.executionId, message);
  outcome.status = ExecutionStatus::Failed;
  outcome.result.reset();
  outcome.error = "the store failed: " + message;
  outcome.errorStep.reset();
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

std::optional<Engine::Job> Engine::loadJob(const std::string& executionId, bool recovered) {
  auto record = store_.executionToRun(executionId);
  if (!record) throw StoreError("the execution is missing from the store");
  IntegrationPtr integration = integrations_.find(record->integrationKey);
  auto instance = store_.instance(record->instanceId);
  if (!integration || !instance) {
    std::string why = !integration ? "integration '" + record->integrationKey + "' is no longer deployed"
                                   : "instance '" + record->instanceId + "' no longer exists";
    std::string message = (recovered ? "cannot run again after the restart: " : "cannot run: ") + why;
    store_.appendLog(executionId, LogRecord{nowMs(), plexus::LogLevel::Error, "", message});
    store_.finishExecution(executionId, ExecutionStatus::Failed, nowMs(), message, std::nullopt);
    ExecutionOutcome outcome;
    outcome.executionId = executionId;
    outcome.error = message;
    finish(outcome);
    return std::nullopt;
  }
  ExecutionRequest request{executionId, integration, *instance, record->trigger, std::move(record->triggerResults)};
  return Job{std::move(request), recovered};
}

std::size_t Engine::recoverUnfinished() {
  std::size_t count = 0;
  for (const std::string& id : store_.unfinishedExecutions()) {
    auto record = store_.executionToRun(id);
    if (record && (!integrations_.find(record->integrationKey) || !store_.instance(record->instanceId))) {
      loadJob(id, true);  // Ends it as failed, saying why; its steps stay as they were.
      continue;
    }
    store_.resetForRetry(id);
    // Read back by a worker, like any execution past maxQueued.
    {
      std::lock_guard<std::mutex> lock(mutex_);
      waiting_.try_emplace(id);
      deferred_.push_back(Deferred{id, true});
    }
    wake_.notify_one();
    ++count;
  }
  return count;
}

}  // namespace plexus::core
