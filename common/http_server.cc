#include "common/http_server.h"

#include <sched.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/version.hpp>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/accept_backoff.h"
#include "common/coroutine_failure.h"
#include "common/http_wire.h"
#include "common/log_throttle.h"
#include "common/openai_error.h"
#include "spdlog/spdlog.h"

namespace llmrouter {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  if (!threads_.empty()) Stop(std::chrono::milliseconds(0));
}

namespace {

// Runs `context` until it is stopped, polling (and yielding the processor to whatever else is
// runnable) for `window` after the last event before each sleep.
void RunBusyPolling(asio::io_context& context, std::chrono::microseconds window) {
  auto last_event = std::chrono::steady_clock::now();
  while (!context.stopped()) {
    if (context.poll() > 0) {
      last_event = std::chrono::steady_clock::now();
      continue;
    }
    if (std::chrono::steady_clock::now() - last_event < window) {
      sched_yield();
      continue;
    }
    context.run_one();
    last_event = std::chrono::steady_clock::now();
  }
}

}  // namespace

absl::Status HttpServer::Start() {
  int n = options_.threads > 0 ? options_.threads : 1;
  for (int i = 0; i < n; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
  beast::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen host ", options_.host));
  tcp::endpoint ep(address, static_cast<unsigned short>(options_.port));
  acceptor_ = std::make_unique<tcp::acceptor>(*contexts_[0]);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.host, ":", options_.port, ": ", ec.message()));
  }
  port_ = acceptor_->local_endpoint().port();
  asio::co_spawn(*contexts_[0], Accept(), LogIfThrown("http_accept_loop"));
  for (auto& ctx : contexts_) {
    threads_.emplace_back([this, c = ctx.get()] {
      auto guard = asio::make_work_guard(*c);
      if (options_.on_thread_start) options_.on_thread_start(*c);
      if (options_.busy_poll.count() > 0) {
        RunBusyPolling(*c, options_.busy_poll);
      } else {
        c->run();
      }
    });
  }
  return absl::OkStatus();
}

asio::awaitable<void> HttpServer::Accept() {
  AcceptBackoff backoff;
  LogThrottle failure_log(std::chrono::seconds(1));
  asio::steady_timer pause(acceptor_->get_executor());
  for (;;) {
    asio::io_context& target = *contexts_[next_context_++ % contexts_.size()];
    beast::error_code ec;
    tcp::socket socket =
        co_await acceptor_->async_accept(target, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
      const std::chrono::milliseconds wait = backoff.Failed();
      if (options_.on_accept_error) options_.on_accept_error(ec, wait);
      if (failure_log.ShouldLog()) {
        spdlog::warn("http_accept_failed error=\"{}\" left_out={} retry_in_ms={}", ec.message(),
                     failure_log.TakeSuppressed(), wait.count());
      }
      pause.expires_after(wait);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!acceptor_->is_open()) co_return;
      continue;
    }
    backoff.Succeeded();
    if (options_.max_connections > 0 &&
        connections_.load(std::memory_order_relaxed) >= options_.max_connections) {
      Connection(ConnectionEvent::kRejected);  // counted before the client can see the close
      socket.close(ec);
      continue;
    }
    connections_.fetch_add(1, std::memory_order_relaxed);
    Connection(ConnectionEvent::kOpened);
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(target, Serve(std::move(socket)), LogIfThrown("http_connection"));
  }
}

void HttpServer::Connection(ConnectionEvent event) const {
  if (options_.on_connection) options_.on_connection(event);
}

asio::awaitable<bool> WriteHttpResponse(
    beast::tcp_stream& stream, unsigned version, bool keep_alive, int status,
    std::string_view content_type, std::string body,
    const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  http::response<http::string_body> res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
  for (const auto& [name, value] : extra_headers) res.set(name, value);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  beast::error_code ec;
  co_await WriteHttpMessage(stream, res, ec);
  co_return !ec;
}

std::string_view ClientTimeoutName(ClientTimeout timeout) {
  switch (timeout) {
    case ClientTimeout::kHeader:
      return "header";
    case ClientTimeout::kRead:
      return "read";
    case ClientTimeout::kIdle:
      return "idle";
  }
  return "unknown";
}

