#include "server/http_server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <limits>
#include <optional>
#include <thread>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <Poco/Logger.h>
#include <Poco/String.h>

#include "server/connection_table.hpp"
#include "server/handler_pool.hpp"
#include "server/http_reply.hpp"
#include "server/request_body.hpp"
#include "server/request_router.hpp"
#include "trigger/webhook/webhook_payload.hpp"

namespace plexus::core {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

namespace {

/// The front end's limits, from ServerSettings (docs/http.md).
struct Limits {
  SteadyClock::duration headerTimeout;
  SteadyClock::duration keepAliveTimeout;
  SteadyClock::duration bodyTimeout;
  double minBodyRate;  // bytes per second
  std::uint32_t maxHeaderBytes;
  std::int64_t maxRequestBytes;
  std::string spoolDirectory;
  int headerTimeoutSeconds;
  int bodyTimeoutSeconds;

  /// How long a transfer of `bytes` may take: the grace, then the minimum rate.
  SteadyClock::duration transferTime(std::int64_t bytes) const {
    return bodyTimeout + std::chrono::duration_cast<SteadyClock::duration>(
                             std::chrono::duration<double>(static_cast<double>(bytes) / minBodyRate));
  }
};

// A lingering close reads and drops what the caller still sends, for this
// long and up to this much, so that closing does not reset the connection
// before the caller has read the error reply.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 1024 * 1024;
// The handler pool: threads kept when idle, and how long a further thread
// may sit idle before it ends.
constexpr int kMinHandlerThreads = 2;
constexpr auto kHandlerIdleTimeout = std::chrono::seconds(10);

/// What every connection shares.
struct FrontEnd {
  Limits limits;
  RequestRouter router;
  HandlerPool pool;
  ConnectionTable table;
  std::atomic<bool> stopping{false};
  Poco::Logger& log = Poco::Logger::get("plexus");
  // Refused connections are logged at most once every 10 s, as a count.
  std::mutex refusalMutex;
  SteadyClock::time_point lastRefusalLog{};
  long refusedSinceLog = 0;

  FrontEnd(Limits l, Runtime& runtime, int maxHandlerThreads, int maxConnections, int maxPerClient)
      : limits(std::move(l)),
        router(runtime),
        pool(kMinHandlerThreads, maxHandlerThreads, kHandlerIdleTimeout),
        table(maxConnections, maxPerClient) {}

  void noteRefusal(const std::string& address, const char* reason) {
    std::lock_guard<std::mutex> lock(refusalMutex);
    ++refusedSinceLog;
    auto now = SteadyClock::now();
    if (now - lastRefusalLog < std::chrono::seconds(10)) return;
    log.warning("refused %ld connection(s) in the last 10 s (%s; the last from %s)", refusedSinceLog,
                std::string(reason), address);
    refusedSinceLog = 0;
    lastRefusalLog = now;
  }
};

/// A Beast body that collects into a RequestBodyBuilder: small bodies in
/// memory, large ones spooled to an unnamed file (request_body.hpp). A
/// failure is kept here and reported by the connection as a JSON error.
struct SpoolingBody {
  struct value_type {
    RequestBodyBuilder builder;
    int failedStatus = 0;  // 413 or 500 once append() refused
    std::string failure;
  };

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>&, ErrorCode& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, ErrorCode& ec) {
      std::size_t used = 0;
      try {
        for (auto buffer : beast::buffers_range_ref(buffers)) {
          body_.builder.append(static_cast<const char*>(buffer.data()), buffer.size());
          used += buffer.size();
        }
        ec = {};
      } catch (const PayloadError& error) {
        body_.failedStatus = error.status();
        body_.failure = error.what();
        ec = http::error::body_limit;
      } catch (const std::exception& error) {
        // The spool file could not be written (disk full): a 500 naming the folder.
        body_.failedStatus = 500;
        body_.failure = error.what();
        ec = boost::system::errc::make_error_code(boost::system::errc::io_error);
      }
      return used;
    }
    void finish(ErrorCode& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

std::string trimmed(const std::string& text) { return Poco::trim(text); }

std::string tooLargeMessage(std::int64_t maxBytes) {
  return "request body is larger than the limit of " + std::to_string(maxBytes) +
         " bytes (the server's --max-request-bytes)";
}

/// One client connection, driven on its own strand. Its life: wait for a
/// request (idle or receiving the head, under a deadline, no buffer held
/// while idle), read the body under a minimum rate, hand the complete
/// request to the handler pool, write the reply, and again.
class Connection : public ConnectionTable::Member, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::string address, FrontEnd& frontEnd)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        buffer_(frontEnd.limits.maxHeaderBytes + 64 * 1024),
        address_(std::move(address)),
        frontEnd_(frontEnd) {}

