#include "io/http_loop.hpp"

#include <plexus/detail/curl_exchange.hpp>

#include <Poco/Logger.h>

namespace plexus::core {

namespace {
Poco::Logger& logger() { return Poco::Logger::get("plexus.http"); }
CURLM* multiOf(void* multi) { return static_cast<CURLM*>(multi); }

/// Calls `done`; what it throws is logged, never let through the loop.
void deliver(const HttpLoop::Done& done, plexus::HttpResponse response) {
  try {
    done(std::move(response));
  } catch (const std::exception& error) {
    logger().error("an HTTP exchange's completion failed: %s", std::string(error.what()));
  }
}
}  // namespace

HttpLoop::HttpLoop(Options options) : options_(options) {
  plexus::detail::initCurlOnce();
  multi_ = curl_multi_init();
  if (!multi_) throw std::runtime_error("libcurl could not create its multi handle (out of memory?)");
  curl_multi_setopt(multiOf(multi_), CURLMOPT_MAX_TOTAL_CONNECTIONS, options_.maxConnections);
}

HttpLoop::~HttpLoop() {
  stop();
  curl_multi_cleanup(multiOf(multi_));
}

void HttpLoop::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void HttpLoop::stop() {
  std::vector<std::unique_ptr<Transfer>> unsent;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    if (!started_) {
      unsent.swap(incoming_);
      inFlight_ = 0;
    }
  }
  curl_multi_wakeup(multiOf(multi_));
  if (thread_.joinable()) thread_.join();
  for (auto& transfer : unsent)
    deliver(transfer->done, transfer->exchange->fail(plexus::HttpFailure::Cancelled, "the server is stopping"));
}

void HttpLoop::send(plexus::HttpRequest request, std::chrono::milliseconds deadlineIn, StopCheck stopRequested,
                    Done done) {
  const auto [allowed, deadlineFirst] = plexus::detail::allowedTime(request, deadlineIn);
  auto transfer = std::make_unique<Transfer>();
  transfer->exchange = std::make_unique<plexus::detail::CurlExchange>(std::move(request), allowed, deadlineFirst);
  transfer->stopRequested = std::move(stopRequested);
  transfer->done = std::move(done);
  if (!transfer->exchange->handle()) return deliver(transfer->done, transfer->exchange->setupFailure());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_) {
      incoming_.push_back(std::move(transfer));
      ++inFlight_;
    }
  }
  if (transfer) return deliver(transfer->done, transfer->exchange->fail(plexus::HttpFailure::Cancelled,
                                                                        "the server is stopping"));
  curl_multi_wakeup(multiOf(multi_));
}

std::size_t HttpLoop::inFlight() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return inFlight_;
}

void HttpLoop::run() {
  for (;;) {
    std::vector<std::unique_ptr<Transfer>> arrived;
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      arrived.swap(incoming_);
      stopping = stopping_;
    }
    admit(std::move(arrived));
    if (stopping) break;
    int running = 0;
    curl_multi_perform(multiOf(multi_), &running);
    finishDone();
    stopAsked(std::chrono::steady_clock::now());
    curl_multi_poll(multiOf(multi_), nullptr, 0, static_cast<int>(options_.stopCheck.count()), nullptr);
  }
  while (!open_.empty())
    end(open_.begin()->first,
        open_.begin()->second->exchange->fail(plexus::HttpFailure::Cancelled, "the server is stopping"));
}

void HttpLoop::admit(std::vector<std::unique_ptr<Transfer>> arrived) {
  for (auto& transfer : arrived) {
    CURL* handle = transfer->exchange->handle();
    if (CURLMcode code = curl_multi_add_handle(multiOf(multi_), handle); code != CURLM_OK) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --inFlight_;
      }
      deliver(transfer->done, transfer->exchange->fail(plexus::HttpFailure::Other, curl_multi_strerror(code)));
      continue;
    }
    open_.emplace(handle, std::move(transfer));
  }
}

void HttpLoop::finishDone() {
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multiOf(multi_), &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    auto it = open_.find(message->easy_handle);
    if (it == open_.end()) continue;
    end(message->easy_handle, it->second->exchange->finish(message->data.result));
  }
}

void HttpLoop::stopAsked(std::chrono::steady_clock::time_point now) {
  if (now < nextStopCheck_) return;
  nextStopCheck_ = now + options_.stopCheck;
  std::vector<void*> stopped;
  for (auto& [handle, transfer] : open_)
    if (transfer->stopRequested && transfer->stopRequested()) stopped.push_back(handle);
  for (void* handle : stopped)
    end(handle, open_.at(handle)->exchange->fail(plexus::HttpFailure::Cancelled, "the execution was cancelled"));
}

void HttpLoop::end(void* handle, plexus::HttpResponse response) {
  auto it = open_.find(handle);
  std::unique_ptr<Transfer> transfer = std::move(it->second);
  open_.erase(it);
  curl_multi_remove_handle(multiOf(multi_), static_cast<CURL*>(handle));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --inFlight_;
  }
  deliver(transfer->done, std::move(response));
}

}  // namespace plexus::core
