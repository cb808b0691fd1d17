// Flow control (CONTRACT §9) in the engine, from YAML as the loader parses
// it, against a real SQLite store on a simulated clock: retries whose waits
// hold no thread and survive a restart, onError: continue, branches, loops,
// and status results from inside them.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

#include "engine/engine.hpp"
#include "integration/integration_loader.hpp"
#include "loader/static_catalog.hpp"
#include "store/sqlite_store.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

using namespace plexus::core;
using plexus::Json;
using std::chrono::milliseconds;

namespace {

namespace fs = std::filesystem;

std::atomic<int> flakyCalls{0};   // calls of t.flaky
std::atomic<int> failuresLeft{0};  // how many more calls of t.flaky fail
std::atomic<int> echoCalls{0};

std::vector<plexus::ComponentSpec> components() {
  using plexus::InputType;
  plexus::ActionSpec flaky{"flaky", "Flaky", "Fails while failuresLeft > 0", {},
                           [](const plexus::Inputs&, plexus::Context&) -> plexus::Result {
                             int call = ++flakyCalls;
                             if (failuresLeft.fetch_sub(1) > 0)
                               throw std::runtime_error("upstream said 503 (call " + std::to_string(call) + ")");
                             return Json{{"call", call}};
                           }};
  plexus::ActionSpec echo{"echo", "Echo", "Returns its value", {{"value", InputType::Json, false}},
                          [](const plexus::Inputs& in, plexus::Context&) -> plexus::Result {
                            ++echoCalls;
                            return in.has("value") ? in.json("value") : Json();
                          }};
  plexus::ActionSpec wait{"wait", "Wait", "Waits ms, then returns value",
                          {{"ms", InputType::Number, true}, {"value", InputType::Json, false}},
                          [](const plexus::Inputs& in, plexus::Context&) -> plexus::Result {
                            auto ms = static_cast<long long>(in.number("ms"));
                            return plexus::Result::afterDelay(milliseconds(ms),
                                                              in.has("value") ? in.json("value") : Json());
                          }};
  plexus::ActionSpec status{"status", "Status", "Answers with a status code", {{"code", InputType::Number, true}},
                            [](const plexus::Inputs& in, plexus::Context&) -> plexus::Result {
                              plexus::StatusResult status;
                              status.statusCode = static_cast<int>(in.number("code"));
                              return status;
                            }};
  plexus::ActionSpec polite{"polite", "Polite", "Stops when cancelled", {},
                            [](const plexus::Inputs&, plexus::Context& context) -> plexus::Result {
                              while (!context.cancelled()) std::this_thread::sleep_for(milliseconds(2));
                              throw std::runtime_error("stopped as asked");
                            }};
  return {plexus::ComponentSpec{"t", "1.0.0", "Test actions", {flaky, echo, wait, status, polite}}};
}

struct FlowFixture {
  std::string dir = (fs::temp_directory_path() / ("plexus-flow-" + randomId(6))).string();
  std::unique_ptr<SqliteStore> store = SqliteStore::open(dir);
  StaticCatalog catalog{components()};
  IntegrationRegistry registry;
  SimulatedClock clock;
  std::unique_ptr<Engine> engine;
  InstanceRecord target{randomId(), "it", "default", true, Json::object(), "", nowMs()};

  FlowFixture() {
    flakyCalls = 0;
    failuresLeft = 0;
    echoCalls = 0;
    store->saveInstance(target);
  }
  ~FlowFixture() {
    if (engine) engine->stop();
    engine.reset();
    store.reset();
    fs::remove_all(dir);
  }

