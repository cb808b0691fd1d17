// A closed-loop HTTP load client with keep-alive connections, for what wrk
// cannot do: follow a 303 on the same connection and time the whole call.
//
//   bench_load_client --url http://127.0.0.1:PORT/trigger/TOKEN [--connections 64]
//       [--duration 10] [--body JSON] [--header 'Name: value']... [--follow]
//       [--timeout 10] [--calls N]
//
// Each connection is one thread with one Poco HTTPClientSession. A call is
// POST url with the body; with --follow the reply must be 303 and the call
// goes on with GET Location (same connection), which must answer 200;
// without it the POST must answer 2xx. The latency of a call is from its
// first byte sent to its last byte read.
//
// Prints one line of JSON: calls, requests, seconds, callsPerSecond, p50Ms,
// p99Ms, maxMs, failures, timeouts and the first failure's description.
// Calls still in flight when the duration ends are not counted. With
// --calls the client stops once N calls were started in all (or at the
// duration): a burst of exactly N.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/NullStream.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  Poco::URI url;
  int connections = 64;
  double durationSeconds = 10;
  std::uint64_t calls = 0;  ///< Stop after this many calls in all; 0: no limit.
  int timeoutSeconds = 10;
  std::string body = R"({"renderId":51266,"status":"done"})";
  std::vector<std::pair<std::string, std::string>> headers;
  bool follow = false;
};

/// What one connection's thread measured. Owned by that thread until join.
struct ConnectionStats {
  std::vector<std::uint32_t> latenciesUs;
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
  std::uint64_t timeouts = 0;
  std::string firstFailure;
};

Options parseArgs(int argc, char** argv) {
  Options options;
  bool haveUrl = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--follow") {
      options.follow = true;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
    std::string value = argv[++i];
    if (flag == "--url") {
      options.url = Poco::URI(value);
      haveUrl = true;
    } else if (flag == "--connections") options.connections = std::stoi(value);
    else if (flag == "--duration") options.durationSeconds = std::stod(value);
    else if (flag == "--timeout") options.timeoutSeconds = std::stoi(value);
    else if (flag == "--calls") options.calls = std::stoull(value);
    else if (flag == "--body") options.body = value;
    else if (flag == "--header") {
      auto colon = value.find(':');
      if (colon == std::string::npos) throw std::invalid_argument("--header wants 'Name: value', got '" + value + "'");
      std::string name = value.substr(0, colon), text = value.substr(colon + 1);
      text.erase(0, text.find_first_not_of(' '));
      options.headers.emplace_back(name, text);
    } else {
      throw std::invalid_argument("unknown flag " + flag);
    }
  }
  if (!haveUrl) throw std::invalid_argument("--url is required");
  if (options.connections < 1) throw std::invalid_argument("--connections must be at least 1");
  return options;
}

/// Sends one request and reads the whole reply (so the connection can be
/// reused); returns the status and the Location header.
std::pair<int, std::string> exchange(Poco::Net::HTTPClientSession& session, Poco::Net::HTTPRequest& request,
                                     const std::string* body) {
  std::ostream& out = session.sendRequest(request);
  if (body) out << *body;
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  Poco::NullOutputStream sink;
  Poco::StreamCopier::copyStream(in, sink);
  return {response.getStatus(), response.get("Location", "")};
}

/// One call: POST (and with --follow, GET Location). Empty string when it
/// succeeded, else what went wrong.
std::string call(Poco::Net::HTTPClientSession& session, const Options& options, std::uint64_t& requests) {
  Poco::Net::HTTPRequest post(Poco::Net::HTTPRequest::HTTP_POST, options.url.getPathAndQuery(),
                              Poco::Net::HTTPMessage::HTTP_1_1);
  post.setContentType("application/json");
  post.setContentLength(static_cast<std::streamsize>(options.body.size()));
  post.setKeepAlive(true);
  for (const auto& [name, value] : options.headers) post.set(name, value);
  auto [status, location] = exchange(session, post, &options.body);
  ++requests;
  if (!options.follow) return status / 100 == 2 ? "" : "POST answered " + std::to_string(status);
  if (status != 303 || location.empty())
    return "POST answered " + std::to_string(status) + " (expected 303 with a Location)";
  Poco::Net::HTTPRequest get(Poco::Net::HTTPRequest::HTTP_GET, Poco::URI(location).getPathAndQuery(),
                             Poco::Net::HTTPMessage::HTTP_1_1);
  get.setKeepAlive(true);
  auto [resultStatus, ignored] = exchange(session, get, nullptr);
  ++requests;
  return resultStatus == 200 ? "" : "GET Location answered " + std::to_string(resultStatus);
}

