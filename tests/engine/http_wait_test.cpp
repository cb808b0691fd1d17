// Steps that wait on HTTP without a thread (Result::afterHttp): the engine's
// event loop sends the requests to a real local server while the worker
// pool stays at its size; cancellation, a step's timeoutMs and shutdown end
// an exchange that is on its way.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include "engine/engine.hpp"
#include "integration/template.hpp"
#include "io/http_loop.hpp"
#include "loader/static_catalog.hpp"
#include "store/sqlite_store.hpp"
#include "util/ids.hpp"

using namespace plexus::core;
using plexus::Json;
using std::chrono::milliseconds;

namespace {

namespace fs = std::filesystem;

/// A real HTTP server on 127.0.0.1: `/slow?ms=N` answers "ok" after N ms;
/// `/hold` answers only once released (or after 10 s). Counts the requests
/// it is answering at once.
class Upstream {
 public:
  Upstream() : server_(new Factory(*this), pool_, Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)), params()) {
    server_.start();
  }
  ~Upstream() {
    releaseAll();
    server_.stopAll(true);
    pool_.joinAll();
  }
  std::string url(const std::string& pathAndQuery) const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + pathAndQuery;
  }
  int mostAtOnce() const { return mostAtOnce_; }
  int served() const { return served_; }
  /// How many client connections (distinct source ports) it has seen.
  std::size_t connections() {
    std::lock_guard<std::mutex> lock(mutex_);
    return clientPorts_.size();
  }
  void releaseAll() {
    std::lock_guard<std::mutex> lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  static Poco::Net::HTTPServerParams* params() {
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(400);
    params->setMaxQueued(2000);
    return params;
  }
  void answer(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      clientPorts_.insert(request.clientAddress().port());
    }
    int now = ++atOnce_;
    for (int seen = mostAtOnce_; now > seen && !mostAtOnce_.compare_exchange_weak(seen, now);) {
    }
    Poco::URI uri(request.getURI());
    if (uri.getPath() == "/slow") {
      int ms = std::stoi(uri.getQueryParameters().at(0).second);
      std::this_thread::sleep_for(milliseconds(ms));
    } else {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait_for(lock, std::chrono::seconds(10), [&] { return released_; });
    }
    --atOnce_;
    ++served_;
    response.setContentType("text/plain");
    response.setContentLength(2);  // so that the connection can be kept alive
    response.send() << "ok";
  }
  struct Handler : Poco::Net::HTTPRequestHandler {
    explicit Handler(Upstream& upstream) : upstream(upstream) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
      upstream.answer(request, response);
    }
    Upstream& upstream;
  };
  struct Factory : Poco::Net::HTTPRequestHandlerFactory {
    explicit Factory(Upstream& upstream) : upstream(upstream) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
      return new Handler(upstream);
    }
    Upstream& upstream;
  };

  std::set<int> clientPorts_;  // guarded by mutex_
  std::atomic<int> atOnce_{0};
  std::atomic<int> mostAtOnce_{0};
  std::atomic<int> served_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
  bool released_ = false;
  Poco::ThreadPool pool_{2, 400};
  Poco::Net::HTTPServer server_;
};

std::atomic<int> continuations{0};  // continuations `t.fetch` has run

/// `t.fetch` GETs `url` `times` times in a row, one exchange after the
/// other (each continuation sends the next), and returns the bodies.
plexus::Result fetchNext(std::string url, int left, Json bodies) {
  plexus::HttpRequest request;
  request.url = url;
  return plexus::Result::afterHttp(request, [url, left, bodies](plexus::HttpResponse response,
                                                                plexus::Context&) mutable -> plexus::Result {
    ++continuations;
    if (response.failed()) throw std::runtime_error("GET " + url + " failed: " + response.error);
    bodies.push_back(response.body);
    if (left > 1) return fetchNext(url, left - 1, bodies);
    return plexus::Result(bodies);
  });
}

std::vector<plexus::ComponentSpec> components() {
  using plexus::InputType;
  plexus::ActionSpec fetch{"fetch", "Fetch", "GETs a URL `times` times",
                           {{"url", InputType::String, true}, {"times", InputType::Number, false, Json(1)}},
                           [](const plexus::Inputs& in, plexus::Context&) -> plexus::Result {
                             return fetchNext(in.string("url"), static_cast<int>(in.number("times")),
                                              Json::array());
                           }};
  return {plexus::ComponentSpec{"t", "1.0.0", "Test actions", {fetch}}};
}

struct HttpFixture {
  std::string dir = (fs::temp_directory_path() / ("plexus-http-wait-" + randomId(6))).string();
  std::unique_ptr<SqliteStore> store = SqliteStore::open(dir);
  StaticCatalog catalog{components()};
  IntegrationRegistry registry;
  std::unique_ptr<Engine> engine;
  InstanceRecord target{randomId(), "it", "default", true, Json::object(), "", nowMs()};
  Upstream upstream;