  ~Connection() override { frontEnd_.table.remove(*this, address_); }

  void start() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->headDeadline_ = SteadyClock::now() + self->frontEnd_.limits.headerTimeout;
      self->waitForRequest(self->headDeadline_);
    });
  }

  void closeSoon(bool force) override {
    asio::post(socket_.get_executor(), [self = shared_from_this(), force] {
      if (force || self->state_ == State::Waiting) self->closeSocket();
    });
  }

 private:
  enum class State { Waiting, Body, Handling, Writing, Lingering, Closed };
  using Parser = http::request_parser<SpoolingBody>;

  // --- deadlines: one timer per connection, re-armed only when a deadline
  // comes earlier than the one it waits for.
  void setDeadline(SteadyClock::time_point deadline) {
    timedOut_ = false;
    deadline_ = deadline;
    if (timerArmed_ && timer_.expiry() <= deadline) return;  // It fires first and re-arms.
    timerArmed_ = true;
    timer_.expires_at(deadline);
    timer_.async_wait([self = shared_from_this()](const ErrorCode& ec) { self->onTimer(ec); });
  }

  void onTimer(const ErrorCode& ec) {
    if (ec == asio::error::operation_aborted || state_ == State::Closed) return;  // Re-armed or closed.
    if (SteadyClock::now() < deadline_) {
      timer_.expires_at(deadline_);
      timer_.async_wait([self = shared_from_this()](const ErrorCode& e) { self->onTimer(e); });
      return;
    }
    timerArmed_ = false;
    timedOut_ = true;
    ErrorCode ignored;
    socket_.cancel(ignored);  // The pending operation completes with operation_aborted.
  }

  // --- reading a request
  void waitForRequest(SteadyClock::time_point deadline) {
    if (frontEnd_.stopping) return closeSocket();
    state_ = State::Waiting;
    frontEnd_.table.setWaiting(*this, true);
    if (buffer_.size() > 0) {  // A pipelined request is already here.
      if (requests_ > 0) headDeadline_ = SteadyClock::now() + frontEnd_.limits.headerTimeout;
      return readHead();
    }
    if (buffer_.capacity() > 16 * 1024) buffer_.shrink_to_fit();
    setDeadline(deadline);
    // Wait for the first byte without holding a buffer.
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const ErrorCode& ec) {
      if (self->state_ == State::Closed) return;
      if (ec) return self->closeSocket();  // Idle too long, or gone.
      if (self->requests_ > 0) self->headDeadline_ = SteadyClock::now() + self->frontEnd_.limits.headerTimeout;
      self->readHead();
    });
  }

  void readHead() {
    request_ = HttpRequest();
    parser_.emplace();
    parser_->header_limit(frontEnd_.limits.maxHeaderBytes);
    // Checked once the head is in, with a clearer message. (Not boost::none:
    // Beast 1.74 compares Content-Length > none as true.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    setDeadline(headDeadline_);
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](const ErrorCode& ec, std::size_t) { self->onHead(ec); });
  }

  void onHead(const ErrorCode& ec) {
    if (state_ == State::Closed) return;
    frontEnd_.table.setWaiting(*this, false);
    if (ec) return onHeadError(ec);
    ++requests_;
    auto& message = parser_->get();
    request_ = HttpRequest();
    request_.method = std::string(message.method_string());
    request_.target = std::string(message.target());
    request_.version = message.version();
    request_.clientAddress = address_;
    for (const auto& field : message) request_.headers.add(std::string(field.name_string()), std::string(field.value()));
    keepAlive_ = parser_->keep_alive();
    std::optional<std::uint64_t> length;
    if (auto announced = parser_->content_length()) length = *announced;
    announcedLength_ = length.value_or(0);
    bodyPending_ = parser_->chunked() || (length && *length > 0);

    std::vector<std::string> codings = request_.headers.all("Transfer-Encoding");
    if (!codings.empty() && !(codings.size() == 1 && equalsIgnoringCase(trimmed(codings[0]), "chunked"))) {
      std::string joined;
      for (const auto& coding : codings) joined += (joined.empty() ? "" : ", ") + coding;
      // RFC 9112 §6.3: chunked present but not the final coding leaves the
      // body's length unknowable, which is a 400; any other coding is 501.
      const std::string lowered = Poco::toLower(trimmed(joined));
      const bool hasChunked = lowered.find("chunked") != std::string::npos;
      const bool endsChunked = lowered.size() >= 7 && lowered.compare(lowered.size() - 7, 7, "chunked") == 0;
      if (hasChunked && !endsChunked)
        return refuse(400, "Transfer-Encoding '" + joined + "' does not end with chunked, so the body's length "
                               "cannot be known: send 'Transfer-Encoding: chunked' alone, or Content-Length");
      return refuse(501, "Transfer-Encoding '" + joined +
                             "' is not supported: send the body as is with Content-Length, or with "
                             "'Transfer-Encoding: chunked' alone");
    }
    if (auto early = frontEnd_.router.refuseEarly(request_.method, request_.target))
      return reply(std::move(*early), bodyPending_);
    const std::int64_t limit = frontEnd_.limits.maxRequestBytes;
    if (length && *length > static_cast<std::uint64_t>(limit))
      return refuse(413, "request body of " + std::to_string(*length) + " bytes is larger than the limit of " +
                             std::to_string(limit) + " bytes (the server's --max-request-bytes)");
    std::string expect = trimmed(request_.headers.get("Expect"));
    if (!expect.empty() && request_.version >= 11) {
      if (!equalsIgnoringCase(expect, "100-continue"))
        return refuse(417, "unsupported expectation 'Expect: " + expect + "' (only 100-continue is)");
      if (bodyPending_) return sendContinue();
    }
    if (parser_->is_done()) return dispatch();
    readBody();
  }

  void onHeadError(const ErrorCode& ec) {
    if (timedOut_) {
      if (parser_->got_some() || buffer_.size() > 0)
        return refuse(408, "the request head did not arrive within " +
                               std::to_string(frontEnd_.limits.headerTimeoutSeconds) + " s (--header-timeout)");
      return closeSocket();
    }
    if (ec == http::error::end_of_stream || ec.category() != http::make_error_code(http::error::need_more).category())
      return closeSocket();  // The caller left (or the socket failed) between requests.
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
      return refuse(431, "the request head is larger than the limit of " +
                             std::to_string(frontEnd_.limits.maxHeaderBytes) + " bytes (--max-header-bytes)");
    if (ec == http::error::bad_content_length)
      return refuse(400, "invalid Content-Length: it must be one decimal number, and repeated Content-Length "
                         "headers must agree");
    if (ec == http::error::bad_transfer_encoding)
      return refuse(400, "invalid Transfer-Encoding: repeated, or sent together with Content-Length");
    if (ec == http::error::partial_message)
      return refuse(400, "the connection ended in the middle of the request head");
    refuse(400, "malformed request head (" + ec.message() + ")");
  }

  void sendContinue() {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    setDeadline(SteadyClock::now() + frontEnd_.limits.bodyTimeout);
    asio::async_write(socket_, asio::buffer(kContinue),
                      [self = shared_from_this()](const ErrorCode& ec, std::size_t) {
                        if (self->state_ == State::Closed) return;
                        if (ec) return self->closeSocket();
                        self->readBody();
                      });
  }

  void readBody() {
    state_ = State::Body;
    bodyStart_ = SteadyClock::now();
    parser_->get().body().builder = RequestBodyBuilder(frontEnd_.limits.maxRequestBytes, frontEnd_.limits.spoolDirectory);
    // The builder enforces --max-request-bytes; Beast's own body limit
    // would turn an absurd chunk size into a 413 instead of a 400.
    if (parser_->chunked()) {
      onChunkHeader_ = [this](std::uint64_t size, beast::string_view, ErrorCode& ec) { checkChunkSize(size, ec); };
      parser_->on_chunk_header(onChunkHeader_);
    }
    readBodySome();
  }

  /// A chunk size of 2^63 or more cannot be a real body (no file or
  /// memory is that large): a framing error, like a size that is not hex.
  void checkChunkSize(std::uint64_t size, ErrorCode& ec) {
    auto& body = parser_->get().body();
    const auto limit = static_cast<std::uint64_t>(frontEnd_.limits.maxRequestBytes);
    if (size >= (std::uint64_t(1) << 63)) {
      ec = http::error::bad_chunk;
    } else if (static_cast<std::uint64_t>(body.builder.size()) + size > limit) {
      body.failedStatus = 413;
      body.failure = tooLargeMessage(frontEnd_.limits.maxRequestBytes);
      ec = http::error::body_limit;
    } else {
      ec = {};
    }
  }

  void readBodySome() {
    setDeadline(bodyStart_ + frontEnd_.limits.transferTime(parser_->get().body().builder.size()));
    http::async_read_some(socket_, buffer_, *parser_, [self = shared_from_this()](const ErrorCode& ec, std::size_t) {
      if (self->state_ == State::Closed) return;
      if (ec) return self->onBodyError(ec);
      if (self->parser_->is_done()) return self->dispatch();
      self->readBodySome();
    });
  }

  void onBodyError(const ErrorCode& ec) {
    const auto& body = parser_->get().body();
    if (timedOut_)
      return refuse(408, "the request body arrived too slowly: after the first " +
                             std::to_string(frontEnd_.limits.bodyTimeoutSeconds) + " s it must average at least " +
                             std::to_string(static_cast<long long>(frontEnd_.limits.minBodyRate)) +
                             " bytes/s (--body-timeout, --min-body-rate)");
    if (body.failedStatus != 0) return refuse(body.failedStatus, body.failure);
    if (ec == http::error::body_limit) return refuse(413, tooLargeMessage(frontEnd_.limits.maxRequestBytes));
    if (ec == http::error::partial_message) {
      if (parser_->chunked())
        return refuse(400, "the chunked request body ended before its last (zero-size) chunk");
      return refuse(400, "the request body ended after " + std::to_string(body.builder.size()) + " of the " +
                             std::to_string(announcedLength_) +
                             " bytes its Content-Length announced");
    }
    if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension)
      return refuse(400, "invalid chunk in the request body: a chunk size must be hexadecimal digits that fit "
                         "in 64 bits, followed by CRLF");
    if (ec.category() == http::make_error_code(http::error::need_more).category())
      return refuse(400, "malformed request body (" + ec.message() + ")");
    closeSocket();  // The socket failed: nobody to answer.
  }

  // --- handing over and replying
  void dispatch() {
    state_ = State::Handling;
    setDeadline(SteadyClock::time_point::max());
    request_.body = parser_->get().body().builder.finish(request_.headers.get("Content-Type"));
    parser_.reset();
    bodyPending_ = false;
    frontEnd_.pool.submit([self = shared_from_this()] {
      HttpResponse response = self->frontEnd_.router.handle(self->request_);
      asio::post(self->socket_.get_executor(), [self, response = std::move(response)]() mutable {
        self->request_.body = plexus::Binary();
        if (self->state_ != State::Closed) self->reply(std::move(response), false);
      });
    });
  }

  /// A JSON error from the front end itself; the connection closes after it.
  void refuse(int status, const std::string& message) {
    HttpResponse response;
    sendError(response, status, message);
    response.close = true;
    reply(std::move(response), true);
  }

  /// Writes `response`. `unread`: bytes of this request may still be on
  /// the way, so the connection closes after a lingering read.
  void reply(HttpResponse response, bool unread) {
    frontEnd_.table.setWaiting(*this, false);
    bool close = response.close || unread || !keepAlive_ || frontEnd_.stopping;
    linger_ = unread || response.close;
    closeAfterWrite_ = close;
    response_ = std::move(response);
    responseHead_ = serializeResponseHead(response_, request_.version == 10 ? 10 : 11, close);
    std::string_view body = request_.method == "HEAD" ? std::string_view() : response_.bodyView();
    state_ = State::Writing;
    setDeadline(SteadyClock::now() + frontEnd_.limits.transferTime(static_cast<std::int64_t>(responseHead_.size() + body.size())));
    std::array<asio::const_buffer, 2> buffers{asio::buffer(responseHead_), asio::buffer(body.data(), body.size())};
    asio::async_write(socket_, buffers, [self = shared_from_this()](const ErrorCode& ec, std::size_t) {
      self->onWritten(ec);
    });
  }

  void onWritten(const ErrorCode& ec) {
    if (state_ == State::Closed) return;
    response_ = HttpResponse();  // Release a mapped body at once.
    responseHead_.clear();
    if (ec) return closeSocket();
    if (closeAfterWrite_) return linger_ ? lingeringClose() : closeSocket();
    headDeadline_ = SteadyClock::now() + frontEnd_.limits.keepAliveTimeout;
    waitForRequest(headDeadline_);
  }

  // --- closing
  void lingeringClose() {
    state_ = State::Lingering;
    ErrorCode ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    parser_.reset();
    buffer_.clear();
    lingered_ = 0;
    setDeadline(SteadyClock::now() + kLingerTime);
    drain();
  }

  void drain() {
    auto space = buffer_.prepare(std::min<std::size_t>(16 * 1024, buffer_.max_size()));
    socket_.async_read_some(space, [self = shared_from_this()](const ErrorCode& ec, std::size_t n) {
      if (self->state_ == State::Closed) return;
      self->lingered_ += n;
      self->buffer_.clear();
      if (ec || self->lingered_ > kLingerBytes) return self->closeSocket();
      self->drain();
    });
  }

  void closeSocket() {
    if (state_ == State::Closed) return;
    state_ = State::Closed;
    frontEnd_.table.setWaiting(*this, false);
    ErrorCode ignored;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    parser_.reset();
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::string address_;
  FrontEnd& frontEnd_;
  State state_ = State::Waiting;
  std::optional<Parser> parser_;
  std::function<void(std::uint64_t, beast::string_view, ErrorCode&)> onChunkHeader_;  // Beast keeps a reference.
  HttpRequest request_;
  HttpResponse response_;
  std::string responseHead_;
  SteadyClock::time_point headDeadline_;
  SteadyClock::time_point bodyStart_;
  SteadyClock::time_point deadline_;
  bool timerArmed_ = false;
  bool timedOut_ = false;
  bool keepAlive_ = true;
  bool bodyPending_ = false;
  bool closeAfterWrite_ = false;
  bool linger_ = false;
  long requests_ = 0;
  std::uint64_t announcedLength_ = 0;
  std::size_t lingered_ = 0;
};

