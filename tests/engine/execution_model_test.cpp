// The execution model (docs/execution-model.md) against a real SQLite store,
// on a simulated clock: waits that hold no thread and survive a restart,
// resuming after recorded steps, deadlines, cancellation, shutdown, and a
// pool that stuck steps cannot starve.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

#include "engine/engine.hpp"
#include "loader/static_catalog.hpp"
#include "store/sqlite_connection.hpp"
#include "store/sqlite_store.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

using namespace plexus::core;
using plexus::Json;
using std::chrono::milliseconds;

namespace {

namespace fs = std::filesystem;

std::atomic<int> sideEffects{0};   // `count` steps run
std::atomic<bool> release{false};  // lets `stuck` steps return

std::vector<plexus::ComponentSpec> components() {
  using plexus::InputType;
  plexus::ActionSpec count{"count", "Count", "A side effect", {},
                           [](const plexus::Inputs&, plexus::Context&) -> plexus::Result {
                             return Json(++sideEffects);
                           }};
  plexus::ActionSpec wait{"wait", "Wait", "Waits ms", {{"ms", InputType::Number, true}},
                          [](const plexus::Inputs& in, plexus::Context&) -> plexus::Result {
                            auto ms = static_cast<long long>(in.number("ms"));
                            return plexus::Result::afterDelay(milliseconds(ms), Json{{"waited", ms}});
                          }};
  // Ignores cancellation, blocked (not computing) until released.
  plexus::ActionSpec stuck{"stuck", "Stuck", "Never looks at cancelled()", {},
                           [](const plexus::Inputs&, plexus::Context&) -> plexus::Result {
                             while (!release) std::this_thread::sleep_for(milliseconds(5));
                             return Json("released");
                           }};
  // Returns as soon as it is told to stop, saying how it was told.
  plexus::ActionSpec polite{"polite", "Polite", "Stops when cancelled", {},
                            [](const plexus::Inputs&, plexus::Context& context) -> plexus::Result {
                              while (!context.cancelled()) std::this_thread::sleep_for(milliseconds(2));
                              throw std::runtime_error("stopped as asked");
                            }};
  return {plexus::ComponentSpec{"t", "1.0.0", "Test actions", {count, wait, stuck, polite}}};
}

StepSpec step(const std::string& name, const std::string& action, Json inputs = Json::object()) {
  StepSpec spec;
  spec.name = name;
  spec.component = "t";
  spec.action = action;
  spec.inputs = std::move(inputs);
  return spec;
}

struct ModelFixture {
  std::string dir = (fs::temp_directory_path() / ("plexus-model-" + randomId(6))).string();
  std::unique_ptr<SqliteStore> store = SqliteStore::open(dir);
  StaticCatalog catalog{components()};
  IntegrationRegistry registry;
  SimulatedClock clock;
  std::unique_ptr<Engine> engine;
  InstanceRecord target{randomId(), "it", "default", true, Json::object(), "", nowMs()};

  ModelFixture() {
    sideEffects = 0;
    release = false;
    store->saveInstance(target);
  }
  ~ModelFixture() {
    release = true;
    if (engine) engine->stop();
    engine.reset();
    store.reset();
    fs::remove_all(dir);
  }

