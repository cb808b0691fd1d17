// Test support: a blocking TCP client that sends hand-crafted bytes and
// reads HTTP replies with deadlines, for the conformance and attack tests.
// Unlike Poco's client it never fixes up what it sends: malformed framing
// is the point.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace plexus::testing_support {

/// One HTTP response as read off the wire.
struct RawReply {
  int status = 0;
  std::string reason;
  std::map<std::string, std::string> headers;  ///< Lower-cased names, last one wins.
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

/// What came back within a deadline.
struct RawExchange {
  std::vector<RawReply> replies;  ///< Every complete response, in order.
  std::string unparsed;           ///< Bytes after the last complete response.
  bool closedByServer = false;    ///< The server closed (EOF or reset) before the deadline.
  bool timedOut = false;          ///< The deadline passed with the connection still open.
};

class RawConnection {
 public:
  /// Connects to 127.0.0.1:port. With `sourceAddress` (e.g. "127.0.0.2")
  /// the socket is bound to it first, so the server sees another client.
  /// Throws std::runtime_error when the connection cannot be made within
  /// `connectSeconds`.
  explicit RawConnection(int port, const std::string& sourceAddress = "", double connectSeconds = 5);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  /// Sends all of `bytes`; false when the server has already closed or reset.
  bool send(std::string_view bytes);
  /// shutdown(SHUT_WR): the server reads EOF after what was sent.
  void shutdownWrite();

  /// Reads until `count` complete responses arrived, the server closed, or
  /// `seconds` passed. A `100 Continue` interim response counts as a reply.
  RawExchange read(double seconds, std::size_t count = 1);
  /// Reads everything until the server closes or no byte arrives for
  /// `quietSeconds` (then timedOut is true): shows whether bytes left on the
  /// connection were taken for a second request.
  RawExchange readUntilQuiet(double quietSeconds);

  /// After a read: whether the server closes the connection within
  /// `seconds` (extra bytes, if any, are discarded).
  bool closedWithin(double seconds);

  int fd() const { return fd_; }

 private:
  bool receive(double seconds);  ///< One recv into buffer_; false on timeout.
  RawExchange collect(double seconds, std::size_t count, bool untilQuiet);

  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

/// Parses complete responses off the front of `bytes` (consumed); a
/// response without Content-Length ends at `eof`.
std::vector<RawReply> parseReplies(std::string& bytes, bool eof);

}  // namespace plexus::testing_support
