// Flow control (CONTRACT §9) through a real `plexus serve` with the real
// plugins: a flaky upstream behind exponential backoff, a timeout that
// stops a delay, onError: continue, branches both ways, loops of 1,000
// items, a schedule that never overlaps, cancel and replay over the API and
// the CLI, and kill -9 in a retry's backoff and in the middle of a loop.
#include "server_fixture.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/URI.h>

using namespace plexus::testing_support;

namespace {

/// A partner API: /flaky/NAME answers 503 the first `failures` times per
/// NAME, then 200; /slow after 200 ms; /hang not until the test ends;
/// anything else 200. Counts the requests per path (query left out) and
/// how many it answers at once.
class FlakyUpstream {
 public:
  explicit FlakyUpstream(int failures = 2) : failures_(failures), socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(64);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket_, params);
    server_->start();
  }
  ~FlakyUpstream() {
    done_ = true;
    server_->stopAll(true);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(socket_.address().port()) + path;
  }
  int hits(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    return hits_[path];
  }
  int mostAtOnce() const { return mostAtOnce_; }

 private:
  void answer(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    std::string path = Poco::URI(request.getURI()).getPath();
    int hit;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      hit = ++hits_[path];
      mostAtOnce_ = std::max(mostAtOnce_.load(), ++atOnce_);
    }
    if (path == "/slow") std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (path == "/hang")
      for (int i = 0; i < 3000 && !done_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    --atOnce_;
    bool fail = path.rfind("/flaky/", 0) == 0 && hit <= failures_;
    response.setStatus(fail ? Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE : Poco::Net::HTTPResponse::HTTP_OK);
    response.setContentType("application/json");
    json body = {{"path", path}, {"call", hit}};
    if (path.size() >= 7 && path.compare(path.size() - 7, 7, "/orders") == 0) body = ordersPage();
    response.send() << body.dump();
  }
  /// A shop's page of orders: three paid, two not.
  static json ordersPage() {
    return {{"orders",
             {{{"id", "A-1"}, {"status", "paid"}, {"total", 12.5}},
              {{"id", "A-2"}, {"status", "pending"}, {"total", 3}},
              {{"id", "A-3"}, {"status", "paid"}, {"total", 40}},
              {{"id", "A-4"}, {"status", "refunded"}, {"total", 7}},
              {{"id", "A-5"}, {"status", "paid"}, {"total", 1}}}}};
  }
  struct Handler : Poco::Net::HTTPRequestHandler {
    explicit Handler(FlakyUpstream& up) : up(up) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
      up.answer(request, response);
    }
    FlakyUpstream& up;
  };
  struct Factory : Poco::Net::HTTPRequestHandlerFactory {
    explicit Factory(FlakyUpstream& up) : up(up) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
      return new Handler(up);
    }
    FlakyUpstream& up;
  };

  int failures_;
  Poco::Net::ServerSocket socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::mutex mutex_;
  std::map<std::string, int> hits_;
  std::atomic<bool> done_{false};
  std::atomic<int> atOnce_{0};
  std::atomic<int> mostAtOnce_{0};
};

std::map<std::string, std::string> jsonBody() { return {{"Content-Type", "application/json"}}; }

json execution(const ServerProcess& server, const std::string& id) {
  HttpResult reply = http("GET", server.url() + "/api/executions/" + id);
  REQUIRE(reply.status == 200);
  return parse(reply.body);
}

bool reachesStatus(const ServerProcess& server, const std::string& id, const std::string& status, double seconds) {
  return eventually([&] { return execution(server, id)["status"] == status; }, seconds);
}

/// POSTs `body` to the integration's webhook; returns the execution id.
std::string trigger(const ServerProcess& server, const std::string& integration, const json& body = json::object()) {
  HttpResult accepted = http("POST", webhookUrl(server, integration), body.dump(), jsonBody());
  REQUIRE(accepted.status == 200);
  return parse(accepted.body)["executionId"];
}

json result(const ServerProcess& server, const std::string& id) {
  HttpResult reply = http("GET", server.url() + "/executions/" + id + "/result");
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  return parse(reply.body);
}

const json& stepNamed(const json& execution, const std::string& name) {
  for (const auto& step : execution["steps"])
    if (step["name"] == name) return step;
  FAIL("no step " << name << " in " << execution.dump());
  throw std::logic_error("unreachable");
}

int logsContaining(const json& execution, const std::string& text) {
  int count = 0;
  for (const auto& line : execution["logs"]) count += line["message"].get<std::string>().find(text) != std::string::npos;
  return count;
}