  void deploy(IntegrationSpec spec) {
    spec.key = "it";
    spec.name = "It";
    registry.replaceAll({spec});
  }
  void startEngine(int workers = 2, int maxWorkers = 64) {
    Engine::Options options;
    options.workers = workers;
    options.maxWorkers = maxWorkers;
    options.clock = &clock;
    options.abandonGrace = milliseconds(200);
    options.tick = milliseconds(20);
    engine = std::make_unique<Engine>(*store, catalog, registry, options);
  }
  std::string submit() {
    std::string id = Engine::newExecutionId();
    engine->submit({id, registry.find("it"), target, "manual", Json::object()});
    return id;
  }
  /// Polls the store (real time) until the execution has `status`.
  bool reaches(const std::string& id, ExecutionStatus status, milliseconds within = milliseconds(10000)) {
    auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
      store->flush();
      auto record = store->execution(id);
      if (record && record->status == status) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
  }
  /// The server goes away and comes back on the same data folder: returns
  /// what the new engine recovered (it is not started yet).
  RecoveryReport restart() {
    engine->stop();
    engine.reset();
    store.reset();
    store = SqliteStore::open(dir);
    startEngine();
    return engine->recoverUnfinished();
  }
  /// Records a schedule fire of `target` as an execution waiting until
  /// `startsAt` (as Runtime does ahead of a due time); returns its request.
  ExecutionRequest recordFireAhead(TimePoint startsAt) {
    std::string id = Engine::newExecutionId();
    NewExecution execution{id, "it", target.id, target.name, "schedule", Json::object(), clock.now()};
    execution.startsAt = startsAt;
    REQUIRE(store->recordScheduledFires({ScheduledFire{target.id, startsAt, execution}}) == std::vector<bool>{true});
    return ExecutionRequest{id, registry.find("it"), target, "schedule", Json::object()};
  }
  ExecutionRecord record(const std::string& id) {
    auto found = store->execution(id);
    REQUIRE(found);
    return *found;
  }
};

bool logsContain(const ExecutionRecord& record, const std::string& text) {
  for (const auto& line : record.logs)
    if (line.message.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE_METHOD(ModelFixture, "a delayed step suspends the execution without a thread and resumes when the clock says",
                 "[engine][waiting]") {
  IntegrationSpec spec;
  spec.steps = {step("before", "count"), step("pause", "wait", {{"ms", 60000}}), step("after", "count")};
  deploy(spec);
  startEngine(1, 1);  // one thread in all: a wait that held it would block the second execution
  engine->start();
  std::string first = submit();
  REQUIRE(reaches(first, ExecutionStatus::Waiting));
  std::string second = submit();
  REQUIRE(reaches(second, ExecutionStatus::Waiting));  // the only thread was free for it
  CHECK(engine->waitingCount() == 2);
  CHECK(record(first).steps.size() == 2);
  CHECK(record(first).steps[1].status == StepStatus::Waiting);

  clock.advance(milliseconds(59000));
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(record(first).status == ExecutionStatus::Waiting);  // not yet
  clock.advance(milliseconds(1000));
  auto outcome = engine->waitFor(first, std::chrono::seconds(10));
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Succeeded);
  CHECK(outcome->result->data == 3);  // `after` ran once per execution, after both `before`s
  REQUIRE(engine->waitFor(second, std::chrono::seconds(10)));
  auto done = record(first);
  CHECK(done.steps[1].status == StepStatus::Succeeded);
  REQUIRE(done.steps[1].endedAt);
  CHECK(*done.steps[1].endedAt - done.steps[1].startedAt >= milliseconds(60000));  // its start is kept
  CHECK(store->stepResult(first, "pause")->data == Json{{"waited", 60000}});
  CHECK(done.attempts == 1);  // resuming is not another attempt
  CHECK(sideEffects == 4);
}

TEST_CASE_METHOD(ModelFixture, "two thousand executions wait at once on one thread and all resume on time",
                 "[engine][waiting]") {
  IntegrationSpec spec;
  spec.steps = {step("pause", "wait", {{"ms", 30000}}), step("after", "count")};
  deploy(spec);
  startEngine(1, 1);
  engine->start();
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) ids.push_back(submit());
  REQUIRE(reaches(ids.back(), ExecutionStatus::Waiting, milliseconds(60000)));
  std::this_thread::sleep_for(milliseconds(50));
  CHECK(engine->waitingCount() == 2000);
  CHECK(engine->workerThreads() == 1);
  CHECK(sideEffects == 0);
  clock.advance(milliseconds(30000));
  for (const auto& id : ids) {
    auto outcome = engine->waitFor(id, std::chrono::seconds(60));
    REQUIRE(outcome);
    REQUIRE(outcome->status == ExecutionStatus::Succeeded);
  }
  CHECK(sideEffects == 2000);
  CHECK(engine->waitingCount() == 0);
}

TEST_CASE_METHOD(ModelFixture, "a wait survives a restart, and recorded steps are not computed again",
                 "[engine][waiting][recovery]") {
  IntegrationSpec spec;
  spec.steps = {step("before", "count"), step("pause", "wait", {{"ms", 5000}}), step("after", "count")};
  deploy(spec);
  startEngine();
  engine->start();
  std::string id = submit();
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  RecoveryReport report = restart();  // the server goes away while the execution waits
  REQUIRE(report.waiting.size() == 1);
  CHECK(report.requeued.empty());
  engine->start();
  clock.advance(milliseconds(5000));
  auto outcome = engine->waitFor(id, std::chrono::seconds(10));
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Succeeded);
  CHECK(sideEffects == 2);  // `before` once, `after` once
  CHECK(outcome->result->data == 2);
}

