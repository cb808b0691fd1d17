// A tiny blocking HTTP/1.1 client over a raw socket, for tests that must
// send what no well-behaved client sends (broken framing, slow heads,
// idle connections) and see exactly what comes back.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

// A namespace of its own: tests/support/raw_connection.hpp has another
// RawConnection, and two classes of one name in one program break the ODR
// (ASan caught one's member function run on the other's object).
namespace plexus::testing_support::raw_http {

struct RawReply {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< Lower-cased names.
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class RawConnection {
 public:
  /// Connects to 127.0.0.1:port, from `source` (e.g. "127.0.0.2") when given.
  explicit RawConnection(int port, const std::string& source = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    if (!source.empty()) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) fail("bind " + source);
    }
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) fail("connect");
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  RawConnection(RawConnection&& other) noexcept : fd_(other.fd_), pending_(std::move(other.pending_)) { other.fd_ = -1; }

  int fd() const { return fd_; }

  /// Sends all of `bytes`; false if the server has closed the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  /// Reads one response (a 100 Continue counts as one); nothing if the
  /// connection closed or `seconds` passed first.
  std::optional<RawReply> readReply(double seconds = 15) {
    auto until = deadline(seconds);
    std::size_t headEnd;
    while ((headEnd = pending_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(until)) return std::nullopt;
    RawReply reply;
    std::string head = pending_.substr(0, headEnd);
    pending_.erase(0, headEnd + 4);
    std::size_t lineEnd = head.find("\r\n");
    std::string statusLine = head.substr(0, lineEnd);
    if (statusLine.size() < 12) return std::nullopt;
    reply.status = std::stoi(statusLine.substr(9, 3));
    std::size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
    while (pos < head.size()) {
      std::size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) end = head.size();
      std::string line = head.substr(pos, end - pos);
      std::size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::size_t start = line.find_first_not_of(' ', colon + 1);
        reply.headers[name] = start == std::string::npos ? "" : line.substr(start);
      }
      pos = end + 2;
    }
    std::size_t length = reply.headers.count("content-length") ? std::stoul(reply.headers["content-length"]) : 0;
    while (pending_.size() < length)
      if (!fill(until)) return std::nullopt;
    reply.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return reply;
  }

  /// True if the server closes the connection within `seconds` (bytes that
  /// arrive first are dropped).
  bool closedWithin(double seconds) {
    auto until = deadline(seconds);
    for (;;) {
      pending_.clear();
      int result = fillOnce(until);
      if (result == 0) return true;     // EOF or reset
      if (result < 0) return false;     // timed out
    }
  }

  /// True if nothing arrives (and the connection stays open) for `seconds`.
  bool silentFor(double seconds) {
    if (!pending_.empty()) return false;
    return fillOnce(deadline(seconds)) < 0;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static Clock::time_point deadline(double seconds) {
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }
  [[noreturn]] void fail(const std::string& what) {
    std::string message = what + ": " + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(message);
  }
  bool fill(Clock::time_point until) { return fillOnce(until) > 0; }
  /// 1: read some bytes; 0: EOF or error; -1: timed out.
  int fillOnce(Clock::time_point until) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return -1;
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, static_cast<int>(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) return -1;
      char buffer[16384];
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;
      pending_.append(buffer, static_cast<std::size_t>(n));
      return 1;
    }
  }

  int fd_ = -1;
  std::string pending_;
};

}  // namespace plexus::testing_support::raw_http