namespace {

using Clock = std::chrono::steady_clock;

// Counts a request from its header's arrival until its response is written.
class InFlight {
 public:
  explicit InFlight(std::atomic<int>& n) : n_(n) { n_.fetch_add(1, std::memory_order_relaxed); }
  ~InFlight() { n_.fetch_sub(1, std::memory_order_relaxed); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::atomic<int>& n_;
};

constexpr std::size_t kFirstReadBytes = 8 << 10;

// Cancels the reads pending on a connection once a deadline passes. Unlike the stream's own
// timeout, which closes the socket, this leaves it open so that a 408 can still be written.
// Lives on the connection's coroutine frame and is used from its thread only.
//
// Arming and disarming only record the deadline: the timer is moved only when a deadline is
// earlier than the timer's expiry, and a timer that fires before the current deadline waits
// for the rest. So a busy keep-alive connection touches its timer about once per timeout, not
// two or three times per request (each cancelled wait costs a turn of the event loop).
class ReadDeadline {
 public:
  explicit ReadDeadline(beast::tcp_stream& stream)
      : stream_(stream), timer_(stream.get_executor()) {}
  ~ReadDeadline() {
    *alive_ = false;  // a handler still queued must not touch this object
    timer_.cancel();
  }
  ReadDeadline(const ReadDeadline&) = delete;
  ReadDeadline& operator=(const ReadDeadline&) = delete;

  void Arm(Clock::time_point when) {
    deadline_ = when;
    expired_ = false;
    if (!waiting_ || when < timer_.expiry()) Wait(when);
  }
  void Disarm() { deadline_ = Clock::time_point::max(); }
  // True when the last Arm()'s deadline passed before Disarm(); an operation that completed
  // just before may still have succeeded, so check its error first.
  bool expired() const { return expired_; }

 private:
  void Wait(Clock::time_point at) {
    const std::uint64_t generation = ++generation_;
    waiting_ = true;
    timer_.expires_at(at);  // cancels an earlier wait: its handler sees a newer generation
    timer_.async_wait([this, alive = alive_, generation](beast::error_code ec) {
      if (!*alive || generation != generation_) return;
      waiting_ = false;
      if (ec || deadline_ == Clock::time_point::max()) return;  // disarmed: idle until Arm()
      const Clock::time_point now = Clock::now();
      if (now < deadline_) return Wait(deadline_);  // fired for an earlier deadline
      // Past the deadline: cancel the reads, and again every 50 ms until Disarm(), since a
      // multi-step read (header, then body) may be between two steps, with no read pending.
      expired_ = true;
      beast::error_code ignored;
      stream_.socket().cancel(ignored);
      Wait(now + std::chrono::milliseconds(50));
    });
  }

  beast::tcp_stream& stream_;
  asio::steady_timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  Clock::time_point deadline_ = Clock::time_point::max();
  std::uint64_t generation_ = 0;
  bool waiting_ = false;
  bool expired_ = false;
};

// Feeds the parser what is already buffered, up to the end of the header (`header_only`) or of
// the message, so that a request that arrived whole is parsed without another turn of the
// event loop. `ec` is left clear when more bytes are needed.
void ParseBuffered(http::request_parser<http::string_body>& parser, beast::flat_buffer& buffer,
                   bool header_only, beast::error_code& ec) {
  while (buffer.size() > 0 && !(header_only ? parser.is_header_done() : parser.is_done())) {
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more) {
      ec = {};
      return;
    }
    if (ec || used == 0) return;
  }
}

// Closes a connection after an error answer without losing the answer: closing a socket with
// unread input makes the kernel send a reset, which can destroy the answer in flight. So the
// rest of the input is read and dropped first, for a short while at most.
asio::awaitable<void> LingeringClose(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(2));
  char sink[4096];
  while (!ec) {
    co_await stream.async_read_some(asio::buffer(sink),
                                    asio::redirect_error(asio::use_awaitable, ec));
  }
  stream.socket().close(ec);
}

// True when reading a request failed because the peer went away (closed, reset, or stopped
// mid-message): there is no one to answer.
bool PeerGone(const beast::error_code& ec) {
  const auto& http_category = http::make_error_code(http::error::bad_method).category();
  return ec && (ec == http::error::end_of_stream || ec == http::error::partial_message ||
                ec.category() != http_category);
}

// The status that answers a failed read (0 when `ec` is no error, -1 when no one is left to
// answer), and why.
int RejectionFor(const beast::error_code& ec, const HttpServerOptions& options, std::string* why) {
  if (!ec) return 0;
  if (ec == http::error::body_limit) {
    *why = absl::StrCat("request body exceeds the limit of ", options.max_body_bytes, " bytes");
    return 413;
  }
  if (ec == http::error::header_limit) {
    *why = absl::StrCat("request headers exceed the limit of ", options.max_header_bytes, " bytes");
    return 431;
  }
  if (PeerGone(ec)) return -1;
  *why = absl::StrCat("malformed HTTP request: ", ec.message());
  return 400;
}

}  // namespace

