#include "services/decision/route_link_server.h"

#include <prometheus/gauge.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/accept_backoff.h"
#include "common/log_throttle.h"
#include "common/logging.h"

namespace llmrouter::decision {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::array<const char*, kRouteLinkRejectionCount> kRejectionNames = {
    "connection_cap", "preamble_timeout", "bad_preamble",
    "tls_handshake",  "frame_too_large",  "malformed_frame"};

// The input buffer starts at this and doubles as bytes arrive (up to the largest frame).
constexpr std::size_t kReadBytes = 16 << 10;
// Buffers that grew past these for a burst are given back once it is over.
constexpr std::size_t kKeptInputBytes = 4 * kReadBytes;
constexpr std::size_t kKeptOutputBytes = 256 << 10;

}  // namespace

struct RouteLinkServer::Listener {
  explicit Listener(asio::io_context& context) { acceptor.emplace(context); }
  std::optional<tcp::acceptor> acceptor;  // reset before the contexts go
  // Connections refused over the cap are logged at most once a second (the counter has them
  // all); only the acceptor's thread touches these.
  std::chrono::steady_clock::time_point cap_logged_at;
  std::uint64_t cap_refused_unlogged = 0;
  // Failed accepts (out of descriptors, say) wait 1 ms doubling to 1 s, and are logged at most
  // once a second, as the gateway's listener does (common/accept_backoff.h).
  AcceptBackoff accept_backoff;
  LogThrottle accept_failure_log;
  absl::Mutex mu;
  // Every live connection, so that Stop() can tell them that the server is going away.
  absl::flat_hash_set<std::shared_ptr<Connection>> connections ABSL_GUARDED_BY(mu);
};

