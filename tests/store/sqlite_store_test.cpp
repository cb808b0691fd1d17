#include <catch2/catch.hpp>

#include <chrono>

#include "store/sqlite_store.hpp"
#include "temp_dir.hpp"

using namespace plexus::core;
using plexus::core::testing::TempDir;

namespace {

TimePoint at(long long ms) { return TimePoint(std::chrono::milliseconds(ms)); }

InstanceRecord makeInstance(const std::string& id, const std::string& integration, const std::string& name,
                            const std::string& token = "") {
  InstanceRecord instance;
  instance.id = id;
  instance.integrationKey = integration;
  instance.name = name;
  instance.enabled = true;
  instance.configVars = {{"bucket", name + "-renders"}, {"retries", 3}};
  instance.webhookToken = token;
  instance.createdAt = at(1'700'000'000'000);
  return instance;
}

NewExecution makeExecution(const std::string& id, const std::string& instanceId, long long queuedAtMs) {
  NewExecution execution;
  execution.id = id;
  execution.integrationKey = "render-status";
  execution.instanceId = instanceId;
  execution.instanceName = "acme";
  execution.trigger = "webhook";
  execution.triggerResults = {{"method", "POST"}, {"body", {{"data", {{"renderId", 42}}}}}};
  execution.queuedAt = at(queuedAtMs);
  return execution;
}

StepRecord makeStep(const std::string& name, StepStatus status, long long startedMs,
                    std::optional<long long> endedMs = std::nullopt) {
  StepRecord step;
  step.name = name;
  step.component = "json";
  step.action = "select";
  step.status = status;
  step.startedAt = at(startedMs);
  if (endedMs) step.endedAt = at(*endedMs);
  return step;
}

std::vector<std::string> idsOf(const std::vector<ExecutionRecord>& executions) {
  std::vector<std::string> ids;
  for (const auto& execution : executions) ids.push_back(execution.id);
  return ids;
}

/// Fills a store with one of everything, so tests can check it all survives.
void recordOneFullExecution(Store& store) {
  store.saveInstance(makeInstance("i1", "render-status", "acme", "tok-acme"));
  store.createExecution(makeExecution("e1", "i1", 1000));
  store.markRunning("e1", at(1100));
  store.recordStepStarted("e1", makeStep("lookup", StepStatus::Running, 1200));
  store.appendLog("e1", LogRecord{at(1250), plexus::LogLevel::Warn, "lookup", "looking up render 42"});
  StoredResult data;
  data.data = {{"renderId", 42}};
  store.recordStepFinished("e1", makeStep("lookup", StepStatus::Succeeded, 1200, 1300), data);
  store.recordStepStarted("e1", makeStep("reply", StepStatus::Running, 1400));
  StoredResult status;
  status.isStatus = true;
  status.status.statusCode = 415;
  status.status.headers = {{"x-reason", "unsupported"}};
  status.status.body = plexus::Json("no such render");
  store.recordStepFinished("e1", makeStep("reply", StepStatus::Succeeded, 1400, 1500), status);
  store.appendLog("e1", LogRecord{at(1550), plexus::LogLevel::Info, "", "execution finished"});
  store.finishExecution("e1", ExecutionStatus::Succeeded, at(1600), std::nullopt, std::nullopt);
  store.recordFire("i1", at(60'000));
}

void checkTheFullExecution(Store& store) {
  auto execution = store.execution("e1");
  REQUIRE(execution);
  CHECK(execution->integrationKey == "render-status");
  CHECK(execution->instanceId == "i1");
  CHECK(execution->instanceName == "acme");
  CHECK(execution->trigger == "webhook");
  CHECK(execution->status == ExecutionStatus::Succeeded);
  CHECK(execution->queuedAt == at(1000));
  CHECK(execution->startedAt == at(1100));
  CHECK(execution->endedAt == at(1600));
  CHECK_FALSE(execution->error);
  CHECK(execution->attempts == 1);

  REQUIRE(execution->steps.size() == 2);
  CHECK(execution->steps[0].name == "lookup");
  CHECK(execution->steps[0].component == "json");
  CHECK(execution->steps[0].action == "select");
  CHECK(execution->steps[0].status == StepStatus::Succeeded);
  CHECK(execution->steps[0].startedAt == at(1200));
  CHECK(execution->steps[0].endedAt == at(1300));
  CHECK(execution->steps[1].name == "reply");

  REQUIRE(execution->logs.size() == 2);
  CHECK(execution->logs[0].time == at(1250));
  CHECK(execution->logs[0].level == plexus::LogLevel::Warn);
  CHECK(execution->logs[0].step == "lookup");
  CHECK(execution->logs[0].message == "looking up render 42");
  CHECK(execution->logs[1].step.empty());

  auto trigger = store.executionToRun("e1");
  REQUIRE(trigger);
  CHECK(trigger->triggerResults["body"]["data"]["renderId"] == 42);

  auto lookup = store.stepResult("e1", "lookup");
  REQUIRE(lookup);
  CHECK_FALSE(lookup->isStatus);
  CHECK(lookup->data == plexus::Json{{"renderId", 42}});

  auto reply = store.stepResult("e1", "reply");
  REQUIRE(reply);
  REQUIRE(reply->isStatus);
  CHECK(reply->status.statusCode == 415);
  CHECK(reply->status.headers == std::map<std::string, std::string>{{"x-reason", "unsupported"}});
  REQUIRE(reply->status.body);
  CHECK(*reply->status.body == "no such render");

  CHECK(store.lastFire("i1") == at(60'000));
  CHECK(store.instanceByToken("tok-acme"));
}

}  // namespace

TEST_CASE("execution and step statuses read and write as the API's words", "[store]") {
  CHECK(std::string(toString(ExecutionStatus::Queued)) == "queued");
  CHECK(std::string(toString(ExecutionStatus::Running)) == "running");
  CHECK(std::string(toString(ExecutionStatus::Succeeded)) == "succeeded");
  CHECK(std::string(toString(ExecutionStatus::Failed)) == "failed");
  CHECK(executionStatusFromString("failed") == ExecutionStatus::Failed);
  CHECK_FALSE(executionStatusFromString("Failed"));
  CHECK(std::string(toString(StepStatus::Running)) == "running");
  CHECK(stepStatusFromString("succeeded") == StepStatus::Succeeded);
  CHECK_FALSE(stepStatusFromString("done"));
}

TEST_CASE("the store creates plexus.db and blobs/ in the data directory", "[store]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.sub("var/data"));
  CHECK(std::filesystem::is_regular_file(temp.path() / "var/data/plexus.db"));
  CHECK(std::filesystem::is_directory(temp.path() / "var/data/blobs"));
  CHECK(store->blobDirectory() == temp.sub("var/data/blobs"));
  CHECK(store->databasePath() == temp.sub("var/data/plexus.db"));
}

TEST_CASE("instances are saved, found by id, token and name, listed in order, and deleted", "[store][instances]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  store->saveInstance(makeInstance("i2", "zeta", "acme", "tok-z"));
  store->saveInstance(makeInstance("i1", "alpha", "zulu", "tok-a"));
  store->saveInstance(makeInstance("i3", "alpha", "acme"));  // no webhook

  SECTION("by id, with every field") {
    auto found = store->instance("i2");
    REQUIRE(found);
    CHECK(found->integrationKey == "zeta");
    CHECK(found->name == "acme");
    CHECK(found->enabled);
    CHECK(found->configVars == plexus::Json{{"bucket", "acme-renders"}, {"retries", 3}});
    CHECK(found->webhookToken == "tok-z");
    CHECK(found->createdAt == at(1'700'000'000'000));
    CHECK_FALSE(store->instance("nope"));
  }
  SECTION("by token; an empty token finds nothing") {
    REQUIRE(store->instanceByToken("tok-a"));
    CHECK(store->instanceByToken("tok-a")->id == "i1");
    CHECK_FALSE(store->instanceByToken("tok-unknown"));
    CHECK_FALSE(store->instanceByToken(""));
    CHECK(store->instance("i3")->webhookToken.empty());
  }
  SECTION("by integration and name") {
    REQUIRE(store->instanceByName("alpha", "acme"));
    CHECK(store->instanceByName("alpha", "acme")->id == "i3");
    CHECK(store->instanceByName("zeta", "acme")->id == "i2");
    CHECK_FALSE(store->instanceByName("zeta", "zulu"));
  }
  SECTION("listed by integration, then name") {
    std::vector<std::string> order;
    for (const auto& instance : store->instances()) order.push_back(instance.integrationKey + "/" + instance.name);
    CHECK(order == std::vector<std::string>{"alpha/acme", "alpha/zulu", "zeta/acme"});
  }
  SECTION("saving an existing id replaces it") {
    auto changed = makeInstance("i2", "zeta", "acme-renamed", "tok-z2");
    changed.enabled = false;
    changed.configVars = {{"bucket", "other"}};
    store->saveInstance(changed);
    auto found = store->instance("i2");
    REQUIRE(found);
    CHECK(found->name == "acme-renamed");
    CHECK_FALSE(found->enabled);
    CHECK(found->configVars == plexus::Json{{"bucket", "other"}});
    CHECK_FALSE(store->instanceByToken("tok-z"));
    CHECK(store->instanceByToken("tok-z2"));
    CHECK(store->instances().size() == 3);
  }
  SECTION("a second instance with the same name in one integration is refused, naming it") {
    CHECK_THROWS_WITH(store->saveInstance(makeInstance("i9", "zeta", "acme")),
                      Catch::Contains("an instance named 'acme' already exists for integration 'zeta'") &&
                          Catch::Contains("saveInstance 'i9'"));
    CHECK_FALSE(store->instance("i9"));
  }
  SECTION("deleting removes the instance and its fires, not its executions") {
    store->createExecution(makeExecution("e1", "i2", 10));
    CHECK(store->recordFire("i2", at(60'000)));
    CHECK(store->deleteInstance("i2"));
    CHECK_FALSE(store->instance("i2"));
    CHECK_FALSE(store->lastFire("i2"));
    CHECK(store->recordFire("i2", at(60'000)));  // the old fire is forgotten
    CHECK(store->execution("e1"));
    CHECK_FALSE(store->deleteInstance("i2"));
    CHECK_FALSE(store->deleteInstance("never-was"));
  }
}

TEST_CASE("an execution records its run: steps, results, logs and end state", "[store][executions]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  recordOneFullExecution(*store);
  checkTheFullExecution(*store);

  SECTION("a failed execution keeps its error and failing step") {
    store->createExecution(makeExecution("e2", "i1", 2000));
    store->markRunning("e2", at(2100));
    auto failed = makeStep("lookup", StepStatus::Failed, 2200, 2300);
    failed.error = "path 'renderId' not found";
    store->recordStepFinished("e2", failed, std::nullopt);
    store->finishExecution("e2", ExecutionStatus::Failed, at(2400), std::string("path 'renderId' not found"),
                           std::string("lookup"));
    auto execution = store->execution("e2");
    REQUIRE(execution);
    CHECK(execution->status == ExecutionStatus::Failed);
    CHECK(execution->error == "path 'renderId' not found");
    CHECK(execution->errorStep == "lookup");
    REQUIRE(execution->steps.size() == 1);
    CHECK(execution->steps[0].error == "path 'renderId' not found");
    CHECK_FALSE(store->stepResult("e2", "lookup"));
  }
  SECTION("a step still running has no result") {
    store->createExecution(makeExecution("e3", "i1", 3000));
    store->recordStepStarted("e3", makeStep("slow", StepStatus::Running, 3100));
    store->flush();  // Progress writes are queued; flush makes them durable and visible.
    CHECK_FALSE(store->stepResult("e3", "slow"));
    CHECK(store->execution("e3")->steps.at(0).status == StepStatus::Running);
    CHECK_FALSE(store->execution("e3")->steps.at(0).endedAt);
  }
  SECTION("unknown ids find nothing") {
    CHECK_FALSE(store->execution("nope"));
    CHECK_FALSE(store->executionToRun("nope"));
    CHECK_FALSE(store->stepResult("e1", "nope"));
    CHECK_FALSE(store->stepResult("nope", "lookup"));
  }
  SECTION("updating an unknown execution fails, naming the operation and the id") {
    // markRunning is a queued progress write: its failure is logged, and it
    // creates nothing.
    CHECK_NOTHROW(store->markRunning("ghost", at(1)));
    store->flush();
    CHECK_FALSE(store->execution("ghost"));
    CHECK_THROWS_WITH(store->finishExecution("ghost", ExecutionStatus::Failed, at(1), std::nullopt, std::nullopt),
                      Catch::Contains("finishExecution 'ghost'"));
    CHECK_THROWS_WITH(store->resetForRetry("ghost"), Catch::Contains("resetForRetry 'ghost'"));
  }
  SECTION("creating an execution id twice fails and keeps the first") {
    CHECK_THROWS_WITH(store->createExecution(makeExecution("e1", "other", 5)),
                      Catch::Contains("createExecution 'e1'") && Catch::Contains("UNIQUE"));
    CHECK(store->execution("e1")->instanceId == "i1");
  }
}

// "Newest" is the order executions were recorded in (which queued_at follows
// in a running server, its clock aside).
TEST_CASE("executions are listed newest first, filtered and limited", "[store][executions]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  store->createExecution(makeExecution("a1", "A", 100));
  store->createExecution(makeExecution("b1", "B", 200));
  store->createExecution(makeExecution("a2", "A", 300));
  store->createExecution(makeExecution("a3", "A", 300));
  store->createExecution(makeExecution("b2", "B", 50));   // an earlier clock reading, but recorded last
  store->markRunning("a2", at(400));
  store->finishExecution("a2", ExecutionStatus::Succeeded, at(500), std::nullopt, std::nullopt);
  store->markRunning("b1", at(400));
  store->flush();

  ExecutionQuery all;
  CHECK(idsOf(store->executions(all)) == std::vector<std::string>{"b2", "a3", "a2", "b1", "a1"});
  all.limit = 2;
  CHECK(idsOf(store->executions(all)) == std::vector<std::string>{"b2", "a3"});
  all.limit = 0;
  CHECK(store->executions(all).empty());

  ExecutionQuery ofA;
  ofA.instanceId = "A";
  CHECK(idsOf(store->executions(ofA)) == std::vector<std::string>{"a3", "a2", "a1"});

  ExecutionQuery queued;
  queued.status = ExecutionStatus::Queued;
  CHECK(idsOf(store->executions(queued)) == std::vector<std::string>{"b2", "a3", "a1"});

  ExecutionQuery queuedOfB;
  queuedOfB.instanceId = "B";
  queuedOfB.status = ExecutionStatus::Queued;
  CHECK(idsOf(store->executions(queuedOfB)) == std::vector<std::string>{"b2"});

  SECTION("listings leave steps and logs empty") {
    store->appendLog("a3", LogRecord{at(1), plexus::LogLevel::Info, "", "hello"});
    CHECK(store->executions(ExecutionQuery{}).front().logs.empty());
  }
  SECTION("unfinished executions are queued or running, oldest first") {
    CHECK(store->unfinishedExecutions() == std::vector<std::string>{"a1", "b1", "a3", "b2"});
  }
}

TEST_CASE("resetForRetry forgets steps and end state, keeps logs, and markRunning counts attempts",
          "[store][executions]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  recordOneFullExecution(*store);
  store->finishExecution("e1", ExecutionStatus::Failed, at(1600), std::string("boom"), std::string("reply"));

  store->resetForRetry("e1");
  auto reset = store->execution("e1");
  REQUIRE(reset);
  CHECK(reset->status == ExecutionStatus::Queued);
  CHECK_FALSE(reset->startedAt);
  CHECK_FALSE(reset->endedAt);
  CHECK_FALSE(reset->error);
  CHECK_FALSE(reset->errorStep);
  CHECK(reset->steps.empty());
  CHECK(reset->logs.size() == 2);
  CHECK(reset->attempts == 1);
  CHECK_FALSE(store->stepResult("e1", "lookup"));
  CHECK(store->executionToRun("e1"));
  CHECK(store->unfinishedExecutions() == std::vector<std::string>{"e1"});

  store->markRunning("e1", at(9000));
  store->flush();
  CHECK(store->execution("e1")->attempts == 2);
  CHECK(store->execution("e1")->startedAt == at(9000));
}

TEST_CASE("a step recorded again replaces its earlier record and result", "[store][executions]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  store->createExecution(makeExecution("e1", "i1", 1));
  StoredResult first;
  first.data = "first";
  store->recordStepFinished("e1", makeStep("s", StepStatus::Succeeded, 10, 20), first);
  store->recordStepStarted("e1", makeStep("s", StepStatus::Running, 30));
  store->flush();
  CHECK_FALSE(store->stepResult("e1", "s"));
  StoredResult second;
  second.data = "second";
  store->recordStepFinished("e1", makeStep("s", StepStatus::Succeeded, 30, 40), second);
  store->flush();
  auto execution = store->execution("e1");
  REQUIRE(execution->steps.size() == 1);
  CHECK(execution->steps[0].startedAt == at(30));
  CHECK(store->stepResult("e1", "s")->data == "second");
}

TEST_CASE("recordFire is true only for a due time after the last, and lastFire is the latest due time", "[store][fires]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  CHECK_FALSE(store->lastFire("i1"));
  CHECK(store->recordFire("i1", at(120'000)));
  CHECK_FALSE(store->recordFire("i1", at(120'000)));
  CHECK_FALSE(store->recordFire("i1", at(60'000)));  // before the last: fires come in due order
  CHECK(store->recordFire("i2", at(120'000)));
  CHECK(store->lastFire("i1") == at(120'000));
  CHECK(store->recordFire("i1", at(180'000)));
  CHECK(store->lastFire("i1") == at(180'000));
}

TEST_CASE("everything is still there after the store is reopened", "[store][durability]") {
  TempDir temp;
  {
    auto store = SqliteStore::open(temp.str());
    recordOneFullExecution(*store);
    store->createExecution(makeExecution("e-queued", "i1", 5000));
  }
  auto reopened = SqliteStore::open(temp.str());
  checkTheFullExecution(*reopened);
  CHECK(reopened->instances().size() == 1);
  CHECK(reopened->unfinishedExecutions() == std::vector<std::string>{"e-queued"});
  CHECK_FALSE(reopened->recordFire("i1", at(60'000)));
}

TEST_CASE("progress writes are queued in order and durable once a later waited write returns",
          "[store][executions]") {
  TempDir temp;
  {
    auto store = SqliteStore::open(temp.str());
    store->saveInstance(makeInstance("i1", "render-status", "acme", "tok-acme"));
    store->createExecution(makeExecution("e1", "i1", 1000));
    store->markRunning("e1", at(1100));
    for (int i = 0; i < 200; ++i)
      store->appendLog("e1", LogRecord{at(1200 + i), plexus::LogLevel::Info, "", "line " + std::to_string(i)});
    store->finishExecution("e1", ExecutionStatus::Succeeded, at(1600), std::nullopt, std::nullopt);
  }
  auto reopened = SqliteStore::open(temp.str());
  auto execution = reopened->execution("e1");
  REQUIRE(execution);
  CHECK(execution->attempts == 1);
  REQUIRE(execution->logs.size() == 200);
  CHECK(execution->logs.front().message == "line 0");
  CHECK(execution->logs.back().message == "line 199");
}

TEST_CASE("an execution whose queued progress failed cannot be finished as if it were whole",
          "[store][executions]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  store->saveInstance(makeInstance("i1", "render-status", "acme", "tok-acme"));
  store->markRunning("late", at(1));  // Queued; fails: there is no execution "late" yet.
  store->createExecution(makeExecution("late", "i1", 2));
  CHECK_THROWS_WITH(store->finishExecution("late", ExecutionStatus::Succeeded, at(3), std::nullopt, std::nullopt),
                    Catch::Contains("finishExecution 'late'") &&
                        Catch::Contains("part of its progress could not be recorded (there is no execution with id 'late'"));
  CHECK(store->unfinishedExecutions() == std::vector<std::string>{"late"});  // It will run again.
  // Told once: a later attempt that records its progress finishes normally.
  store->markRunning("late", at(4));
  CHECK_NOTHROW(store->finishExecution("late", ExecutionStatus::Succeeded, at(5), std::nullopt, std::nullopt));
}

TEST_CASE("schedule fires are recorded with their executions in one transaction", "[store][fires]") {
  TempDir temp;
  auto store = SqliteStore::open(temp.str());
  std::vector<ScheduledFire> fires{{"i1", at(60'000), makeExecution("e1", "i1", 60'000)},
                                   {"i2", at(60'000), std::nullopt},  // disabled: recorded, starts nothing
                                   {"i3", at(60'000), makeExecution("e3", "i3", 60'000)}};
  CHECK(store->recordScheduledFires(fires) == std::vector<bool>{true, true, true});
  CHECK(store->unfinishedExecutions() == std::vector<std::string>{"e1", "e3"});
  CHECK(store->lastFire("i2") == at(60'000));

  SECTION("a fire recorded before starts nothing again") {
    fires[0].execution->id = "e1-again";
    CHECK(store->recordScheduledFires({fires[0]}) == std::vector<bool>{false});
    CHECK_FALSE(store->execution("e1-again"));
  }
  SECTION("when one execution cannot be recorded, no fire of the call is") {
    std::vector<ScheduledFire> next{{"i1", at(120'000), makeExecution("e4", "i1", 120'000)},
                                    {"i3", at(120'000), makeExecution("e3", "i3", 120'000)}};  // e3 exists
    CHECK_THROWS_AS(store->recordScheduledFires(next), StoreError);
    CHECK(store->lastFire("i1") == at(60'000));
    CHECK_FALSE(store->execution("e4"));
  }
}