TEST_CASE_METHOD(ModelFixture, "after a crash an execution resumes at its first step without a recorded result",
                 "[engine][recovery]") {
  IntegrationSpec spec;
  spec.steps = {step("one", "count"), step("two", "stuck"), step("three", "count")};
  deploy(spec);
  startEngine();
  engine->start();
  std::string id = submit();
  // `one` recorded, `two` running: then the process "dies" (the engine
  // is abandoned without stopping; the store is closed under it).
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    store->flush();
    auto found = store->execution(id);
    if (found && found->steps.size() == 2) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  REQUIRE(record(id).steps.size() == 2);
  CHECK(sideEffects == 1);
  release = true;  // `two` returns, but its execution is left running: as a crash leaves it
  engine->stop();
  engine.reset();
  {
    // Put the row back as a crash leaves it: running, `two` running.
    store->flush();
    sqlite::Connection db(dir + "/plexus.db", sqlite::Connection::Mode::ReadWriteCreate, 1000);
    db.exec("UPDATE executions SET status = 'running', ended_at = NULL, error = NULL");
    db.exec("UPDATE steps SET status = 'running', result_kind = NULL, result = NULL WHERE name IN ('two', 'three')");
    db.exec("DELETE FROM steps WHERE name = 'three'");
  }
  int before = sideEffects;
  release = false;
  spec.steps[1] = step("two", "count");  // the restart runs a fixed `two`
  deploy(spec);
  startEngine();
  RecoveryReport report = engine->recoverUnfinished();
  REQUIRE(report.requeued.size() == 1);
  engine->start();
  auto outcome = engine->waitFor(id, std::chrono::seconds(10));
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Succeeded);
  CHECK(sideEffects == before + 2);  // two and three, not one again
  auto done = record(id);
  CHECK(logsContain(done, "resuming at step 'two'"));
  CHECK(done.attempts == 2);
}

TEST_CASE_METHOD(ModelFixture, "a step past its timeoutMs is told to stop and fails naming the timeout",
                 "[engine][deadline]") {
  IntegrationSpec spec;
  StepSpec slow = step("slow", "polite");
  slow.timeoutMs = 1000;
  spec.steps = {slow};
  deploy(spec);
  startEngine();
  engine->start();
  std::string id = submit();
  std::this_thread::sleep_for(milliseconds(50));
  clock.advance(milliseconds(1000));
  auto outcome = engine->waitFor(id, std::chrono::seconds(10));
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Failed);
  CHECK_THAT(*outcome->error, Catch::Contains("step 'slow' timed out after 1000 ms (its timeoutMs)"));
  CHECK(outcome->errorStep == std::optional<std::string>("slow"));
}

TEST_CASE_METHOD(ModelFixture, "a step that ignores its deadline is given up, and its thread replaced",
                 "[engine][deadline][pool]") {
  IntegrationSpec spec;
  StepSpec hang = step("hang", "stuck");
  hang.timeoutMs = 500;
  spec.steps = {hang};
  deploy(spec);
  startEngine(1, 1);  // one thread: without a replacement nothing else could run
  engine->start();
  std::string id = submit();
  std::this_thread::sleep_for(milliseconds(50));
  clock.advance(milliseconds(800));  // past the deadline and the 200 ms abandon grace
  auto outcome = engine->waitFor(id, std::chrono::seconds(10));
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Failed);
  CHECK_THAT(*outcome->error, Catch::Contains("step 'hang' timed out after 500 ms") &&
                                  Catch::Contains("was given up"));
  // The next execution runs although the stuck thread still runs.
  spec.steps = {step("fine", "count")};
  deploy(spec);
  std::string next = submit();
  auto nextOutcome = engine->waitFor(next, std::chrono::seconds(10));
  REQUIRE(nextOutcome);
  CHECK(nextOutcome->status == ExecutionStatus::Succeeded);
  release = true;
}