/// Resolves host:port to the endpoint to listen on (a literal address
/// or a name such as localhost).
tcp::endpoint listenEndpoint(asio::io_context& context, const std::string& host, int port) {
  ErrorCode ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, static_cast<unsigned short>(port));
  tcp::resolver resolver(context);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty())
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": unknown host (" +
                             ec.message() + "); use an IP address such as 127.0.0.1 or 0.0.0.0");
  return *results.begin();
}

}  // namespace

struct HttpServer::Impl {
  Impl(Runtime& runtime, const ServerSettings& settings)
      : frontEnd(Limits{std::chrono::seconds(settings.headerTimeoutSeconds),
                        std::chrono::seconds(settings.keepAliveTimeoutSeconds),
                        std::chrono::seconds(settings.bodyTimeoutSeconds),
                        static_cast<double>(settings.minBodyRate),
                        static_cast<std::uint32_t>(settings.maxHeaderBytes),
                        settings.maxRequestBytes,
                        runtime.spoolDirectory(),
                        settings.headerTimeoutSeconds,
                        settings.bodyTimeoutSeconds},
                 runtime, settings.httpThreads, settings.maxConnections, settings.maxConnectionsPerClient),
        ioThreads(settings.ioThreads),
        stopGrace(std::chrono::seconds(settings.syncTimeoutSeconds + 5)),
        acceptor(asio::make_strand(context)),
        retryTimer(acceptor.get_executor()) {
    tcp::endpoint endpoint = listenEndpoint(context, settings.host, settings.port);
    std::string where = settings.host + ":" + std::to_string(settings.port);
    ErrorCode ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);  // Not SO_REUSEPORT.
    if (!ec) acceptor.bind(endpoint, ec);
    if (ec == asio::error::address_in_use)
      throw std::runtime_error("cannot listen on " + where +
                               ": address in use (is another plexus serve or another program listening on that "
                               "port? choose another with --port)");
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
    boundPort = acceptor.local_endpoint().port();
  }

  void accept() {
    acceptor.async_accept(asio::make_strand(context), [this](const ErrorCode& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        // Out of descriptors (EMFILE) or a transient failure: pause instead
        // of spinning, so the connections already open can finish.
        frontEnd.noteRefusal("?", ("accept failed: " + ec.message()).c_str());
        retryTimer.expires_after(std::chrono::milliseconds(50));
        retryTimer.async_wait([this](const ErrorCode& e) {
          if (!e) accept();
        });
        return;
      }
      admit(std::move(socket));
      accept();
    });
  }

  void admit(tcp::socket socket) {
    ErrorCode ec;
    auto peer = socket.remote_endpoint(ec);
    if (ec) return;  // Already gone.
    std::string address = peer.address().to_string();
    socket.set_option(tcp::no_delay(true), ec);
    std::shared_ptr<ConnectionTable::Member> victim;
    auto admission = frontEnd.table.admit(address, victim);
    if (victim) victim->closeSoon(false);
    if (admission == ConnectionTable::Admission::Admitted) {
      auto connection = std::make_shared<Connection>(std::move(socket), address, frontEnd);
      frontEnd.table.add(connection);
      connection->start();
      return;
    }
    bool perClient = admission == ConnectionTable::Admission::OverClientLimit;
    frontEnd.noteRefusal(address, perClient ? "over --max-connections-per-client" : "over --max-connections, none idle");
    refuseAtAccept(socket, perClient ? "too many connections from your address (the server's "
                                       "--max-connections-per-client); retry later"
                                     : "the server has too many connections (--max-connections); retry later");
  }

  /// A best-effort 503 (one non-blocking write), then close.
  static void refuseAtAccept(tcp::socket& socket, const std::string& message) {
    HttpResponse response;
    sendError(response, 503, message);
    response.headers.set("Retry-After", "1");
    std::string bytes = serializeResponseHead(response, 11, true) + response.body;
    ErrorCode ec;
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(bytes), ec);
    socket.close(ec);
  }

  FrontEnd frontEnd;  // Declared first: destroyed after the context and its connections.
  int ioThreads;
  std::chrono::seconds stopGrace;
  asio::io_context context;
  tcp::acceptor acceptor;
  asio::steady_timer retryTimer;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  int boundPort = 0;
  bool started = false;
  bool stopped = false;
};

