// An execution whose end the store could not record (a full disk, a
// failing commit) must run again once the store can record it, without a
// restart; its waiter hears of the recorded run, not of the failure.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>

#include "engine/engine.hpp"
#include "loader/static_catalog.hpp"
#include "store/sqlite_store.hpp"
#include "util/ids.hpp"

using namespace plexus::core;
using plexus::Json;

namespace {

/// A SqliteStore whose first `failures` finishExecutionLater calls fail as
/// a full disk does (the end is not recorded, the callback gets the error).
class FailingEnds final : public Store {
 public:
  FailingEnds(Store& real, int failures) : real_(real), failuresLeft_(failures) {}
  std::atomic<int> failed{0};

  void finishExecutionLater(const std::string& id, ExecutionStatus status, TimePoint endedAt,
                            const std::optional<std::string>& error, const std::optional<std::string>& errorStep,
                            Done whenDone) override {
    if (failuresLeft_.fetch_sub(1) > 0) {
      ++failed;
      return whenDone(std::make_exception_ptr(StoreUnavailable("the disk holding the database is full")));
    }
    real_.finishExecutionLater(id, status, endedAt, error, errorStep, std::move(whenDone));
  }

  void saveInstance(const InstanceRecord& i) override { real_.saveInstance(i); }
  std::optional<InstanceRecord> instance(const std::string& id) override { return real_.instance(id); }
  std::optional<InstanceRecord> instanceByToken(const std::string& t) override { return real_.instanceByToken(t); }
  std::optional<InstanceRecord> instanceByName(const std::string& k, const std::string& n) override {
    return real_.instanceByName(k, n);
  }
  std::vector<InstanceRecord> instances() override { return real_.instances(); }
  bool deleteInstance(const std::string& id) override { return real_.deleteInstance(id); }
  void createExecution(const NewExecution& e) override { real_.createExecution(e); }
  void markRunning(const std::string& id, TimePoint t) override { real_.markRunning(id, t); }
  void recordStepStarted(const std::string& id, const StepRecord& s) override { real_.recordStepStarted(id, s); }
  void recordStepFinished(const std::string& id, const StepRecord& s, const std::optional<StoredResult>& r) override {
    real_.recordStepFinished(id, s, r);
  }
  void appendLog(const std::string& id, const LogRecord& l) override { real_.appendLog(id, l); }
  void finishExecution(const std::string& id, ExecutionStatus s, TimePoint t, const std::optional<std::string>& e,
                       const std::optional<std::string>& step) override {
    real_.finishExecution(id, s, t, e, step);
  }
  void suspendExecutionLater(const std::string& id, const StepRecord& s, const std::optional<StoredResult>& r,
                             TimePoint at,
                             Done whenDone) override {
    real_.suspendExecutionLater(id, s, r, at, std::move(whenDone));
  }
  void resumeExecution(const std::string& id) override { real_.resumeExecution(id); }
  void startWhenDue(const std::string& id, TimePoint t) override { real_.startWhenDue(id, t); }
  std::vector<RecordedStep> recordedSteps(const std::string& id) override { return real_.recordedSteps(id); }
  void flush() override { real_.flush(); }
  void resetForRetry(const std::string& id) override { real_.resetForRetry(id); }
  std::optional<ExecutionRecord> execution(const std::string& id) override { return real_.execution(id); }
  std::vector<ExecutionRecord> executions(const ExecutionQuery& q) override { return real_.executions(q); }
  std::optional<NewExecution> executionToRun(const std::string& id) override { return real_.executionToRun(id); }
  std::vector<std::pair<int, std::optional<StoredResult>>> stepIterations(const std::string& id,
                                                                          const std::string& s) override {
    return real_.stepIterations(id, s);
  }
  std::optional<StoredResult> finalResult(const std::string& id) override { return real_.finalResult(id); }
  void createReplay(const std::string& original, const std::string& id, const std::optional<std::string>& from,
                    const std::vector<std::string>& keep, TimePoint at) override {
    real_.createReplay(original, id, from, keep, at);
  }
  std::optional<StoredResult> stepResult(const std::string& id, const std::string& s, int iteration) override {
    return real_.stepResult(id, s, iteration);
  }
  std::vector<std::string> unfinishedExecutions() override { return real_.unfinishedExecutions(); }
  std::optional<IdempotencyKeyRecord> idempotencyKey(const std::string& i, const std::string& k, TimePoint t) override {
    return real_.idempotencyKey(i, k, t);
  }
  std::size_t purgeIdempotencyKeys(TimePoint t, std::size_t n) override { return real_.purgeIdempotencyKeys(t, n); }
  LastStop lastStop() const override { return real_.lastStop(); }
  RecoveryReport recoverUnfinished(const RecoveryPolicy& p) override { return real_.recoverUnfinished(p); }
  std::optional<std::string> unavailableReason() const override { return real_.unavailableReason(); }
  std::vector<bool> recordScheduledFires(const std::vector<ScheduledFire>& f) override {
    return real_.recordScheduledFires(f);
  }
  bool recordFire(const std::string& id, TimePoint t) override { return real_.recordFire(id, t); }
  std::optional<TimePoint> lastFire(const std::string& id) override { return real_.lastFire(id); }

 private:
  Store& real_;
  std::atomic<int> failuresLeft_;
};

std::atomic<int> runs{0};

}  // namespace

TEST_CASE("an execution whose end the store could not record runs again once it can, without a restart",
          "[engine][store-failure]") {
  namespace fs = std::filesystem;
  std::string dir = (fs::temp_directory_path() / ("plexus-engine-" + randomId(6))).string();
  {
    auto real = SqliteStore::open(dir);
    FailingEnds store(*real, 2);
    plexus::ActionSpec count{"count", "Count", "Counts its runs", {},
                             [](const plexus::Inputs&, plexus::Context&) -> plexus::Result { return Json(++runs); }};
    StaticCatalog catalog{{plexus::ComponentSpec{"test", "1.0.0", "Test", {count}}}};
    IntegrationSpec spec;
    spec.key = "it";
    spec.name = "It";
    StepSpec step;
    step.name = "only";
    step.component = "test";
    step.action = "count";
    spec.steps = {step};
    spec.instances.push_back({"default", Json::object(), true});
    IntegrationRegistry registry;
    registry.replaceAll({spec});
    InstanceRecord instance{randomId(), "it", "default", true, Json::object(), "", nowMs()};
    store.saveInstance(instance);
    Engine engine(store, catalog, registry, Engine::Options{1});
    engine.start();

    runs = 0;
    std::string id = Engine::newExecutionId();
    engine.submit({id, registry.find("it"), instance, "manual", Json::object()});
    auto outcome = engine.waitFor(id, std::chrono::seconds(30));
    REQUIRE(outcome);
    CHECK(outcome->status == ExecutionStatus::Succeeded);  // the run that was recorded
    CHECK(outcome->result->data == 3);                      // two unrecorded runs before it
    CHECK(store.failed == 2);
    auto record = real->execution(id);
    CHECK(record->status == ExecutionStatus::Succeeded);
    CHECK(record->steps.size() == 1);  // the unrecorded runs' steps were forgotten
    bool said = false;
    for (const auto& line : record->logs) said |= line.message.find("running it again from its first step") != std::string::npos;
    CHECK(said);
    engine.stop();
  }
  fs::remove_all(dir);
}