std::string runPlexus(const std::string& arguments, int* status) {
  return shell("'" + plexusBinary() + "' " + arguments + " 2>&1", status);
}

}  // namespace

TEST_CASE("a flaky upstream: two 503s, then exponential backoff gets the answer on the third attempt",
          "[server][flow][retry][e2e]") {
  FlakyUpstream upstream(2);
  ServerFolders folders;
  writeFile(folders.integrations.file("flaky.yaml"), R"(name: Flaky
trigger: { webhook: {} }
steps:
  - name: fetch
    component: http
    action: request
    inputs: { url: ")" + upstream.url("/flaky/a") + R"(", failOnStatus: true }
    retry: { maxAttempts: 5, delayMs: 1000, backoff: exponential }
)");
  ServerProcess server(folders.integrations.path(), folders.data.path());
  auto start = std::chrono::steady_clock::now();
  std::string id = trigger(server, "flaky");
  REQUIRE(reachesStatus(server, id, "waiting", 10));  // the backoff is a wait, not a held thread
  json done = waitForEnd(server, id, 30);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(done["status"] == "succeeded");
  CHECK(upstream.hits("/flaky/a") == 3);
  CHECK(stepNamed(done, "fetch")["attempts"] == 3);
  CHECK(took >= 1.0 + 2.0);  // 1 s, then twice that
  CHECK(logsContaining(done, "attempt 1 of 5 failed: ") == 1);
  CHECK(logsContaining(done, "answered 503 (failOnStatus") == 2);
  CHECK(logsContaining(done, "the next in 2000 ms") == 1);
  CHECK(result(server, id)["body"]["call"] == 3);
}

TEST_CASE("a step's timeoutMs stops a delay; onError: continue hands its error to the next step",
          "[server][flow][timeout][onError][e2e]") {
  FlakyUpstream upstream(100);
  ServerFolders folders;
  writeFile(folders.integrations.file("bounded.yaml"), R"(name: Bounded
trigger: { webhook: {} }
steps:
  - name: pause
    component: delay
    action: sleep
    inputs: { ms: 60000 }
    timeoutMs: 300
)");
  writeFile(folders.integrations.file("tolerant.yaml"), R"(name: Tolerant
trigger: { webhook: {} }
steps:
  - name: fetch
    component: http
    action: request
    inputs: { url: ")" + upstream.url("/flaky/down") + R"(", failOnStatus: true }
    onError: continue
  - name: report
    component: json
    action: value
    inputs:
      value:
        failed: "{{ exists(steps.fetch.error) }}"
        error: "{{ steps.fetch.error }}"
        results: "{{ steps.fetch.results }}"
)");
  ServerProcess server(folders.integrations.path(), folders.data.path());
  auto start = std::chrono::steady_clock::now();
  json bounded = waitForEnd(server, trigger(server, "bounded"), 10);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(8));  // not the 60 s of its delay
  CHECK(bounded["status"] == "failed");
  CHECK(bounded["error"] == "step 'pause' timed out after 300 ms (its timeoutMs)");

  std::string id = trigger(server, "tolerant");
  json tolerant = waitForEnd(server, id, 10);
  CHECK(tolerant["status"] == "succeeded");
  CHECK(stepNamed(tolerant, "fetch")["status"] == "failed");
  json report = result(server, id);
  CHECK(report["failed"] == true);
  CHECK(report["results"].is_null());
  CHECK_THAT(report["error"].get<std::string>(), Catch::Contains("answered 503"));
}

TEST_CASE("a branch goes both ways on the request, and is the final step of a synchronous call",
          "[server][flow][branch][e2e]") {
  ServerFolders folders;
  writeFile(folders.integrations.file("router.yaml"), R"(name: Router
trigger: { webhook: {} }
execution: { synchronous: true }
steps:
  - name: route
    branch:
      - when: "{{ exists(trigger.results.body.data.amount) and trigger.results.body.data.amount >= 100 and lower(trigger.results.body.data.currency) == 'usd' }}"
        steps:
          - { name: big, component: json, action: value, inputs: { value: { lane: big, amount: "{{ trigger.results.body.data.amount }}" } } }
      - when: "{{ exists(trigger.results.body.data.refund) and trigger.results.body.data.refund }}"
        steps:
          - { name: refund, component: stop-execution, action: stop, inputs: { statusCode: 202, body: { lane: refund } } }
      - else:
          - { name: small, component: json, action: value, inputs: { value: { lane: small } } }
)");
  ServerProcess server(folders.integrations.path(), folders.data.path());
  std::string url = webhookUrl(server, "router");
  CurlResult big = curl("--location --header 'Content-Type: application/json' --data '{\"amount\": 250, "
                        "\"currency\": \"USD\"}' '" + url + "'");
  CHECK(big.status == 200);
  CHECK(parse(big.body) == json{{"lane", "big"}, {"amount", 250}});
  CurlResult small = curl("--location --header 'Content-Type: application/json' --data '{\"amount\": 5, "
                          "\"currency\": \"usd\"}' '" + url + "'");
  CHECK(parse(small.body) == json{{"lane", "small"}});
  CurlResult refund = curl("--location --header 'Content-Type: application/json' --data '{\"refund\": true}' '" +
                           url + "'");
  CHECK(refund.status == 202);
  CHECK(parse(refund.body) == json{{"lane", "refund"}});
}

