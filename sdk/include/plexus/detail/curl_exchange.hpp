// One plexus::HttpRequest as a libcurl easy handle. Not for components:
// the runtime's event loop (core/io/http_loop.cpp) and plexus::testing
// both send requests through this, so that a component's tests see the
// exchange production makes.
#pragma once

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "plexus/http.hpp"

namespace plexus::detail {

/// curl_global_init, once per process, before the first handle (it is not
/// thread-safe to call concurrently in the libcurl versions Debian ships).
inline void initCurlOnce() {
  static const CURLcode initialised = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)initialised;
}

/// A configured easy handle for one request, and the response it collects.
/// Used by one thread at a time; not copyable (libcurl points at its members).
class CurlExchange {
 public:
  /// `allowed`: how long the exchange may take (the shorter of the request's
  /// timeout and what is left before the step's deadline); `deadlineFirst`:
  /// that bound is the deadline, so running out of it is HttpFailure::Deadline.
  CurlExchange(HttpRequest request, std::chrono::milliseconds allowed, bool deadlineFirst)
      : request_(std::move(request)), allowed_(std::max<long long>(1, allowed.count())), deadlineFirst_(deadlineFirst),
        started_(std::chrono::steady_clock::now()) {
    request_.maxResponseBytes = std::min(request_.maxResponseBytes, kMaxHttpResponseBytes);  // no component lifts it
    initCurlOnce();
    handle_.reset(curl_easy_init());
    if (!handle_) {
      setupError_ = "libcurl could not create a handle (out of memory?)";
      return;
    }
    configure(allowed_.count());
  }
  CurlExchange(const CurlExchange&) = delete;
  CurlExchange& operator=(const CurlExchange&) = delete;
  ~CurlExchange() {
    handle_.reset();  // libcurl may use the header list until the handle is cleaned up
    curl_slist_free_all(headerList_);
  }

  /// The easy handle, or nullptr when it could not be set up (then call
  /// setupFailure() instead of sending).
  CURL* handle() const { return setupError_.empty() ? handle_.get() : nullptr; }
  /// Why the handle could not be set up, as a response.
  HttpResponse setupFailure() { return fail(HttpFailure::Other, setupError_); }

  /// For an exchange that waited (for a free connection) before it is sent:
  /// what is left of its time becomes libcurl's timeout. False when none is
  /// left; then send nothing and answer timedOutWaiting().
  bool startNow() {
    const long long left = allowed_.count() - elapsed().count();
    if (left <= 0) return false;
    curl_easy_setopt(handle_.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(left));
    curl_easy_setopt(handle_.get(), CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(left));
    return true;
  }
  /// The longest body this exchange reads.
  std::size_t maxResponseBytes() const { return request_.maxResponseBytes; }
  /// False once the exchange's time is used up.
  bool hasTimeLeft() const { return elapsed() < allowed_; }
  /// The response for an exchange whose time ran out before it was sent.
  HttpResponse timedOutWaiting() {
    return fail(deadlineFirst_ ? HttpFailure::Deadline : HttpFailure::TimedOut,
                "no connection was free within the time allowed (the runtime's outbound connection limit)");
  }