// One gateway connection. Everything runs on its context's single thread, so nothing is locked:
// a read is routed in the handler that completes it, and its answers are written at once or,
// while a write is in flight, appended to the next one. Reading stops while too many answers
// wait to be written and starts again when a write completes.
class RouteLinkServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, RouteLinkServer& server,
             std::shared_ptr<asio::ssl::context> tls_context)
      : server_(server), tls_context_(std::move(tls_context)), timer_(socket.get_executor()) {
    if (tls_context_) {
      tls_.emplace(std::move(socket), *tls_context_);
    } else {
      plain_.emplace(std::move(socket));
    }
    server_.live_.fetch_add(1);
    if (server_.metrics_.connections) server_.metrics_.connections->Increment();
    Account();
  }
  ~Connection() {
    server_.AddBuffered(-accounted_);
    if (server_.metrics_.connections) server_.metrics_.connections->Decrement();
    server_.live_.fetch_sub(1);
  }

  asio::any_io_executor executor() { return timer_.get_executor(); }

  // The TLS handshake (when on) and the preamble, both within the preamble deadline.
  void Start() {
    timer_.expires_after(server_.options_.preamble_timeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closed_ || self->started_) return;
      self->Reject(RouteLinkRejection::kPreambleTimeout,
                   absl::StrCat("no preamble within ",
                                self->server_.options_.preamble_timeout.count(), " ms"));
    });
    if (!tls_) return ReadPreamble();
    tls_->async_handshake(asio::ssl::stream_base::server,
                          [self = shared_from_this()](boost::system::error_code ec) {
                            if (self->closed_) return;
                            if (ec) {
                              return self->Reject(RouteLinkRejection::kTlsHandshake,
                                                  absl::StrCat("TLS handshake: ", ec.message()));
                            }
                            self->ReadPreamble();
                          });
  }

  // Tells the gateway that this connection is going away (an empty response): it sends no more
  // calls and closes once its calls in flight are answered, which the connection keeps doing.
  void Drain() {
    if (!started_) return Close();  // not a gateway yet: nothing to finish
    if (closed_ || draining_) return;
    draining_ = true;
    v1::RouteStreamResponse going_away;
    AppendRouteLinkFrame(going_away, &pending_);
    Write();
  }

  // Ends the connection; safe to call more than once.
  void Close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    boost::system::error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
    Listener& listener = *server_.listener_;
    absl::MutexLock lock(&listener.mu);
    listener.connections.erase(shared_from_this());
  }

 private:
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }

  // Runs `f` with the connection's stream: the TLS stream or the plain socket.
  template <typename F>
  void WithStream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  std::string Peer() {
    boost::system::error_code ec;
    auto endpoint = socket().remote_endpoint(ec);
    return ec ? std::string("?")
              : absl::StrCat(endpoint.address().to_string(), ":", endpoint.port());
  }

  void Reject(RouteLinkRejection reason, std::string_view detail) {
    spdlog::warn("route_link_rejected peer={} reason={} detail=\"{}\"", Peer(),
                 kRejectionNames[static_cast<int>(reason)], detail);
    server_.Reject(reason);
    Close();
  }

  void ReadPreamble() {
    WithStream([this](auto& stream) {
      asio::async_read(
          stream, asio::buffer(preamble_),
          [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
            if (self->closed_) return;
            if (ec) return self->Close();
            if (std::string_view(self->preamble_, sizeof self->preamble_) != kRouteLinkPreamble) {
              return self->Reject(RouteLinkRejection::kBadPreamble,
                                  "not a route link client (wrong preamble)");
            }
            self->started_ = true;
            self->timer_.cancel();
            self->Serve();
          });
    });
  }

  std::size_t Unwritten() const { return pending_.size() + sending_.size(); }

  // Answers what has been read as far as the unwritten-answers budget allows, then reads on;
  // over the budget (the gateway does not read its answers) it waits for a write to complete,
  // and the gateway's calls wait in the kernel. Never while a read is in flight (it fills in_).
  void Serve() {
    if (closed_ || reading_ || !started_) return;
    if (!Answer()) return;
    if (backlog_ || Unwritten() > server_.options_.max_unwritten_bytes) {
      if (!paused_ && server_.metrics_.read_pauses) server_.metrics_.read_pauses->Increment();
      paused_ = true;
      return;
    }
    paused_ = false;
    if (!reading_done_) Read();
  }

  void Read() {
    // Grow with the bytes that came, never to the size a header announces: a frame's memory is
    // at most twice what its sender actually sent.
    const std::size_t most =
        server_.options_.max_frame_bytes + kRouteLinkFrameHeaderBytes + kReadBytes;
    if (in_.size() - used_ < kReadBytes / 2 && in_.size() < most) {
      in_.resize(std::min(std::max(in_.size() * 2, kReadBytes), most));
      Account();
    }
    reading_ = true;
    WithStream([this](auto& stream) {
      stream.async_read_some(
          asio::buffer(in_.data() + used_, in_.size() - used_),
          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
            self->reading_ = false;
            if (self->closed_) return;
            if (ec) {  // the gateway closed (or Drain): finish once the answers are out
              self->reading_done_ = true;
              if (!self->writing_) self->Close();
              return;
            }
            self->used_ += n;
            self->Serve();
          });
    });
  }

  // Routes whole frames read so far while the answers waiting stay within budget (backlog_ is
  // set when it stopped for that); false when a protocol error closed the connection. Each
  // frame's answers leave in a frame of their own.
  bool Answer() {
    std::size_t offset = 0;
    backlog_ = false;
    for (;;) {
      if (Unwritten() > server_.options_.max_unwritten_bytes) {
        backlog_ = true;
        break;
      }
      std::string_view payload;
      std::size_t frame_bytes = 0;
      RouteLinkFrameState state =
          NextRouteLinkFrame(std::string_view(in_.data() + offset, used_ - offset),
                             server_.options_.max_frame_bytes, &payload, &frame_bytes);
      if (state == RouteLinkFrameState::kTooLarge) {
        Reject(RouteLinkRejection::kFrameTooLarge,
               absl::StrCat("frame larger than ", server_.options_.max_frame_bytes, " bytes"));
        return false;
      }
      if (state == RouteLinkFrameState::kIncomplete) break;
      if (!calls_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
        Reject(RouteLinkRejection::kMalformedFrame, "frame is not a RouteStreamRequest");
        return false;
      }
      answers_.Clear();
      for (const v1::RouteCall& call : calls_.calls()) {
        server_.answer_(call, answers_.add_results());
      }
      if (answers_.results_size() > 0) AppendRouteLinkFrame(answers_, &pending_);
      offset += frame_bytes;
      Write();  // leaves at once when no write is in flight
    }
    if (offset > 0) {
      std::memmove(in_.data(), in_.data() + offset, used_ - offset);
      used_ -= offset;
    }
    if (in_.size() > kKeptInputBytes && used_ <= kReadBytes / 2) {  // a burst is over
      std::string smaller(kReadBytes, '\0');
      std::memcpy(smaller.data(), in_.data(), used_);
      in_.swap(smaller);
    }
    Account();
    return true;
  }

  void Write() {
    if (writing_ || pending_.empty() || closed_) return;
    writing_ = true;
    sending_.swap(pending_);
    pending_.clear();
    WithStream([this](auto& stream) {
      asio::async_write(stream, asio::buffer(sending_),
                        [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                          self->writing_ = false;
                          self->sending_.clear();
                          if (self->sending_.capacity() > kKeptOutputBytes) {
                            std::string().swap(self->sending_);
                          }
                          self->Account();
                          if (ec) return self->Close();
                          if (!self->pending_.empty()) self->Write();
                          if (self->reading_done_ && !self->writing_) return self->Close();
                          if (self->paused_) self->Serve();
                        });
    });
  }

  // Brings the server's count of buffered bytes up to date with this connection's buffers.
  void Account() {
    const std::size_t held = in_.capacity() + pending_.capacity() + sending_.capacity();
    server_.AddBuffered(held - accounted_);
    accounted_ = held;
  }

  RouteLinkServer& server_;
  const std::shared_ptr<asio::ssl::context> tls_context_;  // outlives tls_
  std::optional<asio::ssl::stream<tcp::socket>> tls_;      // with TLS
  std::optional<tcp::socket> plain_;                       // without
  asio::steady_timer timer_;                               // the preamble deadline
  char preamble_[kRouteLinkPreamble.size()] = {};
  std::string in_;
  std::size_t used_ = 0;
  v1::RouteStreamRequest calls_;
  v1::RouteStreamResponse answers_;
  std::string pending_;        // answers waiting for the write in flight
  std::string sending_;        // the write in flight
  std::size_t accounted_ = 0;  // bytes of the buffers above counted in the server's total
  bool started_ = false;       // the preamble arrived
  bool reading_ = false;
  bool paused_ = false;   // not reading because answers wait to be written
  bool backlog_ = false;  // whole frames read but not answered yet (over the budget)
  bool writing_ = false;
  bool reading_done_ = false;
  bool draining_ = false;
  bool closed_ = false;
};