TEST_CASE("a loop of 1,000 items at concurrency 1 and 8 gives each iteration's result, in order",
          "[server][flow][loop][e2e]") {
  FlakyUpstream upstream(0);
  ServerFolders folders;
  for (int concurrency : {1, 8})
    writeFile(folders.integrations.file("each-" + std::to_string(concurrency) + ".yaml"),
              "name: Each " + std::to_string(concurrency) + R"(
trigger: { webhook: {} }
steps:
  - name: each
    loop:
      items: "{{ trigger.results.body.data.items }}"
      concurrency: )" + std::to_string(concurrency) + R"(
      steps:
        - { name: twice, component: json, action: value, inputs: { value: { n: "{{ loop.item }}", i: "{{ loop.index }}" } } }
        - { name: pick, component: json, action: select, inputs: { value: "{{ steps.twice.results }}", path: n } }
)");
  writeFile(folders.integrations.file("fetch-each.yaml"), R"(name: Fetch Each
trigger: { webhook: {} }
steps:
  - name: each
    loop:
      items: "{{ trigger.results.body.data.items }}"
      concurrency: 8
      steps:
        - { name: call, component: http, action: request, inputs: { url: ")" + upstream.url("/slow") + R"(?i={{ loop.index }}" } }
)");
  ServerProcess server(folders.integrations.path(), folders.data.path());
  json items = json::array();
  for (int i = 0; i < 1000; ++i) items.push_back(i * 3);
  for (const std::string key : {"each-1", "each-8"}) {
    INFO(key);
    std::string id = trigger(server, key, {{"items", items}});
    json done = waitForEnd(server, id, 60);
    REQUIRE(done["status"] == "succeeded");
    CHECK(result(server, id) == items);
    HttpResult one = http("GET", server.url() + "/api/executions/" + id + "/steps/twice/result?iteration=7");
    REQUIRE(one.status == 200);
    CHECK(parse(one.body) == json{{"n", 21}, {"i", 7}});
    HttpResult all = http("GET", server.url() + "/api/executions/" + id + "/steps/pick/result");
    CHECK(parse(all.body) == items);
    CHECK(http("GET", server.url() + "/api/executions/" + id + "/steps/pick/result?iteration=1000").status == 404);
    CHECK(http("GET", server.url() + "/api/executions/" + id + "/steps/pick/result?iteration=x").status == 400);
  }
  json twenty = json::array();
  for (int i = 0; i < 24; ++i) twenty.push_back(i);
  json fetched = waitForEnd(server, trigger(server, "fetch-each", {{"items", twenty}}), 30);
  CHECK(fetched["status"] == "succeeded");
  CHECK(upstream.hits("/slow") == 24);
  CHECK(upstream.mostAtOnce() == 8);
}

TEST_CASE("a one-second schedule with a three-second step and limit 1, skip never overlaps",
          "[server][flow][concurrency][schedule][e2e]") {
  ServerFolders folders;
  writeFile(folders.integrations.file("ticker.yaml"), R"(name: Ticker
trigger: { schedule: { every: 1, unit: seconds } }
execution:
  concurrency: { limit: 1, behavior: skip }
steps:
  - { name: work, component: delay, action: sleep, inputs: { ms: 3000 } }
)");
  ServerProcess server(folders.integrations.path(), folders.data.path());
  json mine = json::array();
  REQUIRE(eventually([&] {
    mine = json::array();
    for (auto& item : parse(http("GET", server.url() + "/api/executions?limit=1000").body))
      if (item["integration"] == "ticker") mine.push_back(item);
    int succeeded = 0;
    for (const auto& item : mine) succeeded += item["status"] == "succeeded";
    return succeeded >= 2;
  }, 20));
  int skipped = 0;
  std::vector<std::pair<std::string, std::string>> ran;  // startedAt, endedAt of those that ran
  for (const auto& item : mine) {
    if (item["status"] == "cancelled") {
      ++skipped;
      json full = execution(server, item["id"]);
      CHECK_THAT(full["error"].get<std::string>(),
                 Catch::StartsWith("skipped: 1 execution of instance 'default' already under way"));
    } else if (item["status"] == "succeeded") {
      ran.emplace_back(item["startedAt"], item["endedAt"]);
    }
  }
  CHECK(skipped >= 2);  // a fire each second while one sleeps 3 s
  std::sort(ran.begin(), ran.end());
  for (std::size_t i = 1; i < ran.size(); ++i) CHECK(ran[i].first >= ran[i - 1].second);  // ISO times sort as text
}