TEST_CASE_METHOD(ModelFixture, "execution.timeoutMs fails a waiting execution at its deadline, not at its wake-up",
                 "[engine][deadline][waiting]") {
  IntegrationSpec spec;
  spec.timeoutMs = 10000;
  spec.steps = {step("pause", "wait", {{"ms", 86400000}}), step("after", "count")};
  deploy(spec);
  startEngine();
  engine->start();
  std::string id = submit();
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  clock.advance(milliseconds(10000));
  auto outcome = engine->waitFor(id, std::chrono::seconds(10));
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Failed);
  CHECK_THAT(*outcome->error, Catch::Contains("timed out after 10000 ms (execution.timeoutMs)"));
  CHECK(sideEffects == 0);
}

TEST_CASE_METHOD(ModelFixture, "cancel ends a waiting, a queued and a running execution cancelled", "[engine][cancel]") {
  IntegrationSpec spec;
  spec.steps = {step("pause", "wait", {{"ms", 60000}})};
  deploy(spec);
  startEngine(1, 1);
  engine->start();

  std::string waiting = submit();
  REQUIRE(reaches(waiting, ExecutionStatus::Waiting));
  CHECK(engine->cancel(waiting) == Engine::CancelOutcome::Cancelling);
  CHECK(record(waiting).status == ExecutionStatus::Cancelled);
  clock.advance(milliseconds(60000));  // its wake-up passes: it stays cancelled
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(record(waiting).status == ExecutionStatus::Cancelled);

  spec.steps = {step("busy", "polite")};
  deploy(spec);
  std::string running = submit();
  std::string queued = submit();  // behind `running` on the one thread
  REQUIRE(reaches(running, ExecutionStatus::Running));
  CHECK(engine->cancel(queued) == Engine::CancelOutcome::Cancelling);
  CHECK(engine->cancel(running) == Engine::CancelOutcome::Cancelling);
  auto outcome = engine->waitFor(running, std::chrono::seconds(10));
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Cancelled);
  CHECK_THAT(*outcome->error, Catch::Contains("cancelled"));
  CHECK(record(queued).status == ExecutionStatus::Cancelled);
  CHECK(record(queued).steps.empty());  // it never ran

  CHECK(engine->cancel(running) == Engine::CancelOutcome::Ended);
  CHECK(engine->cancel("no-such-execution") == Engine::CancelOutcome::Unknown);
}

TEST_CASE_METHOD(ModelFixture, "a fire recorded ahead waits for its due time on a timer, and a cancel before it wins",
                 "[engine][waiting][schedule]") {
  IntegrationSpec spec;
  spec.steps = {step("tick", "count")};
  deploy(spec);
  startEngine(1, 1);
  engine->start();
  const TimePoint due = clock.now() + milliseconds(1000);
  ExecutionRequest kept = recordFireAhead(due);
  ExecutionRequest dropped = recordFireAhead(due + milliseconds(60000));
  const std::string keptId = kept.executionId, droppedId = dropped.executionId;
  std::atomic<std::size_t> queued{0};
  engine->submitRecordedAt({std::move(kept)}, due, [&](std::size_t n) { queued += n; });
  engine->submitRecordedAt({std::move(dropped)}, due + milliseconds(60000), [&](std::size_t n) { queued += n; });
  CHECK(record(keptId).status == ExecutionStatus::Waiting);
  CHECK(engine->waitingCount() == 2);
  CHECK(engine->cancel(droppedId) == Engine::CancelOutcome::Cancelling);
  CHECK(record(droppedId).status == ExecutionStatus::Cancelled);

  clock.advance(milliseconds(999));
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(record(keptId).status == ExecutionStatus::Waiting);  // not before its due time
  CHECK(sideEffects == 0);
  clock.advance(milliseconds(1));
  auto outcome = engine->waitFor(keptId, std::chrono::seconds(10));
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Succeeded);
  ExecutionRecord done = record(keptId);
  CHECK(done.attempts == 1);
  REQUIRE(done.startedAt);
  CHECK(*done.startedAt >= due);

  clock.advance(milliseconds(60000));  // the cancelled one's time passes: it never runs
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(record(droppedId).status == ExecutionStatus::Cancelled);
  CHECK(record(droppedId).steps.empty());
  CHECK(sideEffects == 1);
  CHECK(queued == 2);  // the cancelled one too: a worker skipped it
  CHECK(engine->waitingCount() == 0);
}

