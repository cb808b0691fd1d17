// The HTTP request and response the handlers see: plain values, no sockets.
// The front end (http_connection.cpp) fills an HttpRequest once the whole
// request has arrived and writes the HttpResponse a handler returns.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <plexus/value.hpp>

namespace plexus::core {

/// Header fields in the order received. Names keep their spelling (a reply
/// sends them as set); every lookup ignores case; duplicates are kept.
class HttpHeaders {
 public:
  using Field = std::pair<std::string, std::string>;

  /// Appends a field (a duplicate name is kept beside the first).
  void add(std::string name, std::string value);
  /// Replaces every field of this name with one.
  void set(const std::string& name, std::string value);
  void erase(std::string_view name);
  bool has(std::string_view name) const;
  /// The first field of this name, or `fallback`.
  std::string get(std::string_view name, const std::string& fallback = "") const;
  /// Every field of this name, in order.
  std::vector<std::string> all(std::string_view name) const;

  std::vector<Field>::const_iterator begin() const { return fields_.begin(); }
  std::vector<Field>::const_iterator end() const { return fields_.end(); }
  std::size_t size() const { return fields_.size(); }

 private:
  std::vector<Field> fields_;
};

/// ASCII case-insensitive equality (header names, the bearer scheme).
bool equalsIgnoringCase(std::string_view a, std::string_view b);

/// One complete request: the body has been read whole (spooled and mapped
/// when large, see request_body.hpp).
struct HttpRequest {
  std::string method;
  std::string target;        ///< As sent: path and query ("/trigger/abc?x=1").
  unsigned version = 11;     ///< 10 or 11.
  HttpHeaders headers;
  plexus::Binary body;
  std::string clientAddress; ///< The peer's IP address.
};

/// What a handler answers. The front end adds Content-Length, Date and
/// Connection; a HEAD request gets the headers without the body.
struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;                   ///< Used unless binaryBody is set.
  std::optional<plexus::Binary> binaryBody;  ///< Served from its storage (a mapped file stays mapped).
  bool close = false;                 ///< Close the connection after this reply.

  std::string_view bodyView() const { return binaryBody ? binaryBody->view() : std::string_view(body); }
};

/// The standard reason phrase of a status code ("See Other"), "Unknown" else.
std::string_view reasonPhrase(int status);

/// "HTTP/1.1 200 OK\r\n" + the response's headers + Content-Length, Date and
/// (when `close`, or keep-alive for an HTTP/1.0 caller) Connection + "\r\n".
/// Header names and values are stripped of CR and LF, so a value taken from
/// an integration cannot inject a header.
std::string serializeResponseHead(const HttpResponse& response, unsigned version, bool close);

}  // namespace plexus::core
