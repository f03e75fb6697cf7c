#include "services/gateway/route_link_client.h"

#include <prometheus/gauge.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <functional>
#include <queue>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/logging.h"
#include "common/route_link.h"

namespace llmrouter::gateway {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr absl::string_view kLinkFailureUrl = "type.llmrouter.dev/route-link-failure";
constexpr std::size_t kReadBytes = 16 << 10;
// Buffers that grew past this for a burst are given back once it is over.
constexpr std::size_t kKeptBytes = 256 << 10;
constexpr std::chrono::milliseconds kFirstBackoff{50};

absl::Status LinkFailure(std::string message) {
  absl::Status status = absl::UnavailableError(std::move(message));
  status.SetPayload(kLinkFailureUrl, absl::Cord("1"));
  return status;
}

}  // namespace

bool IsRouteLinkFailure(const absl::Status& status) {
  return status.GetPayload(kLinkFailureUrl).has_value();
}

namespace {

// Calls are not queued on a connection whose unsent bytes exceed this (a write that does not
// complete): they go to another connection, or fail as link failures and go over gRPC.
constexpr std::size_t kMaxBacklogBytes = 32 << 20;

// One connection to one decision address, reconnecting with back-off after a failure. A call
// leaves at once when no write is in flight; otherwise it queues in `batch_` (a frame being
// built, its 4-byte header left blank) and leaves with the others when the write completes.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Clock = RouteLinkClient::Clock;

  Connection(asio::any_io_executor executor, tcp::endpoint endpoint, std::string host,
             const RouteLinkClientOptions& options, prometheus::Gauge* gauge,
             std::shared_ptr<int> up_count)
      : executor_(executor),
        endpoint_(std::move(endpoint)),
        host_(std::move(host)),
        options_(options),
        gauge_(gauge),
        up_count_(std::move(up_count)),
        socket_(executor),
        timer_(executor),
        expiry_timer_(executor) {}

  const tcp::endpoint& endpoint() const { return endpoint_; }
  bool up() const { return up_; }
  // Up, not going away, and not backed up behind a write that does not complete.
  bool accepting() const {
    return up_ && !going_away_ && out_.size() + batch_.size() < kMaxBacklogBytes;
  }

