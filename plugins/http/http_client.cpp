#include "http_client.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/URI.h>

namespace plexus::builtin {
namespace {

using Clock = std::chrono::steady_clock;

Poco::URI parsedUrl(const std::string& url) {
  try {
    return Poco::URI(url);
  } catch (const Poco::SyntaxException& e) {
    throw std::invalid_argument("input 'url' is not a valid URL: " + e.displayText());
  }
}

bool isHttpScheme(const Poco::URI& uri) { return uri.getScheme() == "http" || uri.getScheme() == "https"; }

/// "GET http://host/path" for messages.
std::string describe(const std::string& method, const std::string& url) { return method + " " + redactedUrl(url); }

/// The end of a failed exchange's message, after "GET http://host/path".
std::string failureText(const plexus::HttpResponse& response, std::chrono::milliseconds timeout) {
  switch (response.failure) {
    case plexus::HttpFailure::TimedOut:
      return "timed out after " + std::to_string(timeout.count()) + " ms (raise input 'timeoutMs' for slow servers)";
    case plexus::HttpFailure::Deadline: return "stopped at the execution's deadline";
    case plexus::HttpFailure::Cancelled: return "stopped: " + response.error;
    case plexus::HttpFailure::Resolve: return "failed: " + response.error + " (check the host name in the URL)";
    case plexus::HttpFailure::Connect:
      return "failed: " + response.error + " (is the server running, and are the host and port right?)";
    case plexus::HttpFailure::Tls:
      return "failed: " + response.error +
             " (the TLS connection failed: does the server speak https on this port, with a certificate trusted by "
             "this machine and valid for this host?)";
    case plexus::HttpFailure::TooLarge:
    case plexus::HttpFailure::Other:
    case plexus::HttpFailure::None: break;
  }
  return "failed: " + response.error;
}

/// The URL to follow for a redirect response, or std::nullopt.
std::optional<std::string> redirectLocation(const plexus::HttpResponse& response) {
  static const int kRedirects[] = {301, 302, 303, 307, 308};
  if (std::find(std::begin(kRedirects), std::end(kRedirects), response.status) == std::end(kRedirects))
    return std::nullopt;
  std::string location = response.header("location");
  if (location.empty()) return std::nullopt;  // a redirect status without Location is the final answer
  return location;
}

void eraseHeaders(plexus::HttpHeaders& headers, std::initializer_list<const char*> names) {
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [&](const auto& header) {
                                 for (const char* name : names)
                                   if (Poco::icompare(header.first, name) == 0) return true;
                                 return false;
                               }),
                headers.end());
}

/// One redirect chain: sends a hop, and is the continuation that takes its
/// answer (follows, fails, or hands the final response on). Copied into
/// each hop's Result::afterHttp, so it owns everything it uses.
class RedirectChain {
 public:
  RedirectChain(plexus::HttpRequest request, FinalResponse then)
      : hop_(std::move(request)), firstMethod_(hop_.method), firstUrl_(hop_.url), total_(hop_.timeout),
        started_(Clock::now()), then_(std::move(then)) {}

  /// This hop's request, with what is left of the whole exchange's time.
  plexus::Result send() const {
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
    if (spent >= total_) {
      plexus::HttpResponse expired;
      expired.failure = plexus::HttpFailure::TimedOut;
      throw std::runtime_error(describe(hop_.method, hop_.url) + " " + failureText(expired, total_));
    }
    plexus::HttpRequest request = hop_;
    request.timeout = total_ - spent;
    return plexus::Result::afterHttp(std::move(request), *this);
  }

  plexus::Result operator()(plexus::HttpResponse response, plexus::Context& context) {
    const std::string where = describe(hop_.method, hop_.url);
    if (response.failed()) throw std::runtime_error(where + " " + failureText(response, total_));
    context.log(plexus::LogLevel::Info, where + " -> " + std::to_string(response.status) + " in " +
                                            std::to_string(response.elapsed.count()) + " ms");
    const std::optional<std::string> location = redirectLocation(response);
    if (!location) return then_(response, context);
    if (redirects_ == kMaxRedirects)
      throw std::runtime_error(describe(firstMethod_, firstUrl_) + " was redirected more than " +
                               std::to_string(kMaxRedirects) + " times; the last Location was '" +
                               redactedUrl(*location) + "'");
    follow(response.status, *location);
    ++redirects_;
    return send();
  }

 private:
  /// Turns the hop into the request for the redirect to `location`.
  void follow(int status, const std::string& location) {
    const Poco::URI from = parsedUrl(hop_.url);
    Poco::URI next = from;
    next.resolve(location);
    if (!isHttpScheme(next))
      throw std::runtime_error(describe(hop_.method, hop_.url) + " redirected to '" + redactedUrl(next.toString()) +
                               "', which is not an http:// or https:// URL");
    // Credentials meant for one origin (scheme, host and port) must not reach
    // another, nor go in clear after an https:// -> http:// redirect.
    if (next.getScheme() != from.getScheme() || next.getHost() != from.getHost() || next.getPort() != from.getPort())
      eraseHeaders(hop_.headers, {"Authorization", "Proxy-Authorization", "Cookie"});
    const bool becomesGet = status == 303 || ((status == 301 || status == 302) && hop_.method == "POST");
    if (becomesGet && hop_.method != "HEAD") {
      hop_.method = "GET";
      hop_.body.reset();
      eraseHeaders(hop_.headers, {"Content-Type"});
    }
    hop_.url = next.toString();
  }

  plexus::HttpRequest hop_;
  std::string firstMethod_;
  std::string firstUrl_;
  std::chrono::milliseconds total_;
  Clock::time_point started_;
  int redirects_ = 0;
  FinalResponse then_;
};

}  // namespace

void checkUrl(const std::string& url) {
  const Poco::URI uri = parsedUrl(url);
  if (!isHttpScheme(uri))
    throw std::invalid_argument("input 'url' must start with http:// or https://, got '" + redactedUrl(url) + "'");
  if (uri.getHost().empty()) throw std::invalid_argument("input 'url' has no host: '" + redactedUrl(url) + "'");
}

std::string redactedUrl(const std::string& url) {
  try {
    Poco::URI uri(url);
    // Without a host Poco rewrites "http:///x" as "http:/x"; show what was written.
    if (uri.getHost().empty()) return url.substr(0, url.find_first_of("?#"));
    uri.setUserInfo("");
    uri.setQuery("");
    uri.setFragment("");
    return uri.toString();
  } catch (const Poco::SyntaxException&) {
    return url.substr(0, url.find_first_of("?#"));  // best effort, for messages only
  }
}

plexus::Result sendFollowingRedirects(plexus::HttpRequest request, FinalResponse then) {
  checkUrl(request.url);
  return RedirectChain(std::move(request), std::move(then)).send();
}

}  // namespace plexus::builtin
