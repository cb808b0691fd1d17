#include "raw_connection.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace plexus::testing_support {

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string trim(const std::string& text) {
  auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

sockaddr_in loopbackAddress(const std::string& address, int port) {
  sockaddr_in out{};
  out.sin_family = AF_INET;
  out.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &out.sin_addr) != 1)
    throw std::runtime_error("not an IPv4 address: " + address);
  return out;
}

int remainingMs(Clock::time_point until) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

/// Decodes a chunked body at the front of `bytes`; npos when incomplete.
std::size_t chunkedBodyEnd(const std::string& bytes, std::size_t start, std::string& body) {
  std::size_t at = start;
  while (true) {
    std::size_t lineEnd = bytes.find("\r\n", at);
    if (lineEnd == std::string::npos) return std::string::npos;
    std::size_t size = std::stoul(bytes.substr(at, lineEnd - at), nullptr, 16);
    at = lineEnd + 2;
    if (size == 0) {
      std::size_t trailerEnd = bytes.find("\r\n", at);
      while (trailerEnd != std::string::npos && trailerEnd != at) {  // Skip trailer fields.
        at = trailerEnd + 2;
        trailerEnd = bytes.find("\r\n", at);
      }
      return trailerEnd == std::string::npos ? std::string::npos : trailerEnd + 2;
    }
    if (bytes.size() < at + size + 2) return std::string::npos;
    body.append(bytes, at, size);
    at += size + 2;
  }
}

}  // namespace

std::vector<RawReply> parseReplies(std::string& bytes, bool eof) {
  std::vector<RawReply> replies;
  while (true) {
    std::size_t headEnd = bytes.find("\r\n\r\n");
    if (headEnd == std::string::npos) return replies;
    RawReply reply;
    std::size_t lineEnd = bytes.find("\r\n");
    std::string statusLine = bytes.substr(0, lineEnd);
    // "HTTP/1.1 400 Bad Request"
    std::size_t firstSpace = statusLine.find(' ');
    if (statusLine.compare(0, 5, "HTTP/") != 0 || firstSpace == std::string::npos) return replies;
    try {
      reply.status = std::stoi(statusLine.substr(firstSpace + 1, 3));
    } catch (const std::exception&) {
      return replies;  // Not a status line: leave it in `unparsed` for the test to show.
    }
    reply.reason = statusLine.size() > firstSpace + 5 ? statusLine.substr(firstSpace + 5) : "";
    std::size_t at = lineEnd + 2;
    while (at < headEnd) {
      std::size_t end = bytes.find("\r\n", at);
      std::string line = bytes.substr(at, end - at);
      std::size_t colon = line.find(':');
      if (colon != std::string::npos) reply.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
      at = end + 2;
    }
    std::size_t bodyStart = headEnd + 4;
    std::size_t end = bodyStart;
    bool noBody = reply.status / 100 == 1 || reply.status == 204 || reply.status == 304;
    if (noBody) {
      end = bodyStart;
    } else if (lower(reply.header("transfer-encoding")).find("chunked") != std::string::npos) {
      end = chunkedBodyEnd(bytes, bodyStart, reply.body);
      if (end == std::string::npos) return replies;
    } else if (!reply.header("content-length").empty()) {
      std::size_t length = std::stoul(reply.header("content-length"));
      if (bytes.size() < bodyStart + length) return replies;
      reply.body = bytes.substr(bodyStart, length);
      end = bodyStart + length;
    } else {
      if (!eof) return replies;  // Delimited by the close.
      reply.body = bytes.substr(bodyStart);
      end = bytes.size();
    }
    bytes.erase(0, end);
    replies.push_back(std::move(reply));
  }
}

RawConnection::RawConnection(int port, const std::string& sourceAddress, double connectSeconds) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (!sourceAddress.empty()) {
    sockaddr_in source = loopbackAddress(sourceAddress, 0);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
      int error = errno;
      ::close(fd_);
      throw std::runtime_error("bind " + sourceAddress + ": " + std::strerror(error));
    }
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in target = loopbackAddress("127.0.0.1", port);
  int result = ::connect(fd_, reinterpret_cast<sockaddr*>(&target), sizeof target);
  if (result != 0 && errno == EINPROGRESS) {
    pollfd waiting{fd_, POLLOUT, 0};
    int ready = ::poll(&waiting, 1, static_cast<int>(connectSeconds * 1000));
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
    result = ready == 1 && error == 0 ? 0 : -1;
    errno = ready == 1 ? error : ETIMEDOUT;
  }
  if (result != 0) {
    int error = errno;
    ::close(fd_);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(error));
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(std::string_view bytes) {
  auto until = Clock::now() + std::chrono::seconds(10);
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The server is not reading: wait a little, but do not hang the test.
      pollfd waiting{fd_, POLLOUT, 0};
      if (::poll(&waiting, 1, remainingMs(until)) == 1) continue;
    }
    return false;
  }
  return true;
}

void RawConnection::shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

bool RawConnection::receive(double seconds) {
  if (eof_) return false;
  pollfd waiting{fd_, POLLIN, 0};
  int ready = ::poll(&waiting, 1, static_cast<int>(seconds * 1000));
  if (ready != 1) return false;
  char chunk[65536];
  ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n > 0) {
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  eof_ = true;  // 0: orderly close; <0: reset. Either way nothing more comes.
  return true;
}

RawExchange RawConnection::collect(double seconds, std::size_t count, bool untilQuiet) {
  RawExchange exchange;
  auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (true) {
    for (auto& reply : parseReplies(buffer_, eof_)) exchange.replies.push_back(std::move(reply));
    if (eof_) break;
    if (!untilQuiet && exchange.replies.size() >= count) break;
    if (untilQuiet) {
      if (!receive(seconds)) {
        exchange.timedOut = true;
        break;
      }
    } else {
      int left = remainingMs(until);
      if (left == 0 || !receive(left / 1000.0)) {
        exchange.timedOut = !eof_;
        if (!eof_) break;
      }
    }
  }
  exchange.closedByServer = eof_;
  exchange.unparsed = buffer_;
  return exchange;
}

RawExchange RawConnection::read(double seconds, std::size_t count) { return collect(seconds, count, false); }

RawExchange RawConnection::readUntilQuiet(double quietSeconds) { return collect(quietSeconds, 0, true); }

bool RawConnection::closedWithin(double seconds) {
  auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (!eof_) {
    int left = remainingMs(until);
    if (left == 0) return false;
    receive(left / 1000.0);
    buffer_.clear();
  }
  return true;
}

}  // namespace plexus::testing_support