  // Connects, and with TLS shakes hands, within the connect timeout.
  void Connect() {
    if (options_.tls) {
      // A stream per connection, kept alive by the handlers of its operations: one that broke
      // may still have some queued when the next one starts.
      tls_context_ = options_.tls->context();
      tls_ = std::make_shared<TlsStream>(executor_, *tls_context_);
      tls_->set_verify_callback(asio::ssl::host_name_verification(host_));
      boost::system::error_code not_ip;
      asio::ip::make_address(host_, not_ip);
      if (not_ip) SSL_set_tlsext_host_name(tls_->native_handle(), host_.c_str());  // SNI
    } else {
      socket_ = tcp::socket(executor_);
    }
    const std::uint64_t generation = ++generation_;
    timer_.expires_after(options_.connect_timeout);
    timer_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
      if (!ec && generation == self->generation_ && !self->up_) {
        boost::system::error_code ignored;
        self->socket().close(ignored);  // the connect completes with operation_aborted
      }
    });
    socket().async_connect(endpoint_, [self = shared_from_this(), generation,
                                       keep = tls_](boost::system::error_code ec) {
      if (generation != self->generation_ || self->closed_) return;
      if (ec) {
        self->timer_.cancel();
        return self->Broken(ec == asio::error::operation_aborted ? "connect timed out"
                                                                 : ec.message());
      }
      self->socket().set_option(tcp::no_delay(true), ec);
      if (!keep) return self->Connected();
      keep->async_handshake(asio::ssl::stream_base::client, [self, generation, keep](
                                                                boost::system::error_code hs_ec) {
        if (generation != self->generation_ || self->closed_) return;
        self->timer_.cancel();
        if (hs_ec) {
          return self->Broken(hs_ec == asio::error::operation_aborted
                                  ? "TLS handshake timed out"
                                  : absl::StrCat("TLS handshake: ", hs_ec.message()));
        }
        self->Connected();
      });
    });
  }

  // Queues one call; the connection must be up.
  void Send(std::uint64_t id, const v1::RouteRequestRequest& request, Clock::time_point deadline,
            RouteLinkClient::Callback done) {
    if (batch_.empty()) batch_.assign(kRouteLinkFrameHeaderBytes, '\0');
    const std::size_t before = batch_.size();
    AppendRouteCall(id, request, &batch_);
    if (batch_.size() - before > kRouteLinkMaxFrameBytes) {  // decision would close the link
      const std::size_t call_bytes = batch_.size() - before;
      batch_.resize(before);
      asio::post(executor_, [done = std::move(done), call_bytes] {
        done(LinkFailure(absl::StrCat("a routing call of ", call_bytes,
                                      " bytes is larger than a route link frame")));
      });
      return;
    }
    if (batch_.size() - kRouteLinkFrameHeaderBytes > kRouteLinkMaxFrameBytes) {
      // The calls before this one fill a frame: they leave in it, this one starts the next.
      std::string call = batch_.substr(before);
      batch_.resize(before);
      Seal();
      batch_.assign(kRouteLinkFrameHeaderBytes, '\0');
      batch_.append(call);
    }
    pending_.emplace(id, std::move(done));
    expiry_.push({deadline, id, Clock::now()});
    ArmExpiry();
    // Nothing in flight: the call leaves at once. Otherwise it waits with the calls arriving
    // meanwhile for the write to complete, and they leave together.
    if (!writing_ || batch_.size() >= options_.max_batch_bytes) Seal();
  }

  // Takes no more calls and closes once the calls in flight are answered.
  void Retire() {
    retired_ = true;
    if (pending_.empty()) Close();
  }

  // Closes now; callbacks of calls in flight are dropped.
  void Close() {
    if (closed_) return;
    closed_ = true;
    ++generation_;
    SetUp(false);
    pending_.clear();
    expiry_ = {};
    timer_.cancel();
    expiry_timer_.cancel();
    boost::system::error_code ec;
    socket().close(ec);
  }

 private:
  using TlsStream = asio::ssl::stream<tcp::socket>;

  std::string Name() const {
    return absl::StrCat(endpoint_.address().to_string(), ":", endpoint_.port());
  }

  tcp::socket& socket() { return tls_ ? tls_->next_layer() : socket_; }

  // Runs `f` with the connection's stream and what keeps it alive: the TLS stream or the plain
  // socket (and null).
  template <typename F>
  void WithStream(F&& f) {
    if (tls_) {
      f(*tls_, tls_);
    } else {
      f(socket_, tls_);
    }
  }

  void Connected() {
    timer_.cancel();
    // A new connection, possibly to a restarted decision: whatever the last one said (going
    // away) or left unanswered belongs to that one.
    going_away_ = false;
    last_answer_ = Clock::now();
    SetUp(true);
    backoff_ = kFirstBackoff;
    spdlog::info("route_link_connected endpoint={} tls={}", Name(), tls_ != nullptr);
    out_.append(kRouteLinkPreamble);
    Write();
    Read();
  }

  void SetUp(bool up) {
    up_ = up;
    Count();
  }

  // A connection counts as up (ready(), the gauge) while it takes calls: connected and not
  // going away.
  void Count() {
    const bool counted = up_ && !going_away_;
    if (counted == counted_) return;
    counted_ = counted;
    *up_count_ += counted ? 1 : -1;
    if (gauge_) counted ? gauge_->Increment() : gauge_->Decrement();
  }

  // Frames the batch and hands it to the writer.
  void Seal() {
    if (batch_.size() <= kRouteLinkFrameHeaderBytes || !up_) return;
    PutRouteLinkFrameHeader(batch_.size() - kRouteLinkFrameHeaderBytes, batch_.data());
    if (out_.empty()) {
      out_.swap(batch_);
    } else {
      out_.append(batch_);
    }
    batch_.clear();
    Write();
  }

  void Write() {
    if (writing_ || out_.empty() || !up_) return;
    writing_ = true;
    sending_.swap(out_);
    out_.clear();
    WithStream([this](auto& stream, const std::shared_ptr<TlsStream>& keep) {
      asio::async_write(stream, asio::buffer(sending_),
                        [self = shared_from_this(), generation = generation_, keep](
                            boost::system::error_code ec, std::size_t) {
                          if (generation != self->generation_) return;
                          self->writing_ = false;
                          self->sending_.clear();
                          if (self->sending_.capacity() > kKeptBytes) {
                            std::string().swap(self->sending_);
                          }
                          if (ec) return self->Broken(ec.message());
                          self->Seal();
                          self->Write();
                        });
    });
  }

  void Read() {
    // The buffer grows with the bytes that arrive (doubling), not to a size a header announces.
    if (in_.size() - used_ < kReadBytes / 2) {
      in_.resize(std::max(in_.size() * 2, used_ + kReadBytes));
    }
    WithStream([this](auto& stream, const std::shared_ptr<TlsStream>& keep) {
      stream.async_read_some(
          asio::buffer(in_.data() + used_, in_.size() - used_),
          [self = shared_from_this(), generation = generation_, keep](boost::system::error_code ec,
                                                                      std::size_t n) {
            if (generation != self->generation_) return;
            if (ec) {
              return self->Broken(ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                                      ? "decision closed the connection"
                                      : ec.message());
            }
            self->used_ += n;
            if (!self->Deliver()) return;
            self->Read();
          });
    });
  }

  // Answers every call whose result has arrived; false when the connection broke.
  bool Deliver() {
    std::size_t offset = 0;
    std::size_t frame_bytes = 0;  // of the frame at `offset`, once its header is there
    for (;;) {
      std::string_view payload;
      RouteLinkFrameState state =
          NextRouteLinkFrame(std::string_view(in_.data() + offset, used_ - offset),
                             kRouteLinkMaxAnswerFrameBytes, &payload, &frame_bytes);
      if (state == RouteLinkFrameState::kIncomplete) break;
      if (state == RouteLinkFrameState::kTooLarge ||
          !answers_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
        Broken("decision sent a malformed frame");
        return false;
      }
      offset += frame_bytes;
      last_answer_ = Clock::now();
      if (answers_.results_size() == 0) {  // decision is shutting down
        going_away_ = true;
        Count();
      }
      for (v1::RouteResult& result : *answers_.mutable_results()) {
        auto it = pending_.find(result.id());
        if (it == pending_.end()) continue;  // expired meanwhile
        RouteLinkClient::Callback done = std::move(it->second);
        pending_.erase(it);
        if (result.status_code() == 0) {
          done(std::move(*result.mutable_response()));
        } else {
          done(RouteResultStatus(result));
        }
      }
    }
    if (offset > 0) {
      std::memmove(in_.data(), in_.data() + offset, used_ - offset);
      used_ -= offset;
    }
    if (in_.size() > kKeptBytes && used_ <= kReadBytes / 2) {  // a burst is over
      std::string smaller(kReadBytes, '\0');
      std::memcpy(smaller.data(), in_.data(), used_);
      in_.swap(smaller);
    }
    if (retired_ && pending_.empty()) {
      Close();
      return false;
    }
    if (going_away_ && pending_.empty()) {
      Broken("decision is going away", /*expected=*/true);
      return false;
    }
    return true;
  }

  // Keeps the timer at the earliest deadline. With one timeout for every call it is moved only
  // when it fires: later calls have later deadlines.
  void ArmExpiry() {
    if (expiry_.empty()) return;
    const Clock::time_point at = expiry_.top().deadline;
    if (expiry_armed_ && expiry_timer_.expiry() <= at) return;
    expiry_armed_ = true;
    const std::uint64_t generation = ++expiry_generation_;
    expiry_timer_.expires_at(at);  // a later wait completes as cancelled and is ignored
    expiry_timer_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
      if (generation != self->expiry_generation_) return;
      self->expiry_armed_ = false;
      if (ec || self->closed_) return;
      self->Expire();
    });
  }

  // Fails the calls past their deadline. Calls answered meanwhile leave the queue here too. A
  // connection on which nothing was answered since an expired call was sent is stalled (decision
  // hung, or the peer vanished without a reset): it is broken off, so that its other calls go
  // over gRPC at once instead of waiting for their deadlines too.
  void Expire() {
    const Clock::time_point now = Clock::now();
    bool stalled = false;
    while (!expiry_.empty()) {
      const Expiry front = expiry_.top();
      auto it = pending_.find(front.id);
      if (it != pending_.end() && front.deadline > now) break;
      expiry_.pop();
      if (it == pending_.end()) continue;
      stalled = stalled || last_answer_ < front.sent_at;
      RouteLinkClient::Callback done = std::move(it->second);
      pending_.erase(it);
      done(absl::DeadlineExceededError(
          absl::StrCat("decision at ", Name(), " did not answer on the route link in time")));
    }
    if (retired_ && pending_.empty()) return Close();
    if (stalled && up_) return Broken("no answer within the deadline: the connection is stalled");
    if (going_away_ && pending_.empty() && up_) {
      return Broken("decision is going away", /*expected=*/true);
    }
    ArmExpiry();
  }

  // The connection failed: its calls fail as link failures and it reconnects after back-off.
  // `expected`: decision said it was going away; logged as such.
  void Broken(const std::string& reason, bool expected = false) {
    const bool was_up = up_;
    ++generation_;
    SetUp(false);
    boost::system::error_code ec;
    socket().close(ec);
    writing_ = false;
    sending_.clear();
    out_.clear();
    batch_.clear();
    used_ = 0;
    const std::size_t failed = pending_.size();
    absl::flat_hash_map<std::uint64_t, RouteLinkClient::Callback> calls;
    calls.swap(pending_);
    expiry_ = {};
    const absl::Status status =
        LinkFailure(absl::StrCat("route link to decision at ", Name(), " broke: ", reason));
    for (auto& [id, done] : calls) done(status);
    if (expected && failed == 0) {
      spdlog::info("route_link_closed endpoint={} reason=\"{}\"", Name(), reason);
    } else if (was_up || failed > 0) {
      spdlog::warn("route_link_broken endpoint={} error=\"{}\" calls_failed={}", Name(), reason,
                   failed);
    } else {
      spdlog::debug("route_link_connect_failed endpoint={} error=\"{}\"", Name(), reason);
    }
    if (closed_ || retired_) return Close();
    timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, options_.max_backoff);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
      if (!wait_ec && !self->closed_) self->Connect();
    });
  }

  asio::any_io_executor executor_;
  const tcp::endpoint endpoint_;
  const std::string host_;  // the target's host: the name decision's certificate must have
  const RouteLinkClientOptions options_;
  prometheus::Gauge* const gauge_;
  const std::shared_ptr<int> up_count_;              // connections up, shared with the client
  tcp::socket socket_;                               // without TLS
  std::shared_ptr<TlsStream> tls_;                   // with TLS: the current connection's stream
  std::shared_ptr<asio::ssl::context> tls_context_;  // the one tls_ was made with
  asio::steady_timer timer_;                         // connect timeout, then reconnect back-off
  asio::steady_timer expiry_timer_;
  // Bumped whenever the socket is replaced or closed: handlers of an older one do nothing.
  std::uint64_t generation_ = 0;
  bool up_ = false;
  bool counted_ = false;  // in the client's count of connections up, and in the gauge
  bool retired_ = false;
  bool closed_ = false;
  std::chrono::milliseconds backoff_ = kFirstBackoff;

  absl::flat_hash_map<std::uint64_t, RouteLinkClient::Callback> pending_;
  struct Expiry {
    Clock::time_point deadline;
    std::uint64_t id;
    Clock::time_point sent_at;
    bool operator>(const Expiry& other) const { return deadline > other.deadline; }
  };
  // Earliest deadline on top; answered calls leave when they reach it.
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiry_;
  Clock::time_point last_answer_;  // when the last frame arrived (or the connection came up)
  bool going_away_ = false;        // decision said so: no more calls here
  bool expiry_armed_ = false;
  std::uint64_t expiry_generation_ = 0;

  std::string batch_;    // the frame being built
  std::string out_;      // framed bytes waiting for the write in flight
  std::string sending_;  // the write in flight
  bool writing_ = false;

  std::string in_;
  std::size_t used_ = 0;
  v1::RouteStreamResponse answers_;
};

}  // namespace