  /// Loads `steps` (YAML, indented by two) as integration "it" and starts an engine.
  void deploy(const std::string& steps, const std::string& execution = "") {
    std::string yaml = "name: It\nkey: it\ntrigger:\n  webhook: {}\n" + execution + "steps:\n" + steps;
    IntegrationLoadResult loaded = parseIntegration(yaml, "it.yaml", catalog);
    std::string errors;
    for (const auto& error : loaded.errors) errors += error.format() + "\n";
    INFO(errors);
    REQUIRE(loaded.integration);
    registry.replaceAll({*loaded.integration});
    startEngine();
    engine->start();
  }
  void startEngine() {
    Engine::Options options;
    options.workers = 2;
    options.clock = &clock;
    options.abandonGrace = milliseconds(200);
    options.tick = milliseconds(20);
    engine = std::make_unique<Engine>(*store, catalog, registry, options);
  }
  std::string submit(Json triggerResults = Json::object()) {
    std::string id = Engine::newExecutionId();
    engine->submit({id, registry.find("it"), target, "manual", std::move(triggerResults)});
    return id;
  }
  bool reaches(const std::string& id, ExecutionStatus status, milliseconds within = milliseconds(20000)) {
    auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
      store->flush();
      auto record = store->execution(id);
      if (record && record->status == status) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
  }
  ExecutionOutcome finish(const std::string& id) {
    auto outcome = engine->waitFor(id, std::chrono::seconds(30));
    REQUIRE(outcome);
    return *outcome;
  }
  /// As finish, moving the simulated clock on meanwhile (deadlines are on it).
  ExecutionOutcome finishAdvancing(const std::string& id) {
    for (int i = 0; i < 1500; ++i) {
      if (auto outcome = engine->waitFor(id, milliseconds(10))) return *outcome;
      clock.advance(milliseconds(10));
    }
    FAIL("execution " << id << " did not end");
    throw std::logic_error("unreachable");
  }
  void restart() {
    engine->stop();
    engine.reset();
    store.reset();
    store = SqliteStore::open(dir);
    startEngine();
    engine->recoverUnfinished();
    engine->start();
  }
  ExecutionRecord record(const std::string& id) {
    store->flush();
    auto found = store->execution(id);
    REQUIRE(found);
    return *found;
  }
  const StepRecord& stepOf(const ExecutionRecord& execution, const std::string& name, int iteration = -1) {
    for (const auto& step : execution.steps)
      if (step.name == name && step.iteration == iteration) return step;
    FAIL("no step " << name << " at iteration " << iteration);
    throw std::logic_error("unreachable");
  }
};

int logsContaining(const ExecutionRecord& record, const std::string& text) {
  int count = 0;
  for (const auto& line : record.logs) count += line.message.find(text) != std::string::npos;
  return count;
}

}  // namespace

TEST_CASE_METHOD(FlowFixture, "a failing step is retried with exponential backoff; each wait is a waiting execution",
                 "[flow][retry]") {
  failuresLeft = 2;
  deploy("  - name: fetch\n    component: t\n    action: flaky\n"
         "    retry: { maxAttempts: 5, delayMs: 1000, backoff: exponential }\n");
  std::string id = submit();
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  CHECK(flakyCalls == 1);
  CHECK(stepOf(record(id), "fetch").status == StepStatus::Waiting);
  clock.advance(milliseconds(999));
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(flakyCalls == 1);  // not before its delay
  clock.advance(milliseconds(1));
  while (flakyCalls < 2) std::this_thread::sleep_for(milliseconds(2));
  REQUIRE(reaches(id, ExecutionStatus::Waiting));  // the second wait
  clock.advance(milliseconds(1999));  // the second wait is twice the first
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(flakyCalls == 2);
  clock.advance(milliseconds(1));
  ExecutionOutcome outcome = finish(id);
  CHECK(outcome.status == ExecutionStatus::Succeeded);
  CHECK(outcome.result->data == Json{{"call", 3}});
  ExecutionRecord done = record(id);
  CHECK(stepOf(done, "fetch").attempts == 3);
  CHECK(logsContaining(done, "attempt 1 of 5 failed: step 'fetch': action 't.flaky' failed: upstream said 503 "
                             "(call 1); the next in 1000 ms") == 1);
  CHECK(logsContaining(done, "attempt 2 of 5 failed: step 'fetch': action 't.flaky' failed: upstream said 503 "
                             "(call 2); the next in 2000 ms") == 1);
}

