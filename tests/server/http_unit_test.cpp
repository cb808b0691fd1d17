// Unit tests of the front end's parts that need no socket.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <thread>

#include "server/connection_table.hpp"
#include "server/handler_pool.hpp"
#include "server/http_message.hpp"
#include "server/http_reply.hpp"

using namespace plexus::core;

TEST_CASE("JSON replies and describeBinaries survive 100,000 levels of nesting", "[server][http][reply]") {
  plexus::Json deep = plexus::Json::array();
  plexus::Json* innermost = &deep;
  for (int i = 0; i < 100000; ++i) {
    innermost->push_back(plexus::Json::array());
    innermost = &innermost->back();
  }
  *innermost = plexus::Json::binary(plexus::Binary(std::string("abc"), "image/png"));
  std::string text = responseJson(deep);
  CHECK(text.size() == 100000 + 100000 + std::string(R"({"$binary":{"contentType":"image/png","size":3}})").size());
  CHECK(text.substr(100000, 12) == R"({"$binary":{)");
  plexus::Json described = describeBinaries(deep);
  CHECK(servedSize(deep) == text.size());
  const plexus::Json* walk = &described;
  int depth = 0;
  while (walk->is_array()) {
    walk = &walk->front();
    ++depth;
  }
  CHECK(depth == 100000);
  CHECK((*walk)["$binary"]["size"] == 3);
}

TEST_CASE("JSON replies match dump() and replace invalid UTF-8", "[server][http][reply]") {
  plexus::Json value = {{"a", {1, 2.5, "x\"y", nullptr, true}}, {"b", plexus::Json::object()}, {"c", plexus::Json::array()}};
  CHECK(responseJson(value) == value.dump());
  CHECK(responseJson(plexus::Json("caf\xe9")) == "\"caf\xef\xbf\xbd\"");
}

TEST_CASE("response heads carry Content-Length and Date and no injected header", "[server][http]") {
  HttpResponse response;
  response.status = 303;
  response.headers.set("Location", "/x\r\nSet-Cookie: evil=1");
  response.headers.set("Content-Length", "999");
  response.body = "ok";
  std::string head = serializeResponseHead(response, 11, true);
  CHECK_THAT(head, Catch::StartsWith("HTTP/1.1 303 See Other\r\n"));
  CHECK_THAT(head, Catch::Contains("Location: /x  Set-Cookie: evil=1\r\n"));
  CHECK_THAT(head, Catch::Contains("Content-Length: 2\r\n"));
  CHECK_THAT(head, !Catch::Contains("999"));
  CHECK_THAT(head, Catch::Contains("Connection: close\r\n"));
  CHECK_THAT(head, Catch::Contains("\r\nDate: "));
}

TEST_CASE("204 and 304 replies carry no body, a 204 no Content-Length; 1xx is never a final reply", "[server][http]") {
  for (int status : {204, 304}) {
    HttpResponse response;
    StoredResult result;
    result.isStatus = true;
    result.status = plexus::StatusResult{status, {}, plexus::Json("a body the status cannot have")};
    sendStoredResult(response, result, 1024);
    CHECK(response.status == status);
    CHECK(response.bodyView().empty());
    std::string head = serializeResponseHead(response, 11, false);
    if (status == 204) CHECK_THAT(head, !Catch::Contains("Content-Length"));
    else CHECK_THAT(head, Catch::Contains("Content-Length: 0\r\n"));
  }
  HttpResponse informational;
  StoredResult hundred;
  hundred.isStatus = true;
  hundred.status = plexus::StatusResult{101, {}, std::nullopt};
  sendStoredResult(informational, hundred, 1024);
  CHECK(informational.status == 500);
}

TEST_CASE("the handler pool grows while tasks block and shrinks once idle", "[server][http][pool]") {
  HandlerPool pool(2, 64, std::chrono::milliseconds(200));
  std::mutex mutex;
  std::condition_variable released;
  bool release = false;
  std::atomic<int> running{0};
  for (int i = 0; i < 40; ++i)
    pool.submit([&] {
      ++running;
      std::unique_lock<std::mutex> lock(mutex);
      released.wait(lock, [&] { return release; });
    });
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (running < 40 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(running == 40);  // Every blocked task got a thread of its own.
  CHECK(pool.threads() >= 40);
  {
    std::lock_guard<std::mutex> lock(mutex);
    release = true;
  }
  released.notify_all();
  until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (pool.threads() > 2 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(pool.threads() == 2);
}

namespace {
struct FakeMember : ConnectionTable::Member {
  int closes = 0;
  void closeSoon(bool) override { ++closes; }
};
}  // namespace

TEST_CASE("the connection table caps per address and gives the longest-waiting slot to a newcomer",
          "[server][http]") {
  ConnectionTable table(3, 2);
  std::shared_ptr<ConnectionTable::Member> victim;
  auto a = std::make_shared<FakeMember>(), b = std::make_shared<FakeMember>(), c = std::make_shared<FakeMember>();
  REQUIRE(table.admit("10.0.0.1", victim) == ConnectionTable::Admission::Admitted);
  table.add(a);
  REQUIRE(table.admit("10.0.0.1", victim) == ConnectionTable::Admission::Admitted);
  table.add(b);
  CHECK(table.admit("10.0.0.1", victim) == ConnectionTable::Admission::OverClientLimit);
  REQUIRE(table.admit("10.0.0.2", victim) == ConnectionTable::Admission::Admitted);
  table.add(c);
  // Full, nobody waiting: refused.
  CHECK(table.admit("10.0.0.3", victim) == ConnectionTable::Admission::Full);
  CHECK_FALSE(victim);
  table.setWaiting(*b, true);
  table.setWaiting(*a, true);
  CHECK(table.admit("10.0.0.3", victim) == ConnectionTable::Admission::Admitted);
  CHECK(victim == b);  // Waiting longest.
  table.remove(*b, "10.0.0.1");
  CHECK(table.size() == 3);
}