struct RouteLinkClient::Shared : std::enable_shared_from_this<Shared> {
  Shared(asio::any_io_executor executor, RouteLinkClientOptions options, prometheus::Gauge* gauge)
      : executor(executor),
        options(std::move(options)),
        gauge(gauge),
        resolver(executor),
        resolve_timer(executor) {}

  void Resolve() {
    resolver.async_resolve(
        host, port,
        [self = shared_from_this()](boost::system::error_code ec,
                                    const tcp::resolver::results_type& results) {
          if (self->stopped) return;
          if (ec) {
            if (!self->resolve_failing) {
              spdlog::warn("route_link_resolve_failed target={} error=\"{}\"", self->options.target,
                           ec.message());
            }
            self->resolve_failing = true;
          } else {
            self->resolve_failing = false;
            self->Follow(results);
          }
          self->resolve_timer.expires_after(self->options.resolve_interval);
          self->resolve_timer.async_wait([self](boost::system::error_code wait_ec) {
            if (!wait_ec && !self->stopped) self->Resolve();
          });
        });
  }

  // Connects to addresses that appeared and retires connections to those that went.
  void Follow(const tcp::resolver::results_type& results) {
    std::vector<tcp::endpoint> seen;
    for (const auto& entry : results) {
      if (std::find(seen.begin(), seen.end(), entry.endpoint()) == seen.end()) {
        seen.push_back(entry.endpoint());
      }
    }
    std::vector<std::shared_ptr<Connection>> kept;
    for (auto& connection : connections) {
      if (std::find(seen.begin(), seen.end(), connection->endpoint()) == seen.end()) {
        spdlog::info("route_link_retired endpoint={}:{}",
                     connection->endpoint().address().to_string(), connection->endpoint().port());
        connection->Retire();
      } else {
        kept.push_back(std::move(connection));
      }
    }
    for (const tcp::endpoint& endpoint : seen) {
      auto known = std::find_if(kept.begin(), kept.end(),
                                [&](const auto& c) { return c->endpoint() == endpoint; });
      if (known != kept.end()) continue;
      kept.push_back(std::make_shared<Connection>(executor, endpoint, host, options, gauge, up));
      kept.back()->Connect();
    }
    connections = std::move(kept);
  }

