// The HTTP event loop: sends the requests of actions that returned
// Result::afterHttp, thousands at once, from one thread, so that no worker
// thread waits for an answer. libcurl's multi-socket interface on epoll (as
// curl's own ephiperfifo example): the loop hears of the sockets that are
// ready, never scans them all, so 4,096 open exchanges cost what the ready
// ones cost.
//
// The exchanges are spread over a few multi handles (shards), filled one
// after the other: libcurl 7.88 walks its whole connection cache each time
// an exchange is removed from a multi handle (curl_multi_remove_handle looks
// for a connect-only connection by id), so one multi with 4,096 connections
// paid about 70 µs of CPU per exchange for that walk alone. Filling the first
// shard before the next keeps a quiet partner's connections reused.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <plexus/http.hpp>

namespace plexus::detail {
class CurlExchange;
}

namespace plexus::core {

class HttpLoop {
 public:
  struct Options {
    /// Exchanges open at once (each holds a connection); further requests
    /// wait in the loop's own queue, in order, and their wait counts against
    /// their timeout. (Not libcurl's queue: it rescans its waiting
    /// transfers whenever one ends, which costs O(waiting) per exchange.)
    long maxConnections = 4096;
    /// How often the loop asks every open exchange whether to stop.
    std::chrono::milliseconds stopCheck{50};
  };
  /// Receives the response (or why there is none). Called once, on the
  /// loop's thread: it must be quick (post the work elsewhere).
  using Done = std::function<void(plexus::HttpResponse)>;
  /// True once the exchange should end (a cancel, a shutdown); then it ends
  /// with HttpFailure::Cancelled. Called on the loop's thread.
  using StopCheck = std::function<bool()>;

  explicit HttpLoop(Options options);
  ~HttpLoop();  ///< stop()
  HttpLoop(const HttpLoop&) = delete;
  HttpLoop& operator=(const HttpLoop&) = delete;

  void start();
  /// Ends every open exchange (Cancelled: "the server is stopping"), calling
  /// its Done, and joins the thread. Later sends end at once the same way.
  void stop();

  /// Sends `request`. It ends within its timeout and within `deadlineIn`
  /// (the step's deadline: then HttpFailure::Deadline), or within
  /// Options::stopCheck of `stopRequested` turning true. Safe from any thread.
  void send(plexus::HttpRequest request, std::chrono::milliseconds deadlineIn, StopCheck stopRequested, Done done);

  /// Exchanges sent and not yet answered.
  std::size_t inFlight() const;

 private:
  struct Transfer {
    std::unique_ptr<plexus::detail::CurlExchange> exchange;
    StopCheck stopRequested;
    Done done;
    std::size_t shard = 0;  ///< Where it is open.
  };
  /// One multi handle and its share of maxConnections.
  struct Shard {
    HttpLoop* loop = nullptr;
    std::uint32_t index = 0;
    void* multi = nullptr;  // CURLM*
    long capacity = 0;
    long open = 0;
    std::optional<std::chrono::steady_clock::time_point> timer;  // when libcurl wants to be called, if at all
  };
  static constexpr std::size_t kMostShards = 8;
  void run();
  void wake();
  /// libcurl's callbacks: a socket to watch (or stop watching), a timeout to keep.
  static int onSocket(void* easy, int socket, int what, void* self, void* socketData);
  static int onTimer(void* multi, long timeoutMs, void* self);
  void socketAction(Shard& shard, int socket, int events);
  /// Opens waiting transfers while fewer than maxConnections are open.
  void admit();
  void finishDone();
  void stopAsked(std::chrono::steady_clock::time_point now);
  void end(void* handle, plexus::HttpResponse response);

  const Options options_;
  std::vector<Shard> shards_;  // fixed by the constructor; used by the loop's thread only
  int epoll_ = -1;         // the sockets libcurl asked to watch, and wakeFd_
  int wakeFd_ = -1;        // an eventfd: send() and stop() write to it

  mutable std::mutex mutex_;  // guards incoming_, stopping_, started_ and inFlight_
  std::vector<std::unique_ptr<Transfer>> incoming_;
  bool stopping_ = false;
  bool started_ = false;
  std::size_t inFlight_ = 0;

  // The loop thread's own: open transfers by their easy handle, and those
  // waiting for one of maxConnections to be free.
  std::unordered_map<void*, std::unique_ptr<Transfer>> open_;
  std::deque<std::unique_ptr<Transfer>> waiting_;
  std::chrono::steady_clock::time_point nextStopCheck_{};
  std::thread thread_;  // touched by start/stop only
};

}  // namespace plexus::core
