// Decision's end of the route link (common/route_link.h): a TCP listener whose connections are
// each served on one event-loop thread, which reads a batch of calls, routes it and writes the
// answers without handing work to another thread.
#ifndef LLMROUTER_SERVICES_DECISION_ROUTE_LINK_SERVER_H_
#define LLMROUTER_SERVICES_DECISION_ROUTE_LINK_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/route_link.h"

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
  std::size_t max_frame_bytes = kRouteLinkMaxFrameBytes;
};

// Started and stopped from one thread. `answer` must be safe to call from every event-loop
// thread at once and must not block (DecisionServiceImpl::AnswerCall reads an immutable
// snapshot). A connection that breaks the protocol (wrong preamble, oversized frame, a payload
// that is no RouteStreamRequest) is logged and closed; the server keeps serving.
class RouteLinkServer {
 public:
  using AnswerFunction = std::function<void(const v1::RouteCall&, v1::RouteResult*)>;

  // `open_connections` (may be null) follows the number of connections.
  RouteLinkServer(RouteLinkServerOptions options, AnswerFunction answer,
                  prometheus::Gauge* open_connections);
  ~RouteLinkServer();

  // Binds and starts the threads. Unavailable when the address cannot be bound.
  absl::Status Start();
  int port() const { return port_; }
  // Stops accepting and tells every connection's gateway that it is going away: gateways send
  // no more calls there and close once their calls in flight are answered, which the server
  // keeps doing. Waits up to `grace` for that, then cuts what is left.
  void Stop(std::chrono::milliseconds grace);

 private:
  class Connection;
  void Accept();

  const RouteLinkServerOptions options_;
  const AnswerFunction answer_;
  prometheus::Gauge* const open_connections_;
  std::atomic<int> live_{0};
  std::atomic<bool> stopping_{false};  // connections accepted from now on go away at once
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<std::thread> threads_;
  struct Listener;
  std::unique_ptr<Listener> listener_;
  std::size_t next_context_ = 0;
  int port_ = 0;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ROUTE_LINK_SERVER_H_