  void Stop() {
    stopped = true;
    resolve_timer.cancel();
    resolver.cancel();
    for (auto& connection : connections) connection->Close();
    connections.clear();
  }

  asio::any_io_executor executor;
  const RouteLinkClientOptions options;
  prometheus::Gauge* const gauge;
  std::string host;
  std::string port;
  tcp::resolver resolver;
  asio::steady_timer resolve_timer;
  std::vector<std::shared_ptr<Connection>> connections;
  std::size_t next = 0;
  std::uint64_t next_id = 1;
  std::shared_ptr<int> up = std::make_shared<int>(0);
  bool stopped = false;
  bool resolve_failing = false;
};

RouteLinkClient::RouteLinkClient(asio::any_io_executor executor, RouteLinkClientOptions options,
                                 prometheus::Gauge* connections)
    : shared_(std::make_shared<Shared>(executor, std::move(options), connections)) {
  std::string_view target = shared_->options.target;
  if (target.starts_with("dns:///")) target.remove_prefix(7);
  const std::size_t colon = target.rfind(':');
  shared_->host = std::string(target.substr(0, colon == std::string_view::npos ? 0 : colon));
  shared_->port =
      colon == std::string_view::npos ? std::string() : std::string(target.substr(colon + 1));
  if (shared_->host.size() > 2 && shared_->host.front() == '[' && shared_->host.back() == ']') {
    shared_->host = shared_->host.substr(1, shared_->host.size() - 2);
  }
  // The first resolve runs on the event loop, like everything else of the link.
  asio::post(executor, [shared = shared_] {
    if (!shared->stopped) shared->Resolve();
  });
}

RouteLinkClient::~RouteLinkClient() { shared_->Stop(); }

bool RouteLinkClient::ready() const { return *shared_->up > 0; }

void RouteLinkClient::Route(const v1::RouteRequestRequest& request, Clock::time_point deadline,
                            Callback done) {
  Shared& s = *shared_;
  const std::size_t n = s.connections.size();
  for (std::size_t i = 0; i < n; ++i) {
    Connection& connection = *s.connections[(s.next + i) % n];
    if (!connection.accepting()) continue;
    s.next = (s.next + i + 1) % n;
    connection.Send(s.next_id++, request, deadline, std::move(done));
    return;
  }
  asio::post(s.executor, [done = std::move(done), target = s.options.target]() mutable {
    done(LinkFailure(absl::StrCat("no route link connection to ", target, " is up")));
  });
}

}  // namespace llmrouter::gateway
