#include "http_client.hpp"

#include <algorithm>
#include <memory>
#include <ostream>
#include <stdexcept>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/String.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#if PLEXUS_HTTP_HAVE_SSL
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLException.h>
#endif

namespace plexus::builtin {
namespace {

using Clock = std::chrono::steady_clock;
using Poco::Net::HTTPClientSession;

/// How often a wait for the server's answer checks for cancellation.
constexpr auto kPollSlice = std::chrono::milliseconds(50);
constexpr std::size_t kReadChunk = 64 * 1024;

/// The end of the time an exchange may take, and how to say it ran out.
struct Limit {
  Clock::time_point until;
  std::string reason;  ///< Completes "GET http://x/y ..." when the limit is hit.
};

/// The request cannot go on (time ran out, run cancelled); what() completes
/// "GET http://x/y ...".
struct Stopped : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Limit limitFor(const HttpRequest& request, const plexus::Context& context) {
  const auto byTimeout = Clock::now() + request.timeout;
  if (context.deadline() < byTimeout) return {context.deadline(), "stopped at the execution's deadline"};
  return {byTimeout, "timed out after " + std::to_string(request.timeout.count()) +
                         " ms (raise input 'timeoutMs' for slow servers)"};
}

/// Time left before `limit`, for Poco's socket timeouts; throws Stopped when
/// none is left.
Poco::Timespan remaining(const Limit& limit) {
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(limit.until - Clock::now());
  if (left.count() <= 0) throw Stopped(limit.reason);
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(left.count()));
}

void throwIfCancelled(const plexus::Context& context) {
  if (context.cancelled()) throw Stopped("stopped: the execution was cancelled");
}

Poco::URI parsedUrl(const std::string& url) {
  try {
    return Poco::URI(url);
  } catch (const Poco::SyntaxException& e) {
    throw std::invalid_argument("input 'url' is not a valid URL: " + e.displayText());
  }
}

bool isHttpScheme(const Poco::URI& uri) { return uri.getScheme() == "http" || uri.getScheme() == "https"; }

std::string describe(const std::string& method, const Poco::URI& uri) {
  return method + " " + redactedUrl(uri.toString());
}

#if PLEXUS_HTTP_HAVE_SSL
/// One TLS client context for every request: building one loads the
/// system's CA certificates, which is too slow to repeat per request.
/// OpenSSL contexts may be shared between threads; the function-local
/// static is initialised once, thread-safely.
Poco::Net::Context::Ptr tlsContext() {
  static const Poco::Net::Context::Ptr context = [] {
    Poco::Net::Context::Params params;
    params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;  // verify the server's chain
    params.loadDefaultCAs = true;
    Poco::Net::Context::Ptr made = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    made->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    return made;
  }();
  return context;
}
#endif

std::unique_ptr<HTTPClientSession> openSession(const Poco::URI& uri) {
  if (uri.getScheme() == "https") {
#if PLEXUS_HTTP_HAVE_SSL
    return std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), tlsContext());
#else
    throw std::invalid_argument("https:// is not supported by this build of the http component");
#endif
  }
  return std::make_unique<HTTPClientSession>(uri.getHost(), uri.getPort());
}

/// Poco keeps the exception a socket call threw inside a stream read or
/// write (the stream itself only turns bad); rethrows it so the cause
/// reaches the user.
[[noreturn]] void rethrowStreamFailure(const HTTPClientSession& session, const char* during) {
  if (const Poco::Exception* cause = session.networkException()) cause->rethrow();
  throw Poco::Net::NetException(std::string("the connection failed while ") + during);
}

