#include "io/http_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

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

constexpr int kEventsPerWait = 256;
/// The wake-up eventfd's epoll tag; sockets carry (shard << 32 | fd).
constexpr std::uint64_t kWakeTag = ~std::uint64_t{0};
}  // namespace

HttpLoop::HttpLoop(Options options) : options_(options) {
  plexus::detail::initCurlOnce();
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wakeFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_ < 0 || wakeFd_ < 0)
    throw std::runtime_error(std::string("the HTTP event loop could not start: ") + std::strerror(errno));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeTag;
  epoll_ctl(epoll_, EPOLL_CTL_ADD, wakeFd_, &event);
  const long maxConnections = std::max(1L, options_.maxConnections);
  const std::size_t count = std::min<std::size_t>(kMostShards, static_cast<std::size_t>(maxConnections));
  shards_.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    Shard& shard = shards_[i];
    shard.loop = this;
    shard.index = static_cast<std::uint32_t>(i);
    const long shards = static_cast<long>(count);
    shard.capacity = maxConnections / shards + (static_cast<long>(i) < maxConnections % shards ? 1 : 0);
    shard.multi = curl_multi_init();
    if (!shard.multi) throw std::runtime_error("the HTTP event loop could not start: curl_multi_init failed");
    CURLM* multi = multiOf(shard.multi);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, shard.capacity);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &HttpLoop::onSocket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, &shard);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &HttpLoop::onTimer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, &shard);
  }
}

HttpLoop::~HttpLoop() {
  stop();
  for (Shard& shard : shards_) curl_multi_cleanup(multiOf(shard.multi));
  ::close(wakeFd_);
  ::close(epoll_);
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
  wake();
  if (thread_.joinable()) thread_.join();
  for (auto& transfer : unsent)
    deliver(transfer->done, transfer->exchange->fail(plexus::HttpFailure::Cancelled, "the server is stopping"));
}

void HttpLoop::wake() {
  const std::uint64_t one = 1;
  // A full counter (EAGAIN) already means "wake up".
  [[maybe_unused]] ssize_t written = ::write(wakeFd_, &one, sizeof one);
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
  if (transfer)
    return deliver(transfer->done, transfer->exchange->fail(plexus::HttpFailure::Cancelled, "the server is stopping"));
  wake();
}

std::size_t HttpLoop::inFlight() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return inFlight_;
}

int HttpLoop::onSocket(void*, int socket, int what, void* userp, void*) {
  auto& shard = *static_cast<Shard*>(userp);
  const int epoll = shard.loop->epoll_;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(epoll, EPOLL_CTL_DEL, socket, nullptr);  // may be closed already: then epoll dropped it
    return 0;
  }
  epoll_event event{};
  event.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  event.data.u64 = (static_cast<std::uint64_t>(shard.index) << 32) | static_cast<std::uint32_t>(socket);
  if (epoll_ctl(epoll, EPOLL_CTL_MOD, socket, &event) != 0 && errno == ENOENT)
    epoll_ctl(epoll, EPOLL_CTL_ADD, socket, &event);
  return 0;
}

int HttpLoop::onTimer(void*, long timeoutMs, void* userp) {
  auto& shard = *static_cast<Shard*>(userp);
  if (timeoutMs < 0)
    shard.timer.reset();
  else
    shard.timer = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  return 0;
}

void HttpLoop::socketAction(Shard& shard, int socket, int events) {
  int running = 0;
  curl_multi_socket_action(multiOf(shard.multi), socket, events, &running);
}