  /// The response, once libcurl ended the transfer with `code`.
  HttpResponse finish(CURLcode code) {
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(handle_.get(), CURLINFO_RESPONSE_CODE, &status);
      response_.status = static_cast<int>(status);
      response_.elapsed = elapsed();
      return std::move(response_);
    }
    if (tooLarge_ || code == CURLE_FILESIZE_EXCEEDED)
      return fail(HttpFailure::TooLarge, "the response body is larger than the limit of " +
                                             std::to_string(request_.maxResponseBytes) + " bytes");
    const std::string detail = errorBuffer_[0] != '\0' ? std::string(errorBuffer_) : curl_easy_strerror(code);
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        return fail(deadlineFirst_ ? HttpFailure::Deadline : HttpFailure::TimedOut, detail);
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY: return fail(HttpFailure::Resolve, detail);
      case CURLE_COULDNT_CONNECT: {
        long osError = 0;
        curl_easy_getinfo(handle_.get(), CURLINFO_OS_ERRNO, &osError);
        return fail(HttpFailure::Connect, osError != 0 ? std::string(std::strerror(static_cast<int>(osError))) : detail);
      }
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CIPHER:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_ISSUER_ERROR:
      case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      case CURLE_SSL_INVALIDCERTSTATUS: return fail(HttpFailure::Tls, detail);
      default: return fail(HttpFailure::Other, detail);
    }
  }

  /// A response without an answer, for `failure` (e.g. Cancelled).
  HttpResponse fail(HttpFailure failure, std::string error) {
    HttpResponse response;
    response.failure = failure;
    response.error = std::move(error);
    response.elapsed = elapsed();
    return response;
  }

 private:
  struct EasyCleanup {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
  };

  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
  }

  static bool namedLike(const std::string& name, const char* wanted) {
    return name.size() == std::strlen(wanted) &&
           std::equal(name.begin(), name.end(), wanted, [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
           });
  }

  void configure(long long allowedMs) {
    CURL* h = handle_.get();
    curl_easy_setopt(h, CURLOPT_URL, request_.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // worker threads: no SIGALRM for DNS timeouts
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(allowedMs));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(allowedMs));
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errorBuffer_);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request_.maxResponseBytes));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &CurlExchange::onBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &CurlExchange::onHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, this);
    // OpenSSL's own convention for another CA bundle; libcurl otherwise
    // reads the system bundle it was built with.
    if (const char* caFile = std::getenv("SSL_CERT_FILE"); caFile && *caFile)
      curl_easy_setopt(h, CURLOPT_CAINFO, caFile);

    const bool hasBody = request_.body.has_value();
    if (request_.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (hasBody) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request_.body->size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request_.body->data());
      if (request_.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request_.method.c_str());
    } else if (request_.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request_.method.c_str());
    }

    bool expectGiven = false;
    bool contentTypeGiven = false;
    for (const auto& [name, value] : request_.headers) {
      // This side frames the body: a given length or coding would lie.
      if (namedLike(name, "Content-Length") || namedLike(name, "Transfer-Encoding")) continue;
      expectGiven = expectGiven || namedLike(name, "Expect");
      contentTypeGiven = contentTypeGiven || namedLike(name, "Content-Type");
      // "Name;" is libcurl's way to send a header with an empty value.
      append(value.empty() ? name + ";" : name + ": " + value);
    }
    if (!expectGiven) append("Expect:");  // no 100-continue round trip for large bodies
    if (hasBody && !contentTypeGiven) append("Content-Type:");  // not libcurl's form-urlencoded default
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headerList_);
  }

  void append(const std::string& line) {
    curl_slist* grown = curl_slist_append(headerList_, line.c_str());
    if (!grown) {
      setupError_ = "out of memory while building the request headers";
      return;
    }
    headerList_ = grown;
  }

  static size_t onBody(char* data, size_t size, size_t count, void* self) {
    auto* exchange = static_cast<CurlExchange*>(self);
    const size_t bytes = size * count;
    std::string& body = exchange->response_.body;
    if (body.size() + bytes > exchange->request_.maxResponseBytes) {
      exchange->tooLarge_ = true;
      return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
    }
    body.append(data, bytes);
    return bytes;
  }

  /// One header line ("Name: value\r\n"), a status line, or the blank line
  /// ending a header block. A status line starts a new block: the headers
  /// of a 100 Continue are not the final response's.
  static size_t onHeader(char* data, size_t size, size_t count, void* self) {
    auto* exchange = static_cast<CurlExchange*>(self);
    const size_t bytes = size * count;
    std::string line(data, bytes);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    HttpHeaders& headers = exchange->response_.headers;
    if (line.rfind("HTTP/", 0) == 0) {
      headers.clear();
      return bytes;
    }
    if (line.empty()) return bytes;
    if ((line[0] == ' ' || line[0] == '\t') && !headers.empty()) {  // obsolete line folding
      headers.back().second += " " + trimmed(line);
      return bytes;
    }
    const size_t colon = line.find(':');
    if (colon == std::string::npos) return bytes;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    headers.emplace_back(std::move(name), trimmed(line.substr(colon + 1)));
    return bytes;
  }

  static std::string trimmed(const std::string& text) {
    const size_t first = text.find_first_not_of(" \t");
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
  }

  HttpRequest request_;
  const std::chrono::milliseconds allowed_;
  const bool deadlineFirst_;
  const std::chrono::steady_clock::time_point started_;
  std::unique_ptr<CURL, EasyCleanup> handle_;
  curl_slist* headerList_ = nullptr;
  char errorBuffer_[CURL_ERROR_SIZE] = {};
  std::string setupError_;
  HttpResponse response_;
  bool tooLarge_ = false;
};

/// How long an exchange for `request` may take when the step's deadline is
/// `left` away, and whether that bound is the deadline.
inline std::pair<std::chrono::milliseconds, bool> allowedTime(const HttpRequest& request,
                                                             std::chrono::milliseconds left) {
  if (left < request.timeout) return {std::max(left, std::chrono::milliseconds(1)), true};
  return {request.timeout, false};
}

}  // namespace plexus::detail
