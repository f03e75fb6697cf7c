#include "services/decision/route_link_server.h"

#include <prometheus/gauge.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
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
#include "common/logging.h"

namespace llmrouter::decision {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct RouteLinkServer::Listener {
  explicit Listener(asio::io_context& context) { acceptor.emplace(context); }
  std::optional<tcp::acceptor> acceptor;  // reset before the contexts go
  absl::Mutex mu;
  // Every live connection, so that Stop() can half-close them.
  absl::flat_hash_set<std::shared_ptr<Connection>> connections ABSL_GUARDED_BY(mu);
};

// One gateway connection. Everything runs on its context's single thread, so nothing is locked:
// a read is routed in the handler that completes it, and its answers are written at once or,
// while a write is in flight, appended to the next one.
class RouteLinkServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, RouteLinkServer& server)
      : socket_(std::move(socket)), server_(server) {
    in_.resize(kFirstReadBytes);
    server_.live_.fetch_add(1);
    if (server_.open_connections_) server_.open_connections_->Increment();
  }
  ~Connection() {
    if (server_.open_connections_) server_.open_connections_->Decrement();
    server_.live_.fetch_sub(1);
  }

  asio::any_io_executor executor() { return socket_.get_executor(); }

  void Start() {
    asio::async_read(
        socket_, asio::buffer(preamble_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
          if (ec) return self->Close();
          if (std::string_view(self->preamble_, sizeof self->preamble_) != kRouteLinkPreamble) {
            spdlog::warn(
                "route_link_rejected peer={} reason=\"not a route link "
                "client (wrong preamble)\"",
                self->Peer());
            return self->Close();
          }
          self->Read();
        });
  }

  // Tells the gateway that this connection is going away (an empty response): it sends no more
  // calls and closes once its calls in flight are answered, which the connection keeps doing.
  void Drain() {
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
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    Listener& listener = *server_.listener_;
    absl::MutexLock lock(&listener.mu);
    listener.connections.erase(shared_from_this());
  }

 private:
  static constexpr std::size_t kFirstReadBytes = 16 << 10;

  std::string Peer() const {
    boost::system::error_code ec;
    auto endpoint = socket_.remote_endpoint(ec);
    return ec ? std::string("?")
              : absl::StrCat(endpoint.address().to_string(), ":", endpoint.port());
  }

  void Read() {
    if (in_.size() - used_ < kFirstReadBytes / 2) in_.resize(std::max(in_.size() * 2, need_));
    socket_.async_read_some(
        asio::buffer(in_.data() + used_, in_.size() - used_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec) {  // the gateway closed (or Drain): finish once the answers are out
            self->reading_done_ = true;
            if (!self->writing_) self->Close();
            return;
          }
          self->used_ += n;
          if (!self->Answer()) return self->Close();
          self->Read();
        });
  }

  // Routes every whole frame read so far; false on a protocol error.
  bool Answer() {
    std::size_t offset = 0;
    std::size_t frame_bytes = 0;  // of the frame at `offset`, once its header is there
    answers_.Clear();
    for (;;) {
      std::string_view payload;
      RouteLinkFrameState state =
          NextRouteLinkFrame(std::string_view(in_.data() + offset, used_ - offset),
                             server_.options_.max_frame_bytes, &payload, &frame_bytes);
      if (state == RouteLinkFrameState::kTooLarge) {
        spdlog::warn("route_link_rejected peer={} reason=\"frame larger than {} bytes\"", Peer(),
                     server_.options_.max_frame_bytes);
        return false;
      }
      if (state == RouteLinkFrameState::kIncomplete) break;
      if (!calls_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
        spdlog::warn("route_link_rejected peer={} reason=\"frame is not a RouteStreamRequest\"",
                     Peer());
        return false;
      }
      for (const v1::RouteCall& call : calls_.calls()) {
        server_.answer_(call, answers_.add_results());
      }
      offset += frame_bytes;
    }
    if (offset > 0) {
      std::memmove(in_.data(), in_.data() + offset, used_ - offset);
      used_ -= offset;
    }
    // A frame longer than the buffer: make room for all of it.
    need_ = frame_bytes > 0 ? frame_bytes + kFirstReadBytes : 0;
    if (answers_.results_size() > 0) {
      AppendRouteLinkFrame(answers_, &pending_);
      Write();
    }
    return true;
  }

  void Write() {
    if (writing_ || pending_.empty() || closed_) return;
    writing_ = true;
    sending_.swap(pending_);
    pending_.clear();
    asio::async_write(socket_, asio::buffer(sending_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->writing_ = false;
                        self->sending_.clear();
                        if (ec) return self->Close();
                        if (!self->pending_.empty()) return self->Write();
                        if (self->reading_done_) self->Close();
                      });
  }

  tcp::socket socket_;
  RouteLinkServer& server_;
  char preamble_[kRouteLinkPreamble.size()] = {};
  std::string in_;
  std::size_t used_ = 0;
  std::size_t need_ = 0;
  v1::RouteStreamRequest calls_;
  v1::RouteStreamResponse answers_;
  std::string pending_;  // answers waiting for the write in flight
  std::string sending_;  // the write in flight
  bool writing_ = false;
  bool reading_done_ = false;
  bool draining_ = false;
  bool closed_ = false;
};

RouteLinkServer::RouteLinkServer(RouteLinkServerOptions options, AnswerFunction answer,
                                 prometheus::Gauge* open_connections)
    : options_(std::move(options)),
      answer_(std::move(answer)),
      open_connections_(open_connections) {}

RouteLinkServer::~RouteLinkServer() { Stop(std::chrono::milliseconds(0)); }

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
          spdlog::warn("route_link_accept_failed error=\"{}\"", ec.message());
          auto timer = std::make_shared<asio::steady_timer>(*contexts_[0]);
          timer->expires_after(std::chrono::milliseconds(100));
          timer->async_wait([this, timer](boost::system::error_code wait_ec) {
            if (!wait_ec && listener_->acceptor->is_open()) Accept();
          });
          return;
        }
        socket.set_option(tcp::no_delay(true), ec);
        auto connection = std::make_shared<Connection>(std::move(socket), *this);
        {
          absl::MutexLock lock(&listener_->mu);
          listener_->connections.insert(connection);
        }
        // The socket belongs to its own context: start it there.
        asio::post(connection->executor(), [connection] { connection->Start(); });
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