void HttpLoop::run() {
  epoll_event events[kEventsPerWait];
  for (;;) {
    std::vector<std::unique_ptr<Transfer>> arrived;
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      arrived.swap(incoming_);
      stopping = stopping_;
    }
    for (auto& transfer : arrived) waiting_.push_back(std::move(transfer));
    if (stopping) break;
    admit();

    auto now = std::chrono::steady_clock::now();
    auto wakeAt = nextStopCheck_;
    bool anyTimer = false;
    for (const Shard& shard : shards_) {
      if (!shard.timer) continue;
      anyTimer = true;
      wakeAt = std::min(wakeAt, *shard.timer);
    }
    int timeoutMs = wakeAt <= now ? 0
                                  : static_cast<int>(std::min<long long>(
                                        std::chrono::duration_cast<std::chrono::milliseconds>(wakeAt - now).count() + 1,
                                        options_.stopCheck.count()));
    if (open_.empty() && waiting_.empty() && !anyTimer) timeoutMs = -1;  // idle: sleep until send() or stop() wakes it
    int ready = epoll_wait(epoll_, events, kEventsPerWait, timeoutMs);
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.u64 == kWakeTag) {
        std::uint64_t count;
        [[maybe_unused]] ssize_t read = ::read(wakeFd_, &count, sizeof count);
        continue;
      }
      int flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                  (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                  (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
      const auto tag = events[i].data.u64;
      socketAction(shards_.at(tag >> 32), static_cast<int>(tag & 0xffffffffu), flags);
    }
    for (Shard& shard : shards_) {
      if (!shard.timer || std::chrono::steady_clock::now() < *shard.timer) continue;
      shard.timer.reset();
      socketAction(shard, CURL_SOCKET_TIMEOUT, 0);
    }
    finishDone();
    stopAsked(std::chrono::steady_clock::now());
  }
  for (auto& transfer : waiting_) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --inFlight_;
    }
    deliver(transfer->done, transfer->exchange->fail(plexus::HttpFailure::Cancelled, "the server is stopping"));
  }
  waiting_.clear();
  while (!open_.empty())
    end(open_.begin()->first,
        open_.begin()->second->exchange->fail(plexus::HttpFailure::Cancelled, "the server is stopping"));
}

void HttpLoop::admit() {
  while (!waiting_.empty() && static_cast<long>(open_.size()) < options_.maxConnections) {
    std::unique_ptr<Transfer> transfer = std::move(waiting_.front());
    waiting_.pop_front();
    auto unqueue = [&](plexus::HttpResponse response) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --inFlight_;
      }
      deliver(transfer->done, std::move(response));
    };
    if (!transfer->exchange->startNow()) {
      unqueue(transfer->exchange->timedOutWaiting());
      continue;
    }
    CURL* handle = transfer->exchange->handle();
    // The first shard with room (there is one: fewer than maxConnections are open).
    Shard* shard = &shards_.front();
    for (Shard& candidate : shards_)
      if (candidate.open < candidate.capacity) {
        shard = &candidate;
        break;
      }
    // Adding sets libcurl's timer (to 0): the next turn of the loop starts the transfer.
    if (CURLMcode code = curl_multi_add_handle(multiOf(shard->multi), handle); code != CURLM_OK) {
      unqueue(transfer->exchange->fail(plexus::HttpFailure::Other, curl_multi_strerror(code)));
      continue;
    }
    ++shard->open;
    transfer->shard = shard->index;
    open_.emplace(handle, std::move(transfer));
  }
}

void HttpLoop::finishDone() {
  for (Shard& shard : shards_) {
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multiOf(shard.multi), &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      auto it = open_.find(message->easy_handle);
      if (it == open_.end()) continue;
      end(message->easy_handle, it->second->exchange->finish(message->data.result));
    }
  }
  admit();  // into the connections just freed
}

void HttpLoop::stopAsked(std::chrono::steady_clock::time_point now) {
  if (now < nextStopCheck_) return;
  nextStopCheck_ = now + options_.stopCheck;
  auto stopRequested = [](const Transfer& transfer) { return transfer.stopRequested && transfer.stopRequested(); };
  std::vector<void*> stopped;
  for (auto& [handle, transfer] : open_)
    if (stopRequested(*transfer)) stopped.push_back(handle);
  for (void* handle : stopped)
    end(handle, open_.at(handle)->exchange->fail(plexus::HttpFailure::Cancelled, "the execution was cancelled"));
  // Waiting ones end too when told to stop, or when their time ran out in the queue.
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    const bool stop = stopRequested(**it);
    if (!stop && (*it)->exchange->hasTimeLeft()) {
      ++it;
      continue;
    }
    std::unique_ptr<Transfer> transfer = std::move(*it);
    it = waiting_.erase(it);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --inFlight_;
    }
    deliver(transfer->done, stop ? transfer->exchange->fail(plexus::HttpFailure::Cancelled, "the execution was cancelled")
                                 : transfer->exchange->timedOutWaiting());
  }
  admit();  // into the connections the stopped ones freed
}

void HttpLoop::end(void* handle, plexus::HttpResponse response) {
  auto it = open_.find(handle);
  std::unique_ptr<Transfer> transfer = std::move(it->second);
  open_.erase(it);
  Shard& shard = shards_[transfer->shard];
  curl_multi_remove_handle(multiOf(shard.multi), static_cast<CURL*>(handle));
  --shard.open;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --inFlight_;
  }
  deliver(transfer->done, std::move(response));
}

}  // namespace plexus::core