TEST_CASE_METHOD(FlowFixture, "a step that fails every attempt fails the execution, saying how many it had",
                 "[flow][retry]") {
  failuresLeft = 100;
  deploy("  - name: fetch\n    component: t\n    action: flaky\n    retry: { maxAttempts: 3, delayMs: 0 }\n");
  ExecutionOutcome outcome = finish(submit());
  CHECK(outcome.status == ExecutionStatus::Failed);
  CHECK(outcome.error ==
        "step 'fetch': action 't.flaky' failed: upstream said 503 (call 3) (the last of 3 attempts)");
  CHECK(outcome.errorStep == "fetch");
  CHECK(flakyCalls == 3);
}

TEST_CASE_METHOD(FlowFixture, "a retry's wait survives a restart; the steps before it are not run again",
                 "[flow][retry][restart]") {
  failuresLeft = 1;
  deploy("  - name: first\n    component: t\n    action: echo\n    inputs: { value: 1 }\n"
         "  - name: fetch\n    component: t\n    action: flaky\n    retry: { maxAttempts: 2, delayMs: 60000 }\n");
  std::string id = submit();
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  restart();
  CHECK(record(id).status == ExecutionStatus::Waiting);
  clock.advance(milliseconds(60000));
  ExecutionOutcome outcome = finish(id);
  CHECK(outcome.status == ExecutionStatus::Succeeded);
  CHECK(flakyCalls == 2);
  CHECK(echoCalls == 1);
  CHECK(stepOf(record(id), "fetch").attempts == 2);
}

TEST_CASE_METHOD(FlowFixture, "an attempt that times out is retried; a cancel is never retried", "[flow][retry]") {
  deploy("  - name: slow\n    component: t\n    action: polite\n    timeoutMs: 50\n"
         "    retry: { maxAttempts: 2, delayMs: 0 }\n    onError: continue\n"
         "  - name: after\n    component: t\n    action: echo\n    inputs: { value: \"{{ steps.slow.error }}\" }\n");
  ExecutionOutcome outcome = finishAdvancing(submit());
  REQUIRE(outcome.status == ExecutionStatus::Succeeded);
  CHECK(outcome.result->data == "step 'slow' timed out after 50 ms (its timeoutMs) (the last of 2 attempts)");

  deploy("  - name: slow\n    component: t\n    action: polite\n    retry: { maxAttempts: 5, delayMs: 0 }\n");
  std::string id = submit();
  REQUIRE(reaches(id, ExecutionStatus::Running));
  std::this_thread::sleep_for(milliseconds(50));
  CHECK(engine->cancel(id) == Engine::CancelOutcome::Cancelling);
  CHECK(finish(id).status == ExecutionStatus::Cancelled);
  CHECK(stepOf(record(id), "slow").attempts == 1);
}

TEST_CASE_METHOD(FlowFixture, "onError: continue records the step failed and feeds its error to later steps",
                 "[flow][onError]") {
  failuresLeft = 1;
  deploy("  - name: fetch\n    component: t\n    action: flaky\n    onError: continue\n"
         "  - name: report\n    component: t\n    action: echo\n"
         "    inputs: { value: { results: \"{{ steps.fetch.results }}\", error: \"{{ steps.fetch.error }}\","
         " failed: \"{{ exists(steps.fetch.error) }}\" } }\n");
  std::string id = submit();
  ExecutionOutcome outcome = finish(id);
  CHECK(outcome.status == ExecutionStatus::Succeeded);
  CHECK(outcome.result->data ==
        Json{{"results", nullptr},
             {"error", "step 'fetch': action 't.flaky' failed: upstream said 503 (call 1)"},
             {"failed", true}});
  CHECK(stepOf(record(id), "fetch").status == StepStatus::Failed);
}