  HttpFixture() {
    continuations = 0;
    store->saveInstance(target);
  }
  ~HttpFixture() {
    upstream.releaseAll();
    if (engine) engine->stop();
    engine.reset();
    store.reset();
    fs::remove_all(dir);
  }
  void deploy(Json inputs, std::optional<long long> timeoutMs = std::nullopt) {
    StepSpec step;
    step.name = "call";
    step.component = "t";
    step.action = "fetch";
    step.inputs = std::move(inputs);
    step.timeoutMs = timeoutMs;
    IntegrationSpec spec;
    spec.key = "it";
    spec.name = "It";
    spec.steps = {step};
    registry.replaceAll({spec});
  }
  void startEngine(int workers) {
    Engine::Options options;
    options.workers = workers;
    options.maxWorkers = workers;  // no growth: a thread per waiting step is impossible
    options.abandonGrace = milliseconds(200);
    options.tick = milliseconds(20);
    engine = std::make_unique<Engine>(*store, catalog, registry, options);
    engine->start();
  }
  std::string submit() {
    std::string id = Engine::newExecutionId();
    engine->submit({id, registry.find("it"), target, "manual", Json::object()});
    return id;
  }
  bool eventually(const std::function<bool()>& condition, milliseconds within = milliseconds(10000)) {
    auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
      if (condition()) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return condition();
  }
};

}  // namespace

TEST_CASE_METHOD(HttpFixture, "200 executions wait on a slow API at once with two worker threads",
                 "[engine][http]") {
  deploy({{"url", upstream.url("/slow?ms=600")}, {"times", 2}});
  startEngine(2);
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(submit());
  for (const auto& id : ids) {
    auto outcome = engine->waitFor(id, std::chrono::seconds(60));
    REQUIRE(outcome);
    INFO(outcome->error.value_or(""));
    REQUIRE(outcome->status == ExecutionStatus::Succeeded);
    CHECK(outcome->result->data == Json::array({"ok", "ok"}));
  }
  // Blocking steps would have had at most 2 requests open at once.
  CHECK(upstream.mostAtOnce() >= 100);
  CHECK(upstream.served() == 400);
  CHECK(engine->workerThreads() == 2);
}

TEST_CASE_METHOD(HttpFixture, "a cancel ends an execution whose step awaits its HTTP answer", "[engine][http][cancel]") {
  deploy({{"url", upstream.url("/hold")}});
  startEngine(1);
  std::string id = submit();
  REQUIRE(eventually([&] { return upstream.mostAtOnce() == 1; }));
  auto asked = std::chrono::steady_clock::now();
  CHECK(engine->cancel(id) == Engine::CancelOutcome::Cancelling);
  auto outcome = engine->waitFor(id, std::chrono::seconds(5));
  REQUIRE(outcome);
  CHECK(std::chrono::steady_clock::now() - asked < milliseconds(2000));
  CHECK(outcome->status == ExecutionStatus::Cancelled);
  CHECK_THAT(outcome->error.value_or(""), Catch::Contains("cancelled"));
  CHECK(upstream.served() == 0);  // it was still holding the request
  CHECK(continuations == 0);      // the step was over: the component's code did not run for it
}

TEST_CASE_METHOD(HttpFixture, "a step's timeoutMs ends its HTTP exchange", "[engine][http][timeouts]") {
  deploy({{"url", upstream.url("/hold")}}, 300);
  startEngine(1);
  std::string id = submit();
  auto outcome = engine->waitFor(id, std::chrono::seconds(5));
  REQUIRE(outcome);
  CHECK(outcome->status == ExecutionStatus::Failed);
  CHECK(outcome->error.value_or("") == "step 'call' timed out after 300 ms (its timeoutMs)");
  CHECK(continuations == 0);
  store->flush();
  auto record = store->execution(id);
  REQUIRE(record);
  REQUIRE(record->steps.size() == 1);
  CHECK(record->steps[0].status == StepStatus::Failed);
}

TEST_CASE_METHOD(HttpFixture, "stopping the engine during an exchange leaves the step to run again after the restart",
                 "[engine][http][shutdown]") {
  deploy({{"url", upstream.url("/hold")}});
  startEngine(1);
  std::string id = submit();
  REQUIRE(eventually([&] { return upstream.mostAtOnce() == 1; }));
  auto asked = std::chrono::steady_clock::now();
  engine->stop(milliseconds(0));
  CHECK(std::chrono::steady_clock::now() - asked < milliseconds(2000));
  engine.reset();
  auto record = store->execution(id);
  REQUIRE(record);
  CHECK(record->status == ExecutionStatus::Running);  // resumes after the restart
  REQUIRE(record->steps.size() == 1);
  CHECK(record->steps[0].status == StepStatus::Running);
}

