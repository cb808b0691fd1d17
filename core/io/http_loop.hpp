// The HTTP event loop: sends the requests of actions that returned
// Result::afterHttp, thousands at once, from one thread (libcurl's multi
// interface), so that no worker thread waits for an answer.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
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
    /// Connections open at once; further requests wait inside libcurl for
    /// one (their time counts against their timeout).
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
  };
  void run();
  void admit(std::vector<std::unique_ptr<Transfer>> arrived);
  void finishDone();
  void stopAsked(std::chrono::steady_clock::time_point now);
  void end(void* handle, plexus::HttpResponse response);

  const Options options_;
  void* multi_ = nullptr;  // CURLM*; used by the loop's thread only (and curl_multi_wakeup, which is thread-safe)

  mutable std::mutex mutex_;  // guards incoming_, stopping_, started_ and inFlight_
  std::vector<std::unique_ptr<Transfer>> incoming_;
  bool stopping_ = false;
  bool started_ = false;
  std::size_t inFlight_ = 0;

  // The loop thread's own: open transfers by their easy handle.
  std::unordered_map<void*, std::unique_ptr<Transfer>> open_;
  std::chrono::steady_clock::time_point nextStopCheck_{};
  std::thread thread_;  // touched by start/stop only
};

}  // namespace plexus::core
