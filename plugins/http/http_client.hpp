// One HTTP(S) exchange for the http component, on Poco::Net, bounded by a
// time limit and the execution's cancellation.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <plexus/context.hpp>

namespace plexus::builtin {

/// Header name/value pairs, in order; a name may repeat.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// A request as the http component builds it from its inputs.
struct HttpRequest {
  std::string method = "GET";       ///< Upper case.
  std::string url;                  ///< Absolute http:// or https:// URL (see checkUrl).
  HeaderList headers;               ///< Names and values already checked.
  std::optional<std::string> body;  ///< Bytes to send, if any.
  std::string bodyContentType;      ///< Sent as Content-Type unless `headers` sets one.
  /// The whole exchange, redirects included, must end within this.
  std::chrono::milliseconds timeout{30000};
};

/// The final response, after redirects.
struct HttpResponse {
  int status = 0;
  HeaderList headers;       ///< Names lower-cased, in the order received.
  std::string body;         ///< The whole body (at most kMaxResponseBytes).
  std::string contentType;  ///< The Content-Type header, "" when absent.
};

/// Responses larger than this fail the request instead of filling memory.
/// Matches the server's default response limit (CONTRACT §1).
constexpr std::size_t kMaxResponseBytes = 500u * 1024 * 1024;
/// Redirects followed before giving up.
constexpr int kMaxRedirects = 10;

/// True when this build can make https:// requests.
bool httpsSupported();

/// Checks that `url` is an absolute http:// or https:// URL with a host.
/// Throws std::invalid_argument starting with "input 'url'" otherwise, or
/// when https:// is not supported by this build.
void checkUrl(const std::string& url);

/// `url` for messages and logs: scheme, host, port and path, without the
/// user info or query, which often hold credentials or tokens.
std::string redactedUrl(const std::string& url);

/// Sends `request` and reads the whole response, following up to
/// kMaxRedirects redirects (301/302/303/307/308; 303, and 301/302 after a
/// POST, continue as GET without the body, as browsers do; Authorization
/// and Cookie headers are dropped when the host changes). A non-2xx status
/// is a response, not an error.
///
/// Never waits past min(now + request.timeout, context.deadline()): that
/// bound is applied to connecting, sending and every receive (resolving the
/// host name is not bounded: Poco resolves synchronously). While waiting
/// for the server to answer it checks context.cancelled() every 50 ms.
/// Logs one info line per exchange ("GET http://host/path -> 200 in 12 ms").
///
/// Throws std::runtime_error naming the method, the redacted URL and the
/// cause (timeout, deadline, cancellation, connection or TLS failure, too
/// many redirects, a body over kMaxResponseBytes).
HttpResponse sendHttpRequest(const HttpRequest& request, plexus::Context& context);

}  // namespace plexus::builtin
