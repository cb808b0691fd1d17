// The engine against a real SQLite store and in-test components.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <condition_variable>
#include <filesystem>

#include "engine/engine.hpp"
#include "loader/static_catalog.hpp"
#include "store/sqlite_store.hpp"
#include "util/ids.hpp"

using namespace plexus::core;
using plexus::Json;

namespace {

namespace fs = std::filesystem;

/// Two executions that each wait here until both have arrived prove that
/// they ran at the same time.
struct Rendezvous {
  std::mutex mutex;
  std::condition_variable arrived;
  int count = 0;
  bool meet(int expected) {
    std::unique_lock<std::mutex> lock(mutex);
    ++count;
    arrived.notify_all();
    return arrived.wait_for(lock, std::chrono::seconds(10), [&] { return count >= expected; });
  }
};

Rendezvous rendezvous;

/// The `n` inputs of `record` steps, in the order they ran.
std::mutex ranMutex;
std::vector<int> ran;

std::vector<plexus::ComponentSpec> testComponents() {
  using plexus::InputType;
  plexus::ActionSpec echo{"echo", "Echo", "Returns its input", {{"value", InputType::Json, false}},
                          [](const plexus::Inputs& in, plexus::Context&) -> plexus::Result {
                            return in.has("value") ? in.json("value") : Json();
                          }};
  plexus::ActionSpec fail{"fail", "Fail", "Throws", {{"message", InputType::String, true}},
                          [](const plexus::Inputs& in, plexus::Context&) -> plexus::Result {
                            throw std::runtime_error(in.string("message"));
                          }};
  plexus::ActionSpec say{"say", "Say", "Logs", {{"message", InputType::String, true}},
                         [](const plexus::Inputs& in, plexus::Context& context) -> plexus::Result {
                           context.log(plexus::LogLevel::Info, in.string("message"));
                           return Json();
                         }};
  plexus::ActionSpec stop{"stop", "Stop", "Status", {{"statusCode", InputType::Number, true}},
                          [](const plexus::Inputs& in, plexus::Context&) -> plexus::Result {
                            return plexus::StatusResult{static_cast<int>(in.number("statusCode")), {}, {}};
                          }};
  plexus::ActionSpec meet{"meet", "Meet", "Waits for a second execution", {},
                          [](const plexus::Inputs&, plexus::Context&) -> plexus::Result {
                            return Json(rendezvous.meet(2));
                          }};
  plexus::ActionSpec record{"record", "Record", "Notes the order it ran in", {{"n", InputType::Number, true}},
                            [](const plexus::Inputs& in, plexus::Context&) -> plexus::Result {
                              std::lock_guard<std::mutex> lock(ranMutex);
                              ran.push_back(static_cast<int>(in.number("n")));
                              return Json(in.number("n"));
                            }};
  return {plexus::ComponentSpec{"test", "1.0.0", "Test actions", {echo, fail, say, stop, meet, record}}};
}

StepSpec step(const std::string& name, const std::string& action, Json inputs) {
  StepSpec spec;
  spec.name = name;
  spec.component = "test";
  spec.action = action;
  spec.inputs = std::move(inputs);
  return spec;
}

struct EngineFixture {
  std::string dir = (fs::temp_directory_path() / ("plexus-engine-" + randomId(6))).string();
  std::unique_ptr<SqliteStore> store = SqliteStore::open(dir);
  StaticCatalog catalog{testComponents()};
  IntegrationRegistry registry;
  std::unique_ptr<Engine> engine;

  ~EngineFixture() {
    if (engine) engine->stop();
    store.reset();
    fs::remove_all(dir);
  }

  void deploy(IntegrationSpec spec, int workers = 2) {
    spec.key = "it";
    spec.name = "It";
    if (spec.instances.empty()) spec.instances.push_back({"default", Json::object(), true});
    registry.replaceAll({spec});
    engine = std::make_unique<Engine>(*store, catalog, registry, Engine::Options{workers});
    engine->start();
  }

  InstanceRecord instance(const std::string& name = "default") {
    InstanceRecord record{randomId(), "it", name, true, Json::object(), "", nowMs()};
    store->saveInstance(record);
    return record;
  }

