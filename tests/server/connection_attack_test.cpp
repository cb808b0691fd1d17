// Connection exhaustion (issue 10, item 7), through a real `plexus serve`:
// from 127.0.0.2, thousands of slowloris, silent and idle keep-alive
// connections; from 127.0.0.1, a legitimate caller who must still get its
// webhook answered. Afterwards the server must give its threads back.
// Pass/fail is about being answered at all (a generous 5 s per request),
// not about latency: bench/attack.py measures p50/p99.
#include "server_fixture.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <cstring>

#include "raw_connection.hpp"

using namespace plexus::testing_support;

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSlowloris = 1500;
constexpr int kSilent = 1100;
constexpr int kIdleKeepAlive = 2000;
constexpr const char* kAttackerAddress = "127.0.0.2";

/// Threads of a process, from /proc/PID/task.
int threadCount(int pid) {
  int count = 0;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error))
    ++count;
  return count;
}

/// Both this process and the server child (which inherits the limit) hold
/// one descriptor per attacking connection.
void raiseDescriptorLimit(rlim_t needed) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  INFO("RLIMIT_NOFILE hard limit " << limit.rlim_max << "; the attack needs " << needed
                                   << " descriptors (raise it with `ulimit -Hn`)");
  REQUIRE(limit.rlim_max >= needed);
  limit.rlim_cur = limit.rlim_max;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
}

/// The attacker: non-blocking sockets from 127.0.0.2, driven by one thread
/// so that thousands cost nothing. It never touches Catch2.
class Attacker {
 public:
  enum class Kind { Slowloris, Silent, IdleKeepAlive };

  Attacker(int port, int slowloris, int silent, int idle) : port_(port) {
    for (int i = 0; i < slowloris; ++i) sockets_.push_back({Kind::Slowloris});
    for (int i = 0; i < silent; ++i) sockets_.push_back({Kind::Silent});
    for (int i = 0; i < idle; ++i) sockets_.push_back({Kind::IdleKeepAlive});
    thread_ = std::thread([this] { run(); });
  }
  ~Attacker() { stop(); }