TEST_CASE_METHOD(FlowFixture, "a branch takes the first case whose when holds, else the else, else none",
                 "[flow][branch]") {
  deploy("  - name: route\n    branch:\n"
         "      - when: \"{{ trigger.results.status >= 400 }}\"\n"
         "        steps:\n          - { name: bad, component: t, action: echo, inputs: { value: bad } }\n"
         "      - when: \"{{ trigger.results.status == 204 }}\"\n"
         "        steps:\n          - { name: empty, component: t, action: echo, inputs: { value: empty } }\n"
         "      - else:\n"
         "          - { name: fine, component: t, action: echo, inputs: { value: fine } }\n"
         "          - { name: fine2, component: t, action: echo, inputs: { value: \"{{ steps.fine.results }}!\" } }\n");
  std::string bad = submit({{"status", 503}});
  std::string empty = submit({{"status", 204}});
  std::string fine = submit({{"status", 200}});
  CHECK(finish(bad).result->data == "bad");
  CHECK(finish(empty).result->data == "empty");
  CHECK(finish(fine).result->data == "fine!");  // a branch's result is its case's last step's
  ExecutionRecord record = this->record(fine);
  CHECK(stepOf(record, "route").action == "branch");
  CHECK(stepOf(record, "fine").parent == "route");
  CHECK(store->finalResult(fine)->data == "fine!");
  CHECK(echoCalls == 4);

  deploy("  - name: route\n    branch:\n"
         "      - when: \"{{ trigger.results.go }}\"\n"
         "        steps:\n          - { name: went, component: t, action: echo, inputs: { value: 1 } }\n"
         "  - name: after\n    component: t\n    action: echo\n"
         "    inputs: { value: \"{{ steps.route.results }}\" }\n");
  CHECK(finish(submit({{"go", false}})).result->data.is_null());  // no case taken: null
  CHECK(finish(submit({{"go", true}})).result->data == 1);
}

TEST_CASE_METHOD(FlowFixture, "a when that fails at run time fails the branch, naming the expression",
                 "[flow][branch]") {
  deploy("  - name: route\n    branch:\n"
         "      - when: \"{{ trigger.results.status >= 400 }}\"\n"
         "        steps:\n          - { name: bad, component: t, action: echo }\n");
  ExecutionOutcome outcome = finish(submit({{"status", "oops"}}));
  CHECK(outcome.status == ExecutionStatus::Failed);
  CHECK(outcome.errorStep == "route");
  CHECK(outcome.error ==
        "step 'route': 'when' of case 1: expression 'trigger.results.status >= 400': '>=' compares two numbers or "
        "two strings, not a string and a number");
}

TEST_CASE_METHOD(FlowFixture, "a loop of 1,000 items runs its steps per item, in order, and gives their results",
                 "[flow][loop]") {
  deploy("  - name: each\n    loop:\n      items: \"{{ trigger.results.items }}\"\n      steps:\n"
         "        - { name: double, component: t, action: echo, inputs: { value: { n: \"{{ loop.item }}\", i: \"{{ loop.index }}\" } } }\n"
         "        - { name: pick, component: t, action: echo, inputs: { value: \"{{ steps.double.results.i }}\" } }\n");
  Json items = Json::array();
  for (int i = 0; i < 1000; ++i) items.push_back(i * 10);
  std::string id = submit({{"items", items}});
  ExecutionOutcome outcome = finish(id);
  REQUIRE(outcome.status == ExecutionStatus::Succeeded);
  Json expected = Json::array();
  for (int i = 0; i < 1000; ++i) expected.push_back(i);
  CHECK(outcome.result->data == expected);
  CHECK(echoCalls == 2000);
  CHECK(store->stepResult(id, "double", 7)->data == Json{{"n", 70}, {"i", 7}});
  CHECK(store->stepIterations(id, "pick").size() == 1000);
  CHECK(stepOf(record(id), "pick", 999).parent == "each");
  CHECK(store->finalResult(id)->data == expected);
}