  ExecutionOutcome runOnce(Json triggerResults = Json::object()) {
    std::string id = Engine::newExecutionId();
    engine->submit({id, registry.find("it"), instance(), "manual", std::move(triggerResults)});
    auto outcome = engine->waitFor(id, std::chrono::seconds(30));
    REQUIRE(outcome);
    return *outcome;
  }
};

}  // namespace

TEST_CASE_METHOD(EngineFixture, "steps run in order and see earlier results with their types", "[engine]") {
  IntegrationSpec spec;
  spec.steps = {step("first", "echo", {{"value", "{{ trigger.results.body }}"}}),
                step("second", "echo", {{"value", {{"n", "{{ steps.first.results.n }}"},
                                                    {"text", "n is {{ steps.first.results.n }}"}}}})};
  deploy(spec);
  ExecutionOutcome outcome = runOnce({{"body", {{"n", 42}}}});
  REQUIRE(outcome.status == ExecutionStatus::Succeeded);
  REQUIRE(outcome.result);
  CHECK(outcome.result->data == Json{{"n", 42}, {"text", "n is 42"}});

  auto record = store->execution(outcome.executionId);
  REQUIRE(record);
  CHECK(record->status == ExecutionStatus::Succeeded);
  REQUIRE(record->steps.size() == 2);
  CHECK(record->steps[0].status == StepStatus::Succeeded);
  CHECK(record->steps[1].endedAt.has_value());
  CHECK(store->stepResult(outcome.executionId, "first")->data == Json{{"n", 42}});
}

TEST_CASE_METHOD(EngineFixture, "a throwing action fails the execution naming step and action", "[engine]") {
  IntegrationSpec spec;
  spec.steps = {step("boom", "fail", {{"message", "the CRM said no"}}), step("after", "echo", {})};
  deploy(spec);
  ExecutionOutcome outcome = runOnce();
  CHECK(outcome.status == ExecutionStatus::Failed);
  CHECK(outcome.errorStep == "boom");
  CHECK(outcome.error == "step 'boom': action 'test.fail' failed: the CRM said no");
  auto record = store->execution(outcome.executionId);
  REQUIRE(record->steps.size() == 1);  // "after" never ran
  CHECK(record->steps[0].status == StepStatus::Failed);
  CHECK(record->error == outcome.error);
}

TEST_CASE_METHOD(EngineFixture, "a reference that does not resolve fails the step naming the path", "[engine]") {
  IntegrationSpec spec;
  spec.steps = {step("first", "echo", {{"value", "{{ trigger.results.missing }}"}})};
  deploy(spec);
  ExecutionOutcome outcome = runOnce({{"present", 1}});
  CHECK(outcome.status == ExecutionStatus::Failed);
  CHECK_THAT(*outcome.error, Catch::Contains("trigger.results.missing"));
}

TEST_CASE_METHOD(EngineFixture, "a status-code result ends the execution at that step", "[engine]") {
  IntegrationSpec spec;
  spec.steps = {step("reply", "stop", {{"statusCode", 415}}), step("never", "fail", {{"message", "x"}})};
  deploy(spec);
  ExecutionOutcome outcome = runOnce();
  CHECK(outcome.status == ExecutionStatus::Succeeded);
  REQUIRE(outcome.result);
  CHECK(outcome.result->isStatus);
  CHECK(outcome.result->status.statusCode == 415);
  CHECK(store->execution(outcome.executionId)->steps.size() == 1);
}

TEST_CASE_METHOD(EngineFixture, "action logs land in the execution's log with secrets redacted", "[engine]") {
  IntegrationSpec spec;
  spec.configVars = {{"token", plexus::InputType::Secret, Json("hunter2"), false, "", ""}};
  spec.steps = {step("talk", "say", {{"message", "calling with {{ configVars.token }}"}})};
  deploy(spec);
  ExecutionOutcome outcome = runOnce();
  REQUIRE(outcome.status == ExecutionStatus::Succeeded);
  auto record = store->execution(outcome.executionId);
  REQUIRE(record->logs.size() == 1);
  CHECK(record->logs[0].message == "calling with ********");
  CHECK(record->logs[0].step == "talk");
}