RouteLinkServer::RouteLinkServer(RouteLinkServerOptions options, AnswerFunction answer,
                                 RouteLinkServerMetrics metrics)
    : options_(std::move(options)), answer_(std::move(answer)), metrics_(metrics) {
  if (metrics_.rejected) {
    for (int i = 0; i < kRouteLinkRejectionCount; ++i) {
      rejected_[i] = &metrics_.rejected->Add({{"reason", kRejectionNames[i]}});
    }
  }
}

RouteLinkServer::~RouteLinkServer() { Stop(std::chrono::milliseconds(0)); }

void RouteLinkServer::Reject(RouteLinkRejection reason) {
  if (prometheus::Counter* counter = rejected_[static_cast<int>(reason)]) counter->Increment();
}

void RouteLinkServer::AddBuffered(std::size_t delta) {
  const std::size_t now = buffered_.fetch_add(delta) + delta;
  std::size_t peak = peak_buffered_.load();
  while (now > peak && now < (std::size_t{1} << 62) &&
         !peak_buffered_.compare_exchange_weak(peak, now)) {
  }
}

absl::Status RouteLinkServer::Start() {
  const int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
  listener_ = std::make_unique<Listener>(*contexts_[0]);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen host ", options_.host));
  tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  tcp::acceptor& acceptor = *listener_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.host, ":", options_.port, ": ", ec.message()));
  }
  port_ = acceptor.local_endpoint().port();
  Accept();
  for (auto& context : contexts_) {
    threads_.emplace_back([c = context.get()] {
      auto guard = asio::make_work_guard(*c);
      c->run();
    });
  }
  return absl::OkStatus();
}