TEST_CASE("past the connection cap an exchange waits in the loop's queue, and its wait counts against its timeout",
          "[io][http][timeouts]") {
  Upstream upstream;
  HttpLoop loop(HttpLoop::Options{1, milliseconds(20)});
  loop.start();
  std::mutex mutex;
  std::condition_variable answered;
  std::vector<plexus::HttpResponse> responses(3);
  std::vector<bool> done(3, false);
  auto send = [&](std::size_t index, const std::string& path, milliseconds timeout, std::atomic<bool>* stop) {
    plexus::HttpRequest request;
    request.url = upstream.url(path);
    request.timeout = timeout;
    loop.send(request, milliseconds::max(), [stop] { return stop && stop->load(); },
              [&, index](plexus::HttpResponse response) {
                std::lock_guard<std::mutex> lock(mutex);
                responses[index] = std::move(response);
                done[index] = true;
                answered.notify_all();
              });
  };
  auto waitFor = [&](std::size_t index) {
    std::unique_lock<std::mutex> lock(mutex);
    return answered.wait_for(lock, std::chrono::seconds(5), [&] { return done[index]; });
  };
  std::atomic<bool> cancelThird{false};
  send(0, "/hold", milliseconds(10000), nullptr);  // takes the one connection
  send(1, "/slow?ms=1", milliseconds(200), nullptr);
  send(2, "/slow?ms=1", milliseconds(10000), &cancelThird);
  auto start = std::chrono::steady_clock::now();
  REQUIRE(waitFor(1));
  CHECK(std::chrono::steady_clock::now() - start < milliseconds(1000));
  CHECK(responses[1].failure == plexus::HttpFailure::TimedOut);
  CHECK_THAT(responses[1].error, Catch::Contains("no connection was free"));
  cancelThird = true;
  REQUIRE(waitFor(2));
  CHECK(responses[2].failure == plexus::HttpFailure::Cancelled);
  CHECK(loop.inFlight() == 1);
  CHECK(upstream.served() == 0);  // neither queued one was sent
  upstream.releaseAll();
  REQUIRE(waitFor(0));
  CHECK(responses[0].status == 200);
  CHECK(responses[0].body == "ok");
  CHECK(loop.inFlight() == 0);
}

TEST_CASE("the loop reuses one connection for exchanges one after another, and fills every shard under load",
          "[io][http]") {
  Upstream upstream;
  HttpLoop loop(HttpLoop::Options{16, milliseconds(20)});  // 8 shards of 2 connections
  loop.start();
  std::mutex mutex;
  std::condition_variable answered;
  int done = 0;
  auto send = [&](const std::string& path) {
    plexus::HttpRequest request;
    request.url = upstream.url(path);
    loop.send(request, milliseconds::max(), nullptr, [&](plexus::HttpResponse response) {
      CHECK(response.status == 200);
      std::lock_guard<std::mutex> lock(mutex);
      ++done;
      answered.notify_all();
    });
  };
  auto waitForDone = [&](int count) {
    std::unique_lock<std::mutex> lock(mutex);
    return answered.wait_for(lock, std::chrono::seconds(10), [&] { return done >= count; });
  };
  for (int i = 1; i <= 10; ++i) {
    send("/slow?ms=1");
    REQUIRE(waitForDone(i));
  }
  CHECK(upstream.connections() == 1);  // all in the first shard, on its one kept-alive connection

  for (int i = 0; i < 40; ++i) send("/slow?ms=200");
  REQUIRE(waitForDone(50));
  CHECK(upstream.mostAtOnce() == 16);  // every shard's share open at once, never more
}

namespace {

/// A loop step over trigger.results.items whose one inner step fetches `url` per item.
StepSpec loopOfFetches(const std::string& url, int concurrency) {
  StepSpec fetch;
  fetch.name = "call";
  fetch.component = "t";
  fetch.action = "fetch";
  fetch.inputs = {{"url", url}};
  StepSpec loop;
  loop.kind = StepSpec::Kind::Loop;
  loop.name = "each";
  loop.loop.items = std::make_shared<const Template>(Template::parse("{{ trigger.results.items }}"));
  loop.loop.concurrency = concurrency;
  loop.loop.steps = {fetch};
  return loop;
}

}  // namespace

TEST_CASE_METHOD(HttpFixture, "a loop's iterations wait on their HTTP answers at once, up to its concurrency",
                 "[engine][http][loop]") {
  auto [concurrency, items] = GENERATE(table<int, int>({{1, 6}, {8, 40}}));
  IntegrationSpec spec;
  spec.key = "it";
  spec.name = "It";
  spec.steps = {loopOfFetches(upstream.url("/slow?ms=100"), concurrency)};
  registry.replaceAll({spec});
  startEngine(1);  // one thread: the iterations' waits hold none
  std::string id = Engine::newExecutionId();
  Json list = Json::array();
  for (int i = 0; i < items; ++i) list.push_back(i);
  engine->submit({id, registry.find("it"), target, "manual", Json{{"items", list}}});
  auto outcome = engine->waitFor(id, std::chrono::seconds(60));
  REQUIRE(outcome);
  INFO(outcome->error.value_or(""));
  REQUIRE(outcome->status == ExecutionStatus::Succeeded);
  Json expected = Json::array();
  for (int i = 0; i < items; ++i) expected.push_back(Json::array({"ok"}));
  CHECK(outcome->result->data == expected);
  CHECK(upstream.mostAtOnce() == concurrency);  // never more, and (each answer takes 100 ms) all of them
  CHECK(upstream.served() == items);
  CHECK(engine->workerThreads() == 1);
}