/// Calls started so far, by every connection (for --calls).
std::atomic<std::uint64_t> callsStarted{0};

void runConnection(const Options& options, Clock::time_point deadline, ConnectionStats& stats) {
  Poco::Net::HTTPClientSession session(options.url.getHost(), options.url.getPort());
  session.setKeepAlive(true);
  session.setTimeout(Poco::Timespan(options.timeoutSeconds, 0));
  stats.latenciesUs.reserve(65536);
  while (Clock::now() < deadline) {
    if (options.calls && callsStarted.fetch_add(1) >= options.calls) break;
    Clock::time_point start = Clock::now();
    std::string failure;
    bool timedOut = false;
    try {
      failure = call(session, options, stats.requests);
    } catch (const Poco::TimeoutException& error) {
      failure = "timeout: " + error.displayText();
      timedOut = true;
    } catch (const Poco::Exception& error) {
      failure = error.displayText();
    }
    Clock::time_point end = Clock::now();
    if (end > deadline) break;  // In flight when the time ran out: not counted.
    if (failure.empty()) {
      stats.latenciesUs.push_back(static_cast<std::uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(end - start).count()));
      continue;
    }
    ++stats.failures;
    if (timedOut) ++stats.timeouts;
    if (stats.firstFailure.empty()) stats.firstFailure = failure;
    session.reset();  // A failed exchange may leave the connection mid-reply.
  }
}

double percentileMs(std::vector<std::uint32_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  std::size_t index = std::min(sorted.size() - 1, static_cast<std::size_t>(fraction * sorted.size()));
  return sorted[index] / 1000.0;
}

std::string jsonEscape(const std::string& text) {
  std::ostringstream out;
  for (char c : text) {
    if (c == '"' || c == '\\') out << '\\' << c;
    else if (static_cast<unsigned char>(c) < 0x20) out << ' ';
    else out << c;
  }
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parseArgs(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "bench_load_client: " << error.what() << "\n";
    return 2;
  }
  std::vector<ConnectionStats> stats(static_cast<std::size_t>(options.connections));
  std::vector<std::thread> threads;
  Clock::time_point start = Clock::now();
  Clock::time_point deadline =
      start + std::chrono::microseconds(static_cast<std::int64_t>(options.durationSeconds * 1e6));
  for (auto& connection : stats)
    threads.emplace_back([&options, deadline, &connection] { runConnection(options, deadline, connection); });
  for (auto& thread : threads) thread.join();
  double seconds = std::chrono::duration<double>((options.calls ? Clock::now() : deadline) - start).count();

  std::vector<std::uint32_t> all;
  std::uint64_t requests = 0, failures = 0, timeouts = 0;
  std::string firstFailure;
  for (auto& connection : stats) {
    all.insert(all.end(), connection.latenciesUs.begin(), connection.latenciesUs.end());
    requests += connection.requests;
    failures += connection.failures;
    timeouts += connection.timeouts;
    if (firstFailure.empty()) firstFailure = connection.firstFailure;
  }
  std::sort(all.begin(), all.end());
  std::cout << std::fixed << std::setprecision(3) << "{\"calls\": " << all.size()
            << ", \"requests\": " << requests << ", \"seconds\": " << seconds
            << ", \"callsPerSecond\": " << all.size() / seconds << ", \"p50Ms\": " << percentileMs(all, 0.50)
            << ", \"p99Ms\": " << percentileMs(all, 0.99)
            << ", \"maxMs\": " << (all.empty() ? 0.0 : all.back() / 1000.0) << ", \"failures\": " << failures
            << ", \"timeouts\": " << timeouts << ", \"firstFailure\": \"" << jsonEscape(firstFailure) << "\"}"
            << std::endl;
  return 0;
}