TEST_CASE("cancel while waiting and while running, over the API and the CLI", "[server][flow][cancel][e2e]") {
  FlakyUpstream upstream(0);
  ServerFolders folders;
  writeFile(folders.integrations.file("waits.yaml"), R"(name: Waits
trigger: { webhook: {} }
steps:
  - { name: pause, component: delay, action: sleep, inputs: { ms: 600000 } }
)");
  writeFile(folders.integrations.file("hangs.yaml"), R"(name: Hangs
trigger: { webhook: {} }
steps:
  - { name: call, component: http, action: request, inputs: { url: ")" + upstream.url("/hang") + R"(", timeoutMs: 60000 } }
)");
  ServerProcess server(folders.integrations.path(), folders.data.path());
  std::string waiting = trigger(server, "waits");
  REQUIRE(reachesStatus(server, waiting, "waiting", 10));
  int status = -1;
  std::string out = runPlexus("executions cancel " + waiting + " --server " + server.url(), &status);
  INFO(out);
  CHECK(status == 0);
  CHECK(parse(out)["status"] == "cancelling");
  CHECK(execution(server, waiting)["status"] == "cancelled");

  std::string running = trigger(server, "hangs");
  REQUIRE(eventually([&] { return upstream.hits("/hang") == 1; }, 10));
  CHECK(execution(server, running)["status"] == "running");
  HttpResult cancel = http("POST", server.url() + "/api/executions/" + running + "/cancel");
  CHECK(cancel.status == 202);
  REQUIRE(reachesStatus(server, running, "cancelled", 10));
  CHECK(execution(server, running)["errorStep"] == "call");
  runPlexus("executions cancel " + running + " --server " + server.url(), &status);
  CHECK(status != 0);  // 409: it has ended
}

TEST_CASE("replay from a step keeps the earlier steps' results without calling them again",
          "[server][flow][replay][e2e]") {
  FlakyUpstream upstream(0);
  ServerFolders folders;
  writeFile(folders.integrations.file("pipeline.yaml"), R"(name: Pipeline
trigger: { webhook: {} }
steps:
  - { name: extract, component: http, action: request, inputs: { method: POST, url: ")" + upstream.url("/extract") + R"(" } }
  - { name: load, component: http, action: request, inputs: { method: POST, url: ")" + upstream.url("/load") + R"(" } }
  - { name: summary, component: json, action: value, inputs: { value: { extract: "{{ steps.extract.results.body.call }}", load: "{{ steps.load.results.body.call }}", order: "{{ trigger.results.body.data.order }}" } } }
)");
  ServerProcess server(folders.integrations.path(), folders.data.path());
  std::string original = trigger(server, "pipeline", {{"order", 42}});
  REQUIRE(waitForEnd(server, original)["status"] == "succeeded");

  HttpResult replay = http("POST", server.url() + "/api/executions/" + original + "/replay",
                           R"({"fromStep": "load"})", jsonBody());
  REQUIRE(replay.status == 201);
  std::string id = parse(replay.body)["executionId"];
  CHECK(parse(replay.body)["replayOf"] == original);
  json done = waitForEnd(server, id);
  CHECK(done["status"] == "succeeded");
  CHECK(done["replayOf"] == original);
  CHECK(result(server, id) == json{{"extract", 1}, {"load", 2}, {"order", 42}});
  CHECK(upstream.hits("/extract") == 1);  // kept, not called again
  CHECK(upstream.hits("/load") == 2);

  int status = -1;
  std::string out = runPlexus("executions replay " + original + " --server " + server.url(), &status);
  INFO(out);
  REQUIRE(status == 0);
  CHECK(waitForEnd(server, parse(out)["executionId"])["status"] == "succeeded");
  CHECK(upstream.hits("/extract") == 2);  // a whole replay runs every step

  CHECK(http("POST", server.url() + "/api/executions/" + original + "/replay", R"({"fromStep": "lod"})", jsonBody())
            .status == 400);
  CHECK(http("POST", server.url() + "/api/executions/" + original + "/replay", R"({"from": "load"})", jsonBody())
            .status == 400);
  CHECK(http("POST", server.url() + "/api/executions/nope/replay").status == 404);
}