Poco::Net::HTTPRequest buildRequest(const Poco::URI& uri, const std::string& method, const HeaderList& headers,
                                    const std::optional<std::string>& body, const std::string& bodyContentType) {
  const std::string target = uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery();
  Poco::Net::HTTPRequest request(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : headers) request.add(name, value);
  // This side frames the body; a user-given length or encoding would lie.
  request.erase(Poco::Net::HTTPMessage::CONTENT_LENGTH);
  request.erase(Poco::Net::HTTPMessage::TRANSFER_ENCODING);
  if (body) {
    request.setContentLength64(static_cast<Poco::Int64>(body->size()));
    if (!request.has(Poco::Net::HTTPMessage::CONTENT_TYPE)) request.setContentType(bodyContentType);
  }
  if (!request.has("User-Agent")) request.set("User-Agent", "Plexus-http/1.0.0");
  if (!uri.getUserInfo().empty() && !request.hasCredentials()) {
    // http://user:password@host/ means Basic authentication, as in curl.
    const std::string& userInfo = uri.getUserInfo();
    const std::size_t colon = userInfo.find(':');
    Poco::Net::HTTPBasicCredentials(userInfo.substr(0, colon),
                                    colon == std::string::npos ? "" : userInfo.substr(colon + 1))
        .authenticate(request);
  }
  return request;
}

/// Waits until the server starts answering, checking for cancellation
/// between short polls so a slow server does not pin a cancelled run.
void waitForAnswer(HTTPClientSession& session, const Limit& limit, const plexus::Context& context) {
  const Poco::Timespan slice(std::chrono::duration_cast<std::chrono::microseconds>(kPollSlice).count());
  for (;;) {
    throwIfCancelled(context);
    const Poco::Timespan wait = std::min(remaining(limit), slice);
    if (session.socket().poll(wait, Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR)) return;
  }
}

std::string readBody(std::istream& in, HTTPClientSession& session, const Limit& limit,
                     const plexus::Context& context) {
  std::string body;
  std::string chunk(kReadChunk, '\0');
  for (;;) {
    throwIfCancelled(context);
    session.socket().setReceiveTimeout(remaining(limit));  // per read, so the total stays bounded
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (in.bad()) rethrowStreamFailure(session, "reading the response body");
    body.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    if (body.size() > kMaxResponseBytes)
      throw Poco::Net::MessageException("the response body is larger than the limit of " +
                                        std::to_string(kMaxResponseBytes / (1024 * 1024)) + " MB");
    if (in.eof()) return body;
  }
}

HeaderList responseHeaders(const Poco::Net::HTTPResponse& response) {
  HeaderList headers;
  for (const auto& [name, value] : response) headers.emplace_back(Poco::toLower(name), value);
  return headers;
}

/// One request and its response, on a fresh connection.
HttpResponse exchange(const Poco::URI& uri, const std::string& method, const HeaderList& headers,
                      const std::optional<std::string>& body, const std::string& bodyContentType,
                      const Limit& limit, const plexus::Context& context) {
  throwIfCancelled(context);
  std::unique_ptr<HTTPClientSession> session = openSession(uri);
  session->setTimeout(remaining(limit));  // connect, send and receive
  Poco::Net::HTTPRequest request = buildRequest(uri, method, headers, body, bodyContentType);
  std::ostream& out = session->sendRequest(request);
  if (body) out.write(body->data(), static_cast<std::streamsize>(body->size()));
  out.flush();  // Poco buffers the request; the server sees nothing until this
  if (out.bad()) rethrowStreamFailure(*session, "sending the request body");
  waitForAnswer(*session, limit, context);

  session->socket().setReceiveTimeout(remaining(limit));
  Poco::Net::HTTPResponse answer;
  std::istream& in = session->receiveResponse(answer);
  HttpResponse response;
  response.status = static_cast<int>(answer.getStatus());
  response.headers = responseHeaders(answer);
  response.contentType = answer.get(Poco::Net::HTTPMessage::CONTENT_TYPE, "");
  response.body = readBody(in, *session, limit, context);
  return response;
}

/// A hint for the Poco failures users most often meet.
std::string hintFor(const Poco::Exception& e) {
  if (dynamic_cast<const Poco::Net::ConnectionRefusedException*>(&e))
    return " (is the server running, and are the host and port right?)";
  if (dynamic_cast<const Poco::Net::DNSException*>(&e)) return " (check the host name in the URL)";
#if PLEXUS_HTTP_HAVE_SSL
  if (dynamic_cast<const Poco::Net::SSLException*>(&e))
    return " (the TLS connection failed: does the server speak https on this port, with a certificate "
           "trusted by this machine and valid for this host?)";
#endif
  return "";
}