TEST_CASE_METHOD(FlowFixture, "a loop over something that is not an array fails, saying what it got", "[flow][loop]") {
  deploy("  - name: each\n    loop:\n      items: \"{{ trigger.results.items }}\"\n      steps:\n"
         "        - { name: one, component: t, action: echo }\n");
  ExecutionOutcome outcome = finish(submit({{"items", {{"a", 1}}}}));
  CHECK(outcome.status == ExecutionStatus::Failed);
  CHECK(outcome.error == "step 'each': 'items' must give an array, not an object with keys: a (items: "
                         "trigger.results.items)");
  CHECK(finish(submit({{"items", Json::array()}})).result->data == Json::array());
}

TEST_CASE_METHOD(FlowFixture, "a loop waiting in an iteration survives a restart; no iteration runs twice",
                 "[flow][loop][restart]") {
  deploy("  - name: each\n    loop:\n      items: \"{{ trigger.results.items }}\"\n      steps:\n"
         "        - { name: count, component: t, action: echo, inputs: { value: \"{{ loop.item }}\" } }\n"
         "        - { name: pause, component: t, action: wait, inputs: { ms: 1000, value: \"{{ steps.count.results }}\" } }\n");
  std::string id = submit({{"items", {"a", "b", "c"}}});
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  clock.advance(milliseconds(1000));
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  while (echoCalls < 2) std::this_thread::sleep_for(milliseconds(2));
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  restart();  // in iteration 1's wait
  clock.advance(milliseconds(1000));
  while (echoCalls < 3) std::this_thread::sleep_for(milliseconds(2));
  REQUIRE(reaches(id, ExecutionStatus::Waiting));  // iteration 2's wait, recorded from this clock time
  clock.advance(milliseconds(1000));
  ExecutionOutcome outcome = finish(id);
  REQUIRE(outcome.status == ExecutionStatus::Succeeded);
  CHECK(outcome.result->data == Json::array({"a", "b", "c"}));
  CHECK(echoCalls == 3);
}

TEST_CASE_METHOD(FlowFixture, "a status result inside a branch ends the execution with it", "[flow][branch]") {
  deploy("  - name: route\n    branch:\n"
         "      - when: \"{{ trigger.results.stop }}\"\n"
         "        steps:\n          - { name: stop, component: t, action: status, inputs: { code: 429 } }\n"
         "  - name: never\n    component: t\n    action: echo\n");
  std::string id = submit({{"stop", true}});
  ExecutionOutcome outcome = finish(id);
  REQUIRE(outcome.status == ExecutionStatus::Succeeded);
  REQUIRE(outcome.result->isStatus);
  CHECK(outcome.result->status.statusCode == 429);
  CHECK(echoCalls == 0);
  REQUIRE(store->finalResult(id));
  CHECK(store->finalResult(id)->status.statusCode == 429);
}