  /// Closes every attacking socket.
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }

  int connected() const { return connected_; }
  int failed() const { return failed_; }
  int closedByServer() const { return closedByServer_; }
  bool settled() const { return connected_ + failed_ >= static_cast<int>(sockets_.size()); }

 private:
  struct Socket {
    Kind kind;
    int fd = -1;
    bool connected = false;
    bool done = false;  ///< Failed or closed by the server.
    std::size_t sent = 0;
  };

  // A request head that never ends: one byte a second.
  static constexpr const char* kSlowHead = "POST /healthz HTTP/1.1\r\nHost: victim\r\nX-Padding: ";

  void open(Socket& socket) {
    socket.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in source{};
    source.sin_family = AF_INET;
    ::inet_pton(AF_INET, kAttackerAddress, &source.sin_addr);
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(static_cast<uint16_t>(port_));
    ::inet_pton(AF_INET, "127.0.0.1", &target.sin_addr);
    if (socket.fd < 0 || ::bind(socket.fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0 ||
        (::connect(socket.fd, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0 && errno != EINPROGRESS)) {
      socket.done = true;
      ++failed_;
    }
  }

  void sendSome(Socket& socket, const char* bytes, std::size_t size) {
    ssize_t n = ::send(socket.fd, bytes, size, MSG_NOSIGNAL);
    if (n > 0) socket.sent += static_cast<std::size_t>(n);
  }

  void onConnected(Socket& socket) {
    socket.connected = true;
    ++connected_;
    if (socket.kind == Kind::IdleKeepAlive) {
      static const std::string request = "GET /healthz HTTP/1.1\r\nHost: victim\r\n\r\n";
      sendSome(socket, request.data(), request.size());
    }
  }

  void tickSlowloris(Socket& socket) {
    static const std::string head = kSlowHead;
    char byte = socket.sent < head.size() ? head[socket.sent] : 'a';
    sendSome(socket, &byte, 1);
  }

  void run() {
    for (auto& socket : sockets_) open(socket);
    auto nextTick = Clock::now();
    std::vector<pollfd> polled;
    std::vector<Socket*> owners;
    while (!stopping_) {
      polled.clear();
      owners.clear();
      for (auto& socket : sockets_) {
        if (socket.done) continue;
        polled.push_back({socket.fd, static_cast<short>(socket.connected ? POLLIN : POLLOUT), 0});
        owners.push_back(&socket);
      }
      ::poll(polled.data(), polled.size(), 100);
      for (std::size_t i = 0; i < polled.size(); ++i) {
        Socket& socket = *owners[i];
        if (!socket.connected && (polled[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
          int error = 0;
          socklen_t length = sizeof error;
          ::getsockopt(socket.fd, SOL_SOCKET, SO_ERROR, &error, &length);
          if (error == 0) {
            onConnected(socket);
          } else {
            socket.done = true;
            ++failed_;
          }
        } else if (socket.connected && (polled[i].revents & (POLLIN | POLLERR | POLLHUP))) {
          char drain[4096];
          ssize_t n = ::recv(socket.fd, drain, sizeof drain, 0);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            socket.done = true;  // The server hung up on it: what a defence does.
            ++closedByServer_;
          }
        }
      }
      if (Clock::now() >= nextTick) {
        for (auto& socket : sockets_)
          if (socket.kind == Kind::Slowloris && socket.connected && !socket.done) tickSlowloris(socket);
        nextTick += std::chrono::seconds(1);
      }
    }
    for (auto& socket : sockets_)
      if (socket.fd >= 0) ::close(socket.fd);
  }

  int port_;
  std::vector<Socket> sockets_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connected_{0};
  std::atomic<int> failed_{0};
  std::atomic<int> closedByServer_{0};
};

/// One legitimate webhook call from 127.0.0.1: its status, or 0 when it
/// was not answered within `seconds` (connect included).
struct CallOutcome {
  int status = 0;
  double seconds = 0;
  std::string error;
};

CallOutcome legitimateCall(int port, const std::string& path, double seconds) {
  CallOutcome outcome;
  auto start = Clock::now();
  try {
    RawConnection connection(port, "", seconds);
    std::string body = R"({"legitimate":true})";
    connection.send("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    double left = seconds - std::chrono::duration<double>(Clock::now() - start).count();
    RawExchange exchange = connection.read(left > 0 ? left : 0.01);
    if (!exchange.replies.empty()) outcome.status = exchange.replies[0].status;
    else outcome.error = exchange.closedByServer ? "closed without a reply" : "no reply in time";
  } catch (const std::exception& error) {
    outcome.error = error.what();
  }
  outcome.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return outcome;
}

}  // namespace

TEST_CASE("slowloris, silent and idle keep-alive connections from one address do not lock out other callers",
          "[attack][server]") {
  raiseDescriptorLimit(kSlowloris + kSilent + kIdleKeepAlive + 256);
  ServerFolders folders;
  ServerProcess server(folders.integrations.path(), folders.data.path());
  std::string url = webhookUrl(server, "render-status");
  std::string path = url.substr(url.find("/trigger/"));
  int baselineThreads = threadCount(server.pid());

  Attacker attacker(server.port(), kSlowloris, kSilent, kIdleKeepAlive);
  eventually([&] { return attacker.settled(); }, 10);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // Let the slowloris heads trickle.

  // While every attacker holds its connection: ten calls, stopping at the
  // first that is not answered (a locked-out caller would wait on each).
  std::vector<CallOutcome> calls;
  for (int i = 0; i < 10; ++i) {
    calls.push_back(legitimateCall(server.port(), path, 5));
    if (calls.back().status != 200) break;
  }
  int threadsUnderAttack = threadCount(server.pid());
  int attackersConnected = attacker.connected();
  int attackersRefused = attacker.failed();
  int attackersDropped = attacker.closedByServer();
  attacker.stop();

  INFO("attackers: " << attackersConnected << " connected, " << attackersRefused << " refused at connect, "
                     << attackersDropped << " closed by the server during the attack");
  INFO("threads: " << baselineThreads << " before, " << threadsUnderAttack << " under attack");
  for (std::size_t i = 0; i < calls.size(); ++i) {
    INFO("legitimate call " << i << ": status " << calls[i].status << " after " << calls[i].seconds << " s "
                            << calls[i].error);
    CHECK(calls[i].status == 200);
  }
  CHECK(calls.size() == 10);

  // Once the attackers are gone, the threads they cost are given back.
  // Bound: the idle server's own threads plus a small pool's worth.
  const int bound = baselineThreads + 32;
  int threadsAfter = 0;
  bool shrank = eventually([&] { return (threadsAfter = threadCount(server.pid())) <= bound; }, 20);
  INFO("threads 20 s after the attack: " << threadsAfter << " (bound " << bound << ")");
  CHECK(shrank);
  CHECK(legitimateCall(server.port(), path, 5).status == 200);
}