HttpServer::HttpServer(Runtime& runtime, const ServerSettings& settings)
    : impl_(std::make_unique<Impl>(runtime, settings)) {}

HttpServer::~HttpServer() { stop(); }

int HttpServer::port() const { return impl_->boundPort; }

void HttpServer::start() {
  Impl& impl = *impl_;
  if (impl.started) return;
  impl.started = true;
  impl.work.emplace(impl.context.get_executor());
  asio::post(impl.acceptor.get_executor(), [&impl] { impl.accept(); });
  for (int i = 0; i < impl.ioThreads; ++i) impl.threads.emplace_back([&impl] { impl.context.run(); });
}

void HttpServer::stopAccepting() {
  Impl& impl = *impl_;
  if (!impl.started || impl.stopped) return;
  asio::post(impl.acceptor.get_executor(), [&impl] {
    ErrorCode ignored;
    impl.acceptor.close(ignored);
    impl.retryTimer.cancel();
  });
}

void HttpServer::stop() {
  Impl& impl = *impl_;
  if (impl.stopped) return;
  impl.stopped = true;
  if (impl.started) {
    impl.frontEnd.stopping = true;
    asio::post(impl.acceptor.get_executor(), [&impl] {
      ErrorCode ignored;
      impl.acceptor.close(ignored);
      impl.retryTimer.cancel();
    });
    // Idle connections close now; a request in flight finishes and its
    // reply closes its connection.
    impl.frontEnd.table.closeAll(false);
    if (!impl.frontEnd.table.waitUntilEmpty(SteadyClock::now() + impl.stopGrace)) {
      impl.frontEnd.log.warning("stopping: closing %d connection(s) still open after %d s",
                                impl.frontEnd.table.size(), static_cast<int>(impl.stopGrace.count()));
      impl.frontEnd.table.closeAll(true);
    }
  }
  impl.frontEnd.pool.shutdown();  // Handlers borrow the runtime: all done before stop() returns.
  impl.work.reset();
  if (impl.started) impl.frontEnd.table.waitUntilEmpty(SteadyClock::now() + std::chrono::seconds(5));
  impl.context.stop();
  for (auto& thread : impl.threads) thread.join();
  impl.threads.clear();
}

long raiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<long>(limit.rlim_cur);
}

}  // namespace plexus::core