TEST_CASE_METHOD(EngineFixture, "executions run in parallel on the worker pool", "[engine]") {
  IntegrationSpec spec;
  spec.steps = {step("meet", "meet", Json::object())};
  deploy(spec, 2);
  std::string a = Engine::newExecutionId(), b = Engine::newExecutionId();
  engine->submit({a, registry.find("it"), instance("a"), "manual", Json::object()});
  engine->submit({b, registry.find("it"), instance("b"), "manual", Json::object()});
  auto first = engine->waitFor(a, std::chrono::seconds(30));
  auto second = engine->waitFor(b, std::chrono::seconds(30));
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->result->data == true);  // Both were inside "meet" at once.
  CHECK(second->result->data == true);
}

TEST_CASE_METHOD(EngineFixture, "executions left queued by a crash run after recovery, and say so", "[engine]") {
  IntegrationSpec spec;
  spec.steps = {step("first", "echo", {{"value", "{{ trigger.results.n }}"}})};
  deploy(spec);
  engine->stop();  // As if the process died: nothing runs what we record now.
  InstanceRecord target = instance();
  std::string id = Engine::newExecutionId();
  store->createExecution({id, "it", target.id, target.name, "webhook", Json{{"n", 7}}, nowMs()});
  store->markRunning(id, nowMs());

  engine = std::make_unique<Engine>(*store, catalog, registry, Engine::Options{1});
  CHECK(engine->recoverUnfinished().requeued.size() == 1);
  engine->start();
  auto outcome = engine->waitFor(id, std::chrono::seconds(30));
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Succeeded);
  CHECK(outcome->result->data == 7);
  auto record = store->execution(id);
  REQUIRE_FALSE(record->logs.empty());
  CHECK_THAT(record->logs[0].message, Catch::Contains("running it again"));
  CHECK(store->unfinishedExecutions().empty());
}

TEST_CASE_METHOD(EngineFixture, "waiting on an execution that already ended answers from the store", "[engine]") {
  IntegrationSpec spec;
  spec.steps = {step("first", "echo", {{"value", 1}})};
  deploy(spec);
  ExecutionOutcome outcome = runOnce();
  auto again = engine->waitFor(outcome.executionId, std::chrono::seconds(1));
  REQUIRE(again);
  CHECK(again->status == ExecutionStatus::Succeeded);
  CHECK(again->result->data == 1);
}

TEST_CASE_METHOD(EngineFixture, "executions past maxQueued wait as ids and are read back from the store in order",
                 "[engine][queue]") {
  IntegrationSpec spec;
  spec.steps = {step("first", "record", {{"n", "{{ trigger.results.n }}"}})};
  spec.key = "it";
  spec.name = "It";
  registry.replaceAll({spec});
  engine = std::make_unique<Engine>(*store, catalog, registry, Engine::Options{1, 3});
  {
    std::lock_guard<std::mutex> lock(ranMutex);
    ran.clear();
  }
  InstanceRecord target = instance();
  std::vector<std::string> ids;
  for (int n = 0; n < 20; ++n) {
    ids.push_back(Engine::newExecutionId());
    engine->submit({ids.back(), registry.find("it"), target, "manual", Json{{"n", n}}});
  }
  CHECK(engine->queuedCount() == 20);
  CHECK(engine->deferredCount() == 17);  // 3 in memory, 17 as ids
  engine->start();
  for (int n = 0; n < 20; ++n) {
    auto outcome = engine->waitFor(ids[n], std::chrono::seconds(30));
    REQUIRE(outcome);
    CHECK(outcome->status == ExecutionStatus::Succeeded);
    CHECK(outcome->result->data == n);  // trigger results read back from the store
  }
  std::vector<int> expected(20);
  std::iota(expected.begin(), expected.end(), 0);
  std::lock_guard<std::mutex> lock(ranMutex);
  CHECK(ran == expected);  // one worker: submission order, through memory and store alike
  CHECK(engine->queuedCount() == 0);
}