TEST_CASE_METHOD(ModelFixture, "a fire recorded ahead survives a restart and runs once, at its due time",
                 "[engine][waiting][schedule][recovery]") {
  IntegrationSpec spec;
  spec.steps = {step("tick", "count")};
  deploy(spec);
  startEngine();
  engine->start();
  const TimePoint due = clock.now() + milliseconds(1000);
  ExecutionRequest request = recordFireAhead(due);
  const std::string id = request.executionId;
  engine->submitRecordedAt({std::move(request)}, due);
  RecoveryReport report = restart();  // the server goes away before it is due
  REQUIRE(report.waiting.size() == 1);
  CHECK(report.requeued.empty());
  engine->start();
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(record(id).status == ExecutionStatus::Waiting);
  clock.advance(milliseconds(1000));
  auto outcome = engine->waitFor(id, std::chrono::seconds(10));
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Succeeded);
  CHECK(sideEffects == 1);
  ExecutionRecord done = record(id);
  CHECK(done.attempts == 1);
  CHECK(done.startedAt);
  CHECK(done.logs.empty());  // it did not run before: no "resuming" note
}

TEST_CASE_METHOD(ModelFixture, "a running step that ignores a cancel is given up after the grace", "[engine][cancel]") {
  IntegrationSpec spec;
  spec.steps = {step("hang", "stuck")};
  deploy(spec);
  startEngine();
  engine->start();
  std::string id = submit();
  REQUIRE(reaches(id, ExecutionStatus::Running));
  CHECK(engine->cancel(id) == Engine::CancelOutcome::Cancelling);
  // The simulated clock passes the 200 ms abandon grace in steps: under a
  // sanitizer the engine may arm the give-up deadline after one jump (it
  // was once missed that way), and the wait must not depend on that.
  std::optional<ExecutionOutcome> outcome;
  for (int step = 0; step < 100 && !outcome; ++step) {
    clock.advance(milliseconds(100));
    outcome = engine->waitFor(id, milliseconds(100));
  }
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Cancelled);
  CHECK_THAT(*outcome->error, Catch::Contains("cancelled while step 'hang' ran"));
  release = true;
}

TEST_CASE_METHOD(ModelFixture, "shutdown gives running steps the grace, then leaves them to resume after the restart",
                 "[engine][shutdown]") {
  IntegrationSpec spec;
  spec.steps = {step("one", "count"), step("hang", "stuck")};
  deploy(spec);
  startEngine();
  engine->start();
  std::string id = submit();
  REQUIRE(reaches(id, ExecutionStatus::Running));
  std::optional<ExecutionOutcome> told;
  engine->whenFinished(id, [&](const ExecutionOutcome& outcome) { told = outcome; });
  std::atomic<bool> stopped{false};
  std::thread advance([&] {  // the grace and the abandon grace pass on the simulated clock
    for (int i = 0; i < 200 && !stopped; ++i) {
      std::this_thread::sleep_for(milliseconds(10));
      clock.advance(milliseconds(100));
    }
  });
  int leftBehind = engine->stop(milliseconds(2000));
  stopped = true;
  advance.join();
  CHECK(leftBehind == 1);
  REQUIRE(told);
  CHECK(told->interrupted);
  store->flush();
  CHECK(record(id).status == ExecutionStatus::Running);  // resumes after the restart
  release = true;
}

TEST_CASE_METHOD(ModelFixture, "blocked steps do not starve the queue: the pool grows while the CPUs are idle",
                 "[engine][pool]") {
  IntegrationSpec spec;
  spec.steps = {step("hang", "stuck")};
  deploy(spec);
  startEngine(2, 32);
  engine->start();
  std::vector<std::string> stuck;
  for (int i = 0; i < 8; ++i) stuck.push_back(submit());
  spec.steps = {step("fine", "count")};
  deploy(spec);
  std::string fine = submit();
  std::atomic<bool> done{false};
  std::thread ticks([&] {  // the engine's tick runs on the simulated clock
    while (!done) {
      std::this_thread::sleep_for(milliseconds(20));
      clock.advance(milliseconds(20));
    }
  });
  auto outcome = engine->waitFor(fine, std::chrono::seconds(10));
  done = true;
  ticks.join();
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Succeeded);
  CHECK(engine->workerThreads() > 2);
  CHECK(engine->workerThreads() <= 32);
  release = true;
  for (const auto& id : stuck) REQUIRE(engine->waitFor(id, std::chrono::seconds(10)));
}
