// Decision's end of the route link (common/route_link.h): a TCP (or mutual TLS) listener whose
// connections are each served on one event-loop thread, which reads a batch of calls, routes it
// and writes the answers without handing work to another thread.
#ifndef LLMROUTER_SERVICES_DECISION_ROUTE_LINK_SERVER_H_
#define LLMROUTER_SERVICES_DECISION_ROUTE_LINK_SERVER_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/route_link.h"
#include "common/route_link_tls.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio
namespace prometheus {
class Gauge;
}  // namespace prometheus

namespace llmrouter::decision {

struct RouteLinkServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;  // 0 picks a free port
  // Event-loop threads; connections are spread over them.
  int threads = 1;
  // A larger frame closes its connection. A connection's input buffer grows with the bytes that
  // arrive, never ahead of them to the size a header announces.
  std::size_t max_frame_bytes = kRouteLinkMaxFrameBytes;
  // A connection is not read while more answers than this wait to be written (its gateway does
  // not read them), and is read again once they are written.
  std::size_t max_unwritten_bytes = 4 << 20;
  // From the accept until the preamble has arrived (the TLS handshake included); past it the
  // connection is closed.
  std::chrono::milliseconds preamble_timeout{2000};
  // Connections open at once; one accepted beyond it is closed at once.
  int max_connections = 1024;
  // Mutual TLS when set: a connection must complete a handshake presenting a certificate that
  // chains to the CA before anything else. Null: plaintext.
  std::shared_ptr<RouteLinkTls> tls;
};

// Why the server closed a connection on its own (the reason label of
// llmrouter_decision_route_link_rejected_total).
enum class RouteLinkRejection {
  kConnectionCap,    // accepted beyond max_connections
  kPreambleTimeout,  // no preamble (or TLS handshake) within preamble_timeout
  kBadPreamble,      // not a route link client
  kTlsHandshake,     // no valid client certificate, or not TLS at all
  kFrameTooLarge,    // a frame header announcing more than max_frame_bytes
  kMalformedFrame,   // a payload that is no RouteStreamRequest
};
inline constexpr int kRouteLinkRejectionCount = 6;

// What the server reports; null members are not reported.
struct RouteLinkServerMetrics {
  prometheus::Gauge* connections = nullptr;
  prometheus::Family<prometheus::Counter>* rejected = nullptr;  // {reason}
  prometheus::Counter* read_pauses = nullptr;
};

// Started and stopped from one thread. `answer` must be safe to call from every event-loop
// thread at once and must not block (DecisionServiceImpl::AnswerCall reads an immutable
// snapshot). A connection that breaks a limit or the protocol is logged, counted and closed; the
// server keeps serving. Per connection, memory is bounded by about max_frame_bytes of input plus
// max_unwritten_bytes of answers plus the answers to one read.
class RouteLinkServer {
 public:
  using AnswerFunction = std::function<void(const v1::RouteCall&, v1::RouteResult*)>;

  RouteLinkServer(RouteLinkServerOptions options, AnswerFunction answer,
                  RouteLinkServerMetrics metrics);
  ~RouteLinkServer();

  // Binds and starts the threads. Unavailable when the address cannot be bound.
  absl::Status Start();
  int port() const { return port_; }
  // Stops accepting and tells every connection's gateway that it is going away: gateways send
  // no more calls there and close once their calls in flight are answered, which the server
  // keeps doing. Waits up to `grace` for that, then cuts what is left.
  void Stop(std::chrono::milliseconds grace);

  // Bytes held in connection buffers (input, answers waiting and being written), now and at
  // most since the start; safe from any thread.
  std::size_t buffered_bytes() const { return buffered_.load(); }
  std::size_t peak_buffered_bytes() const { return peak_buffered_.load(); }
  int connections() const { return live_.load(); }

 private:
  class Connection;
  struct Listener;
  void Accept();
  void Reject(RouteLinkRejection reason);
  // Adds `delta` (may wrap as a negative) to the buffered bytes and follows the peak.
  void AddBuffered(std::size_t delta);

  const RouteLinkServerOptions options_;
  const AnswerFunction answer_;
  const RouteLinkServerMetrics metrics_;
  std::array<prometheus::Counter*, kRouteLinkRejectionCount> rejected_{};
  std::atomic<int> live_{0};
  std::atomic<std::size_t> buffered_{0};
  std::atomic<std::size_t> peak_buffered_{0};
  std::atomic<bool> stopping_{false};  // connections accepted from now on go away at once
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<std::thread> threads_;
  std::unique_ptr<Listener> listener_;
  std::size_t next_context_ = 0;
  int port_ = 0;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ROUTE_LINK_SERVER_H_