TEST_CASE_METHOD(FlowFixture, "a concurrent loop runs at most `concurrency` iterations at once, in waves of waits",
                 "[flow][loop]") {
  deploy("  - name: each\n    loop:\n      items: \"{{ trigger.results.items }}\"\n      concurrency: 4\n"
         "      steps:\n"
         "        - { name: pause, component: t, action: wait, inputs: { ms: \"{{ loop.item.ms }}\", value: \"{{ loop.index }}\" } }\n"
         "        - { name: after, component: t, action: echo, inputs: { value: \"{{ steps.pause.results }}\" } }\n");
  Json items = Json::array();
  for (int i = 0; i < 10; ++i) items.push_back({{"ms", i % 2 == 0 ? 1000 : 3000}});
  std::string id = submit({{"items", items}});
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  auto waitingNow = [&] {
    int count = 0;
    for (const auto& step : record(id).steps) count += step.status == StepStatus::Waiting;
    return count;
  };
  CHECK(waitingNow() == 4);  // iterations 0-3 wait at once
  CHECK(echoCalls == 0);
  clock.advance(milliseconds(1000));  // 0 and 2 end; 4 and 5 start
  while (echoCalls < 2) std::this_thread::sleep_for(milliseconds(2));
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  CHECK(waitingNow() == 4);
  for (int i = 0; i < 10; ++i) {
    clock.advance(milliseconds(1000));
    std::this_thread::sleep_for(milliseconds(30));
  }
  ExecutionOutcome outcome = finish(id);
  REQUIRE(outcome.status == ExecutionStatus::Succeeded);
  CHECK(outcome.result->data == Json::array({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  CHECK(echoCalls == 10);
}

TEST_CASE_METHOD(FlowFixture, "execution.concurrency queue: one at a time per instance, in order, none lost",
                 "[flow][concurrency]") {
  deploy("  - { name: pause, component: t, action: wait, inputs: { ms: 1000, value: \"{{ trigger.results.n }}\" } }\n",
         "execution:\n  concurrency: { limit: 1, behavior: queue }\n");
  std::vector<std::string> ids;
  for (int n = 0; n < 3; ++n) ids.push_back(submit({{"n", n}}));
  REQUIRE(reaches(ids[0], ExecutionStatus::Waiting));
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(record(ids[1]).status == ExecutionStatus::Queued);  // behind the first, holding no thread
  CHECK(record(ids[2]).status == ExecutionStatus::Queued);
  CHECK(engine->cancel(ids[1]) == Engine::CancelOutcome::Cancelling);  // leaving the line frees no slot twice
  clock.advance(milliseconds(1000));
  CHECK(finish(ids[0]).result->data == 0);
  REQUIRE(reaches(ids[2], ExecutionStatus::Waiting));
  clock.advance(milliseconds(1000));
  CHECK(finish(ids[2]).result->data == 2);
  CHECK(record(ids[1]).status == ExecutionStatus::Cancelled);
}

TEST_CASE_METHOD(FlowFixture, "execution.concurrency skip and fail end the extra execution at once, saying why",
                 "[flow][concurrency]") {
  auto [behavior, status, word] = GENERATE(table<std::string, ExecutionStatus, std::string>(
      {{"skip", ExecutionStatus::Cancelled, "skipped"}, {"fail", ExecutionStatus::Failed, "refused"}}));
  deploy("  - { name: pause, component: t, action: wait, inputs: { ms: 1000 } }\n",
         "execution:\n  concurrency: { limit: 1, behavior: " + behavior + " }\n");
  std::string first = submit();
  REQUIRE(reaches(first, ExecutionStatus::Waiting));
  ExecutionOutcome second = finish(submit());
  CHECK(second.status == status);
  CHECK(second.error == word + ": 1 execution of instance 'default' already under way (execution.concurrency: "
                               "limit 1, behavior " + behavior + ")");
  clock.advance(milliseconds(1000));
  CHECK(finish(first).status == ExecutionStatus::Succeeded);
  std::string third = submit();  // the slot is free again
  REQUIRE(reaches(third, ExecutionStatus::Waiting));
}

TEST_CASE_METHOD(FlowFixture, "a replay runs again with the same trigger results; fromStep keeps the steps before it",
                 "[flow][replay]") {
  deploy("  - { name: first, component: t, action: echo, inputs: { value: \"{{ trigger.results.n }}\" } }\n"
         "  - name: route\n    branch:\n      - when: \"{{ steps.first.results > 0 }}\"\n"
         "        steps: [{ name: inner, component: t, action: echo, inputs: { value: positive } }]\n"
         "  - { name: last, component: t, action: flaky }\n");
  std::string original = submit({{"n", 5}});
  REQUIRE(finish(original).status == ExecutionStatus::Succeeded);
  CHECK(echoCalls == 2);
  CHECK(flakyCalls == 1);

  std::string whole = engine->replay(original, std::nullopt);
  ExecutionOutcome again = finish(whole);
  CHECK(again.status == ExecutionStatus::Succeeded);
  CHECK(echoCalls == 4);  // everything ran again, from the same trigger results
  CHECK(record(whole).replayOf == original);

  std::string partial = engine->replay(original, std::string("last"));
  ExecutionOutcome fromLast = finish(partial);
  CHECK(fromLast.status == ExecutionStatus::Succeeded);
  CHECK(fromLast.result->data == Json{{"call", 3}});
  CHECK(echoCalls == 4);  // first and inner kept the original's results
  CHECK(flakyCalls == 3);
  ExecutionRecord replayed = record(partial);
  CHECK(replayed.replayOf == original);
  CHECK(store->stepResult(partial, "inner")->data == "positive");
  CHECK(logsContaining(replayed, "a replay of execution " + original + " from step 'last'") == 1);

  auto refusal = [&](const std::string& id, std::optional<std::string> from) {
    try {
      engine->replay(id, from);
    } catch (const ReplayRefused& refused) {
      return std::to_string(refused.status()) + " " + refused.what();
    }
    return std::string("no refusal");
  };
  CHECK(refusal("nope", std::nullopt) == "404 no execution 'nope'");
  CHECK(refusal(original, std::string("inner")) ==
        "400 fromStep: step 'inner' runs inside a branch or a loop; replay from a top-level step (the branch or "
        "loop it is in, or one before it)");
  CHECK(refusal(original, std::string("lst")) ==
        "400 fromStep: integration 'it' has no step 'lst'; its steps are first, route, last");
}

TEST_CASE_METHOD(FlowFixture, "a replay from a step the original never reached, or of a running one, is refused",
                 "[flow][replay]") {
  failuresLeft = 1;
  deploy("  - { name: fails, component: t, action: flaky }\n  - { name: later, component: t, action: echo }\n");
  std::string failed = submit();
  REQUIRE(finish(failed).status == ExecutionStatus::Failed);
  CHECK_THROWS_WITH(engine->replay(failed, std::string("later")),
                    "execution '" + failed + "' never reached step 'later'; replay from a step it reached, or from "
                                             "the start");
  deploy("  - { name: pause, component: t, action: wait, inputs: { ms: 1000 } }\n");
  std::string waiting = submit();
  REQUIRE(reaches(waiting, ExecutionStatus::Waiting));
  CHECK_THROWS_WITH(engine->replay(waiting, std::nullopt), Catch::Contains("has not ended yet (status waiting)"));
}

TEST_CASE_METHOD(FlowFixture, "a step's timeoutMs ends a delay longer than it, with a retry and onError after it",
                 "[flow][timeout]") {
  deploy("  - name: pause\n    component: t\n    action: wait\n    inputs: { ms: 60000 }\n    timeoutMs: 500\n"
         "    onError: continue\n"
         "  - { name: after, component: t, action: echo, inputs: { value: \"{{ steps.pause.error }}\" } }\n");
  std::string id = submit();
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  clock.advance(milliseconds(500));
  ExecutionOutcome outcome = finish(id);
  REQUIRE(outcome.status == ExecutionStatus::Succeeded);
  CHECK(outcome.result->data == "step 'pause' timed out after 500 ms (its timeoutMs)");
  CHECK(stepOf(record(id), "pause").status == StepStatus::Failed);
}

TEST_CASE_METHOD(FlowFixture, "a shutdown while a concurrent loop's iterations wait leaves them to go on after the restart",
                 "[flow][loop][restart]") {
  deploy("  - name: each\n    loop:\n      items: \"{{ trigger.results.items }}\"\n      concurrency: 2\n      steps:\n"
         "        - { name: pause, component: t, action: wait, inputs: { ms: \"{{ loop.item }}\" } }\n"
         "        - { name: slow, component: t, action: polite }\n");
  // Iteration 0 waits 60 s; iteration 1 waits 10 ms, then runs a step that
  // stops only when told: the shutdown finds one lane waiting, one running.
  std::string id = submit({{"items", {60000, 10}}});
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  clock.advance(milliseconds(10));
  REQUIRE(reaches(id, ExecutionStatus::Running));
  std::this_thread::sleep_for(milliseconds(50));
  engine->stop(milliseconds(0));
  engine.reset();
  for (const auto& step : record(id).steps) {
    INFO(step.name << " " << step.iteration);
    CHECK(step.status != StepStatus::Failed);  // nothing recorded as ended by a stop
  }
}

TEST_CASE_METHOD(FlowFixture, "a failure inside a branch inside a loop closes every open branch and the loop",
                 "[flow][loop][branch]") {
  failuresLeft = 100;
  deploy("  - name: each\n    loop:\n      items: \"{{ trigger.results.items }}\"\n      concurrency: 2\n      steps:\n"
         "        - name: route\n          branch:\n            - when: \"{{ loop.item == 'bad' }}\"\n"
         "              steps: [{ name: fails, component: t, action: flaky }]\n"
         "            - else:\n"
         "                - { name: pause, component: t, action: wait, inputs: { ms: 60000 } }\n");
  std::string id = submit({{"items", {"slow", "bad"}}});
  ExecutionOutcome outcome = finish(id);
  CHECK(outcome.status == ExecutionStatus::Failed);
  for (const auto& step : record(id).steps) {
    INFO(step.name << " " << step.iteration);
    CHECK(step.status != StepStatus::Running);
    CHECK(step.status != StepStatus::Waiting);
  }
  CHECK(stepOf(record(id), "pause", 0).error == "ended with the execution (failed)");
}

TEST_CASE_METHOD(FlowFixture, "a replay from a loop after a crash in it recomputes every iteration",
                 "[flow][replay][restart]") {
  deploy("  - { name: first, component: t, action: echo, inputs: { value: 1 } }\n"
         "  - name: each\n    loop:\n      items: \"{{ trigger.results.items }}\"\n      steps:\n"
         "        - { name: count, component: t, action: flaky }\n"
         "        - { name: pause, component: t, action: wait, inputs: { ms: 1000 } }\n");
  std::string id = submit({{"items", {1, 2}}});
  REQUIRE(reaches(id, ExecutionStatus::Waiting));  // iteration 0's pause
  restart();
  clock.advance(milliseconds(1000));
  while (flakyCalls < 2) std::this_thread::sleep_for(milliseconds(2));
  REQUIRE(reaches(id, ExecutionStatus::Waiting));
  clock.advance(milliseconds(1000));
  REQUIRE(finish(id).status == ExecutionStatus::Succeeded);
  CHECK(flakyCalls == 2);
  std::string replay = engine->replay(id, std::string("each"));
  REQUIRE(reaches(replay, ExecutionStatus::Waiting));
  clock.advance(milliseconds(1000));
  while (flakyCalls < 4) std::this_thread::sleep_for(milliseconds(2));
  REQUIRE(reaches(replay, ExecutionStatus::Waiting));
  clock.advance(milliseconds(1000));
  REQUIRE(finish(replay).status == ExecutionStatus::Succeeded);
  CHECK(flakyCalls == 4);  // both iterations ran again
  CHECK(echoCalls == 1);   // the step before the loop did not
}

TEST_CASE_METHOD(FlowFixture, "a last step that fails with onError: continue gives a null result, stored too",
                 "[flow][onError]") {
  failuresLeft = 1;
  deploy("  - { name: fetch, component: t, action: flaky, onError: continue }\n");
  std::string id = submit();
  ExecutionOutcome outcome = finish(id);
  CHECK(outcome.status == ExecutionStatus::Succeeded);
  CHECK(outcome.result->data.is_null());
  REQUIRE(store->finalResult(id));
  CHECK(store->finalResult(id)->data.is_null());
}