void HttpServer::ClientTimedOut(ClientTimeout timeout) const {
  if (options_.on_client_timeout) options_.on_client_timeout(timeout);
}

asio::awaitable<void> HttpServer::Serve(tcp::socket socket) {
  // Counted open by Accept(); closed when this frame goes, however it ends (a stop destroys
  // frames that never finished).
  struct Closed {
    HttpServer& server;
    ~Closed() {
      server.connections_.fetch_sub(1, std::memory_order_relaxed);
      server.Connection(ConnectionEvent::kClosed);
    }
  } closed{*this};
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  buffer.reserve(kFirstReadBytes);  // Beast reads at most the free capacity: 512 bytes if empty
  ReadDeadline deadline(stream);
  // The read timeout bounds the header too when it is the shorter one.
  const auto header_timeout = std::min(options_.header_timeout, options_.read_timeout);
  const ClientTimeout header_cut = options_.header_timeout < options_.read_timeout
                                       ? ClientTimeout::kHeader
                                       : ClientTimeout::kRead;
  Clock::time_point start = Clock::now();  // the first request starts at the accept
  for (bool first = true;; first = false) {
    beast::error_code ec;
    if (!first && buffer.size() == 0) {  // nothing pipelined: wait for the next first byte
      deadline.Arm(Clock::now() + options_.idle_timeout);
      std::size_t n = co_await stream.async_read_some(
          buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
      deadline.Disarm();
      buffer.commit(n);
      if (ec) {  // idle too long, closed or reset: nothing to answer
        if (deadline.expired()) ClientTimedOut(ClientTimeout::kIdle);
        break;
      }
    }
    if (!first) start = Clock::now();

    http::request_parser<http::string_body> parser;
    parser.body_limit(options_.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    deadline.Arm(start + header_timeout);
    ParseBuffered(parser, buffer, /*header_only=*/true, ec);
    if (!ec && !parser.is_header_done()) {
      co_await http::async_read_header(stream, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
    }
    deadline.Disarm();
    int reject = 0;
    std::string why;
    if (ec && deadline.expired()) {
      ClientTimedOut(header_cut);
      if (!parser.got_some() && buffer.size() == 0) break;  // not a byte of a request came
      reject = 408;
      why = absl::StrCat("request header not complete within ", header_timeout.count(), " ms");
    } else if (PeerGone(ec)) {
      break;
    }
    InFlight in_flight(active_);
    if (!reject && !ec) {
      const auto& h = parser.get();
      deadline.Arm(start + options_.read_timeout);
      if (parser.content_length() && *parser.content_length() > options_.max_body_bytes) {
        reject = 413;
        why = absl::StrCat("request body of ", *parser.content_length(),
                           " bytes exceeds the limit of ", options_.max_body_bytes, " bytes");
      } else if (beast::iequals(h[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, h.version()};
        co_await http::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
      }
      if (!reject && !ec) ParseBuffered(parser, buffer, /*header_only=*/false, ec);
      if (!reject && !ec && !parser.is_done()) {
        co_await http::async_read(stream, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
      }
      deadline.Disarm();
      if (ec && deadline.expired()) {
        ClientTimedOut(ClientTimeout::kRead);
        reject = 408;
        why = absl::StrCat("request not complete within ", options_.read_timeout.count(), " ms");
      }
    }
    if (!reject) reject = RejectionFor(ec, options_, &why);
    if (reject < 0) break;
    if (reject) {
      stream.expires_after(std::chrono::seconds(5));
      std::string body = OpenAiErrorJson(reject, why, reject == 408 ? "request_timeout" : "");
      if (co_await WriteHttpResponse(stream, 11, false, reject, "application/json",
                                     std::move(body))) {
        co_await LingeringClose(stream);
      }
      break;
    }
    HttpRequest req = parser.release();
    stream.expires_never();
    bool keep_alive = co_await handler_(stream, req);
    if (!keep_alive || !req.keep_alive() || stopping()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

void HttpServer::Stop(std::chrono::milliseconds grace) {
  if (threads_.empty()) return;
  stopping_.store(true);
  asio::post(*contexts_[0], [this] {
    beast::error_code ec;
    acceptor_->close(ec);
  });
  // Only requests in flight are waited for: an idle keep-alive connection loses nothing when it
  // is closed, and a client must be ready for that at any time.
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (active_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  acceptor_.reset();
  // Connections cut at the end of the grace period close now (their coroutines and sockets go
  // with the contexts), not when the server object is destroyed.
  contexts_.clear();
}

}  // namespace llmrouter