TEST_CASE("kill -9 in a retry's backoff: after the restart the retries go on and the earlier step is not repeated",
          "[server][flow][retry][recovery][e2e]") {
  FlakyUpstream upstream(2);
  ServerFolders folders;
  writeFile(folders.integrations.file("persistent.yaml"), R"(name: Persistent
trigger: { webhook: {} }
steps:
  - { name: first, component: http, action: request, inputs: { method: POST, url: ")" + upstream.url("/first") + R"(" } }
  - name: fetch
    component: http
    action: request
    inputs: { url: ")" + upstream.url("/flaky/b") + R"(", failOnStatus: true }
    retry: { maxAttempts: 4, delayMs: 1500 }
)");
  auto server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path());
  std::string id = trigger(*server, "persistent");
  REQUIRE(reachesStatus(*server, id, "waiting", 10));
  CHECK(upstream.hits("/flaky/b") == 1);
  server->kill9();
  server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path());
  json done = waitForEnd(*server, id, 30);
  CHECK(done["status"] == "succeeded");
  CHECK(upstream.hits("/first") == 1);
  CHECK(upstream.hits("/flaky/b") == 3);
  CHECK(stepNamed(done, "fetch")["attempts"] == 3);
}

TEST_CASE("kill -9 in the middle of a loop: after the restart no iteration's side effect happens twice",
          "[server][flow][loop][recovery][e2e]") {
  FlakyUpstream upstream(0);
  ServerFolders folders;
  writeFile(folders.integrations.file("batch.yaml"), R"(name: Batch
trigger: { webhook: {} }
steps:
  - name: each
    loop:
      items: "{{ trigger.results.body.data.items }}"
      steps:
        - { name: post, component: http, action: request, inputs: { method: POST, url: ")" + upstream.url("/item/") + R"({{ loop.item }}" } }
        - { name: pause, component: delay, action: sleep, inputs: { ms: 700 } }
)");
  auto server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path());
  std::string id = trigger(*server, "batch", {{"items", {"a", "b", "c", "d"}}});
  REQUIRE(eventually([&] { return upstream.hits("/item/b") == 1; }, 10));
  REQUIRE(reachesStatus(*server, id, "waiting", 10));  // in b's pause
  server->kill9();
  server = std::make_unique<ServerProcess>(folders.integrations.path(), folders.data.path());
  json done = waitForEnd(*server, id, 30);
  CHECK(done["status"] == "succeeded");
  for (const std::string item : {"a", "b", "c", "d"}) {
    INFO(item);
    CHECK(upstream.hits("/item/" + item) == 1);
  }
}

TEST_CASE("the bundled paid-orders example: a flaky orders API, then each paid order shipped and the rest logged",
          "[server][flow][example][e2e]") {
  FlakyUpstream upstream(1);  // the orders API fails once
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  json created = parse(http("POST", server.url() + "/api/instances",
                            json{{"integration", "paid-orders"},
                                 {"name", "local-shop"},
                                 {"configVars",
                                  {{"ordersUrl", upstream.url("/flaky/orders")},
                                   {"fulfilmentUrl", upstream.url("/shipments")}}}}
                                .dump(),
                            jsonBody())
                           .body);
  REQUIRE(created.contains("webhookUrl"));
  HttpResult accepted = http("POST", created["webhookUrl"].get<std::string>(), R"({"page": 1})", jsonBody());
  REQUIRE(accepted.status == 200);
  std::string id = parse(accepted.body)["executionId"];
  json done = waitForEnd(server, id, 30);
  INFO(done.dump());
  REQUIRE(done["status"] == "succeeded");
  CHECK(upstream.hits("/flaky/orders") == 2);  // one failure, one retry
  CHECK(upstream.hits("/shipments") == 3);     // the three paid orders
  CHECK(result(server, id) == json::array({{{"order", "A-1"}, {"shipped", true}},
                                           {{"order", "A-2"}, {"shipped", false}},
                                           {{"order", "A-3"}, {"shipped", true}},
                                           {{"order", "A-4"}, {"shipped", false}},
                                           {{"order", "A-5"}, {"shipped", true}}}));
  CHECK(logsContaining(done, "order A-4 is refunded: not shipped") == 1);
}
