// plexus::HttpRequest and plexus::HttpResponse: one HTTP exchange that the
// runtime makes for an action, without a thread waiting for the answer.
//
// An action that calls an HTTP API returns Result::afterHttp(request, then):
// the runtime sends `request` from its event loop (libcurl's multi
// interface), frees the worker at once, and calls `then` with the response
// on a worker when it has arrived. `then` returns the step's result, which
// may be another Result::afterHttp (a redirect, the next page).
//
//   plexus::Result fetch(const plexus::Inputs& in, plexus::Context&) {
//     plexus::HttpRequest request;
//     request.url = in.string("url");
//     return plexus::Result::afterHttp(request, [](plexus::HttpResponse response, plexus::Context&) {
//       if (response.failed()) throw std::runtime_error("GET failed: " + response.error);
//       return plexus::Result(plexus::Json{{"status", response.status}});
//     });
//   }
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace plexus {

/// Header name/value pairs, in order; a name may repeat.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// The largest response body any exchange may read: 500 MB, the server's
/// own response limit. A request may ask for less (maxResponseBytes).
constexpr std::size_t kMaxHttpResponseBytes = 500u * 1024 * 1024;

/// One request. The runtime follows no redirect (a 3xx is a response) and
/// adds nothing but the framing (Content-Length) and, for user info in the
/// URL (http://user:password@host/), Basic authentication.
struct HttpRequest {
  std::string method = "GET";       ///< An HTTP method token, upper case.
  std::string url;                  ///< Absolute http:// or https:// URL.
  HttpHeaders headers;              ///< Sent as given; Content-Length is the runtime's.
  std::optional<std::string> body;  ///< Bytes to send, if any.
  /// The whole exchange must end within this. The runtime also never waits
  /// past the step's Context::deadline(), and stops at a cancellation.
  std::chrono::milliseconds timeout{30000};
  /// A longer body ends the exchange with HttpFailure::TooLarge.
  std::size_t maxResponseBytes = kMaxHttpResponseBytes;
};

/// Why an exchange has no response.
enum class HttpFailure {
  None,       ///< A response arrived (any status, 4xx and 5xx included).
  TimedOut,   ///< HttpRequest::timeout passed.
  Deadline,   ///< The step's deadline came first (step or execution timeoutMs).
  Cancelled,  ///< The execution was cancelled, or the server is stopping.
  Resolve,    ///< The host name did not resolve.
  Connect,    ///< No connection (refused, unreachable).
  Tls,        ///< The TLS handshake or the certificate check failed.
  TooLarge,   ///< The body was longer than maxResponseBytes.
  Other,      ///< Anything else (the connection broke, a malformed answer...).
};

/// The answer to one HttpRequest, or why there is none.
struct HttpResponse {
  int status = 0;        ///< The status code; 0 when failed().
  HttpHeaders headers;   ///< Names lower-cased, in the order received.
  std::string body;      ///< The whole body.
  HttpFailure failure = HttpFailure::None;
  std::string error;     ///< The cause when failed(), e.g. "Connection refused".
  std::chrono::milliseconds elapsed{0};  ///< From sending to the end of the exchange.

  bool failed() const { return failure != HttpFailure::None; }
  /// The first header named `lowerName` (lower case), or "".
  std::string header(const std::string& lowerName) const {
    for (const auto& [name, value] : headers)
      if (name == lowerName) return value;
    return "";
  }
};

}  // namespace plexus