/// The URL to follow for a redirect response, or std::nullopt.
std::optional<std::string> redirectLocation(const HttpResponse& response) {
  static const int kRedirects[] = {301, 302, 303, 307, 308};
  if (std::find(std::begin(kRedirects), std::end(kRedirects), response.status) == std::end(kRedirects))
    return std::nullopt;
  for (const auto& [name, value] : response.headers)
    if (name == "location") return value;
  return std::nullopt;  // a redirect status without Location is the final answer
}

/// The state that changes from one hop of a redirect chain to the next.
struct Hop {
  Poco::URI uri;
  std::string method;
  HeaderList headers;
  std::optional<std::string> body;
};

/// Turns `hop` into the request for the redirect to `location`.
void follow(Hop& hop, int status, const std::string& location) {
  Poco::URI next = hop.uri;
  next.resolve(location);
  if (!isHttpScheme(next))
    throw std::runtime_error(describe(hop.method, hop.uri) + " redirected to '" + redactedUrl(next.toString()) +
                             "', which is not an http:// or https:// URL");
  if (next.getHost() != hop.uri.getHost()) {
    // Credentials meant for one host must not leak to another.
    hop.headers.erase(std::remove_if(hop.headers.begin(), hop.headers.end(),
                                     [](const auto& header) {
                                       const std::string name = Poco::toLower(header.first);
                                       return name == "authorization" || name == "cookie";
                                     }),
                      hop.headers.end());
  }
  const bool becomesGet = status == 303 || ((status == 301 || status == 302) && hop.method == "POST");
  if (becomesGet && hop.method != "HEAD") {
    hop.method = "GET";
    hop.body.reset();
    hop.headers.erase(std::remove_if(hop.headers.begin(), hop.headers.end(),
                                     [](const auto& header) { return Poco::icompare(header.first, "Content-Type") == 0; }),
                      hop.headers.end());
  }
  hop.uri = next;
}

long long msSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

}  // namespace

bool httpsSupported() {
#if PLEXUS_HTTP_HAVE_SSL
  return true;
#else
  return false;
#endif
}

void checkUrl(const std::string& url) {
  const Poco::URI uri = parsedUrl(url);
  if (!isHttpScheme(uri))
    throw std::invalid_argument("input 'url' must start with http:// or https://, got '" + redactedUrl(url) + "'");
  if (uri.getHost().empty()) throw std::invalid_argument("input 'url' has no host: '" + redactedUrl(url) + "'");
  if (uri.getScheme() == "https" && !httpsSupported())
    throw std::invalid_argument(
        "input 'url': https:// is not supported yet by this build of the http component (it was built "
        "without Poco NetSSL); use an http:// URL");
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

HttpResponse sendHttpRequest(const HttpRequest& request, plexus::Context& context) {
  checkUrl(request.url);
  const Limit limit = limitFor(request, context);
  Hop hop{parsedUrl(request.url), request.method, request.headers, request.body};
  for (int redirects = 0;; ++redirects) {
    const auto started = Clock::now();
    HttpResponse response;
    try {
      response = exchange(hop.uri, hop.method, hop.headers, hop.body, request.bodyContentType, limit, context);
    } catch (const Stopped& e) {
      throw std::runtime_error(describe(hop.method, hop.uri) + " " + e.what());
    } catch (const Poco::TimeoutException&) {
      throw std::runtime_error(describe(hop.method, hop.uri) + " " + limit.reason);
    } catch (const Poco::Exception& e) {
      throw std::runtime_error(describe(hop.method, hop.uri) + " failed: " + e.displayText() + hintFor(e));
    }
    context.log(plexus::LogLevel::Info, describe(hop.method, hop.uri) + " -> " + std::to_string(response.status) +
                                            " in " + std::to_string(msSince(started)) + " ms");
    const std::optional<std::string> location = redirectLocation(response);
    if (!location) return response;
    if (redirects == kMaxRedirects)
      throw std::runtime_error(describe(request.method, parsedUrl(request.url)) + " was redirected more than " +
                               std::to_string(kMaxRedirects) + " times; the last Location was '" +
                               redactedUrl(*location) + "'");
    follow(hop, response.status, *location);
  }
}

}  // namespace plexus::builtin
