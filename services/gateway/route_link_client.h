// The gateway's end of the route link (common/route_link.h): routing calls to decision over
// TCP (or mutual TLS) connections driven by the worker's own event loop, so that a decision
// costs no thread hand-off in the gateway.
#ifndef LLMROUTER_SERVICES_GATEWAY_ROUTE_LINK_CLIENT_H_
#define LLMROUTER_SERVICES_GATEWAY_ROUTE_LINK_CLIENT_H_

// Boost 1.74's coroutine headers need <utility> first with g++ 12; keep it first.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/route_link_tls.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/gateway/decision_client.h"

namespace prometheus {
class Gauge;
}  // namespace prometheus

namespace llmrouter::gateway {

struct RouteLinkClientOptions {
  // host:port of decision's route link. A host that resolves to several addresses (a headless
  // Service) gets a connection to each, and calls are spread over them round robin.
  std::string target;
  std::chrono::milliseconds connect_timeout{1000};
  // How often the host is resolved again, to follow replicas that come and go.
  std::chrono::milliseconds resolve_interval{5000};
  // Reconnecting after a failure waits 50 ms, doubling up to this: a decision that restarts
  // carries calls again at most this long (plus a connect) after it listens.
  std::chrono::milliseconds max_backoff{1000};
  // Calls queued while a write is in flight leave together; past this many bytes they leave at
  // once in a frame of their own. A frame never exceeds kRouteLinkMaxFrameBytes, and a call
  // larger than that fails as a link failure (it goes over gRPC).
  std::size_t max_batch_bytes = 256 << 10;
  // Mutual TLS when set (the certificate must name the target's host); null: plaintext.
  std::shared_ptr<RouteLinkTls> tls;
};

// A RouteLinkClient belongs to one event loop: an io_context run by one thread. Every method
// must be called on that thread; callbacks run there too. Calls the link cannot carry (no
// connection up, or one that broke with calls in flight) fail with UNAVAILABLE marked by
// IsRouteLinkFailure(), so the caller can ask over gRPC instead; a call unanswered by its
// deadline fails with DEADLINE_EXCEEDED. A connection whose decision says it is going away takes
// no more calls and closes once its calls are answered; one on which nothing was answered since
// an expired call was sent is taken as stalled and broken off (its other calls fail as link
// failures at once). Either reconnects with back-off.
class RouteLinkClient {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void(absl::StatusOr<v1::RouteRequestResponse>)>;

  // Starts resolving and connecting at once. `connections` (may be null) follows the number of
  // connections up and taking calls.
  RouteLinkClient(boost::asio::any_io_executor executor, RouteLinkClientOptions options,
                  prometheus::Gauge* connections);
  // Closes the connections; callbacks of calls in flight are dropped, not called.
  ~RouteLinkClient();
  RouteLinkClient(const RouteLinkClient&) = delete;
  RouteLinkClient& operator=(const RouteLinkClient&) = delete;

  // True while at least one connection is up and takes calls (not going away).
  bool ready() const;
  // Sends the call on the next connection up; `done` runs exactly once, always from a handler
  // of the event loop, never inside Route(). `request` is only read.
  void Route(const v1::RouteRequestRequest& request, Clock::time_point deadline, Callback done);

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

// Whether `status` is a failure of the link itself rather than decision's answer.
bool IsRouteLinkFailure(const absl::Status& status);

// Asks over `link`; with asio::use_awaitable, `co_await` yields the StatusOr. The awaiting
// coroutine resumes inline in the handler that read the answer.
template <typename CompletionToken>
auto AsyncRoute(RouteLinkClient& link, const v1::RouteRequestRequest& request,
                RouteLinkClient::Clock::time_point deadline, CompletionToken&& token) {
  using Result = absl::StatusOr<v1::RouteRequestResponse>;
  return boost::asio::async_initiate<CompletionToken, void(Result)>(
      [&link, &request, deadline](auto handler) {
        link.Route(request, deadline, internal::DispatchToHandler<Result>(std::move(handler)));
      },
      token);
}

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_ROUTE_LINK_CLIENT_H_