void RouteLinkServer::Accept() {
  asio::io_context& target = *contexts_[next_context_++ % contexts_.size()];
  listener_->acceptor->async_accept(
      target, [this](boost::system::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !listener_->acceptor->is_open()) return;
        if (ec) {
          // Out of descriptors, say: try again shortly instead of spinning on the error.
          Listener& l = *listener_;
          const std::chrono::milliseconds wait = l.accept_backoff.Failed();
          if (l.accept_failure_log.ShouldLog()) {
            spdlog::warn("route_link_accept_failed error=\"{}\" retry_in_ms={} suppressed={}",
                         ec.message(), wait.count(), l.accept_failure_log.TakeSuppressed());
          }
          auto timer = std::make_shared<asio::steady_timer>(*contexts_[0]);
          timer->expires_after(wait);
          timer->async_wait([this, timer](boost::system::error_code wait_ec) {
            if (!wait_ec && listener_->acceptor->is_open()) Accept();
          });
          return;
        }
        listener_->accept_backoff.Succeeded();
        if (live_.load() >= options_.max_connections) {
          // Only this thread adds connections, so the cap holds exactly. Counted before the
          // close that the peer sees.
          Reject(RouteLinkRejection::kConnectionCap);
          socket.close(ec);
          Listener& l = *listener_;
          ++l.cap_refused_unlogged;
          const auto now = std::chrono::steady_clock::now();
          if (now - l.cap_logged_at >= std::chrono::seconds(1)) {
            spdlog::warn("route_link_rejected reason=connection_cap max_connections={} refused={}",
                         options_.max_connections, l.cap_refused_unlogged);
            l.cap_logged_at = now;
            l.cap_refused_unlogged = 0;
          }
          return Accept();
        }
        socket.set_option(tcp::no_delay(true), ec);
        auto connection = std::make_shared<Connection>(
            std::move(socket), *this, options_.tls ? options_.tls->context() : nullptr);
        {
          absl::MutexLock lock(&listener_->mu);
          listener_->connections.insert(connection);
        }
        // The socket belongs to its own context: start it there.
        asio::post(connection->executor(), [connection, this] {
          connection->Start();
          if (stopping_.load()) connection->Drain();
        });
        Accept();
      });
}

void RouteLinkServer::Stop(std::chrono::milliseconds grace) {
  if (threads_.empty()) return;
  stopping_.store(true);
  asio::post(*contexts_[0], [this] {
    boost::system::error_code ec;
    listener_->acceptor->close(ec);
  });
  {
    absl::MutexLock lock(&listener_->mu);
    for (const std::shared_ptr<Connection>& connection : listener_->connections) {
      asio::post(connection->executor(), [connection] { connection->Drain(); });
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (live_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& context : contexts_) context->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  {
    absl::MutexLock lock(&listener_->mu);
    listener_->connections.clear();
  }
  // The acceptor and the connections that were cut go before their contexts.
  listener_->acceptor.reset();
  contexts_.clear();
}

}  // namespace llmrouter::decision
