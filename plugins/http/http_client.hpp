// The http component's side of an exchange: checking URLs, redacting them
// for messages, and following redirects, one Result::afterHttp per hop (the
// runtime sends each request without holding a thread).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <plexus/context.hpp>
#include <plexus/http.hpp>
#include <plexus/result.hpp>

namespace plexus::builtin {

/// Redirects followed before giving up.
constexpr int kMaxRedirects = 10;

/// Checks that `url` is an absolute http:// or https:// URL with a host.
/// Throws std::invalid_argument starting with "input 'url'" otherwise.
void checkUrl(const std::string& url);

/// `url` for messages and logs: scheme, host, port and path, without the
/// user info or query, which often hold credentials or tokens.
std::string redactedUrl(const std::string& url);

/// What the action makes of the final response (after redirects).
using FinalResponse = std::function<plexus::Result(const plexus::HttpResponse&, plexus::Context&)>;

/// Sends `request` (its timeout is the whole exchange's, redirects
/// included), following up to kMaxRedirects redirects (301/302/303/307/308;
/// 303, and 301/302 after a POST, continue as GET without the body, as
/// browsers do; Authorization, Proxy-Authorization and Cookie headers are
/// dropped when the scheme, host or port changes). A non-2xx status is a
/// response, not an error. Logs one info line per exchange
/// ("GET http://host/path -> 200 in 12 ms").
///
/// The step fails (std::runtime_error naming the method, the redacted URL
/// and the cause) on a timeout, the step's deadline, a cancellation, a
/// connection or TLS failure, too many redirects, or a body over the limit.
plexus::Result sendFollowingRedirects(plexus::HttpRequest request, FinalResponse then);

}  // namespace plexus::builtin
