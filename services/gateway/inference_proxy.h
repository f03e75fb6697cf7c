// The proxy path shared by chat completions, completions and embeddings: ask decision where the
// request goes, send the client's bytes there, follow the fallback plan while nothing has
// reached the client, and relay the answer (streams chunk by chunk).
#ifndef LLMROUTER_SERVICES_GATEWAY_INFERENCE_PROXY_H_
#define LLMROUTER_SERVICES_GATEWAY_INFERENCE_PROXY_H_

// Boost 1.74's coroutine headers need <utility> first with g++ 12; keep it first.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http_server.h"
#include "common/log_throttle.h"
#include "common/reloadable.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/gateway/decision_client.h"
#include "services/gateway/fail_safe_table.h"
#include "services/gateway/gateway_metrics.h"
#include "services/gateway/outcome_reporter.h"
#include "services/gateway/rate_limiter.h"
#include "services/gateway/request_inspector.h"
#include "services/gateway/request_record.h"
#include "services/gateway/retry_policy.h"
#include "services/gateway/route_link_client.h"
#include "services/gateway/upstream_credentials.h"
#include "services/gateway/upstream_exchange.h"
#include "services/gateway/upstream_pool.h"
#include "services/gateway/usage_scanner.h"

namespace llmrouter::gateway {

class ClientWatch;

struct InferenceProxyOptions {
  // The gateway's own region, sent with every routing request (a client's x-router-region
  // counts only for tenants whose policy trusts it).
  std::string region;
  std::chrono::milliseconds decision_timeout{250};
  // Decision's route link; an empty target routes over gRPC only. Each worker thread keeps its
  // own connections; a call the link cannot carry goes over gRPC.
  RouteLinkClientOptions route_link;
  // Targets tried per request: the chosen one plus fallbacks.
  int max_attempts = 3;
  // Per attempt, for the response header; while relaying, for each gap between pieces.
  std::chrono::milliseconds upstream_timeout{60000};
  // Over all attempts of one request, until a backend's response header arrived; 0: no limit
  // beyond the attempts' own. Past it the request gets 504 and no further fallback is tried.
  std::chrono::milliseconds request_timeout{0};
  // Where requests go when decision is unreachable or past its deadline; null or empty: such
  // requests get 503. Read afresh by every request that needs it, so a reload applies at once.
  std::shared_ptr<const Reloadable<FailSafeTable>> fail_safe;
  // Authorization the gateway itself presents to some backends; null: none. Read once per
  // request.
  std::shared_ptr<const Reloadable<UpstreamCredentials>> upstream_credentials;
  // Where the outcome of every attempt goes (batched, off the request path); null: nowhere.
  std::shared_ptr<OutcomeReporter> outcomes;
  UpstreamPoolOptions pool;
  RequestInspectorOptions inspector;
  // Back-off, Retry-After and the budget that bound how fallbacks are tried.
  RetryPolicyOptions retry;
  // The rate limits' clock (wall-clock milliseconds); null: the system clock. For tests.
  RateLimiter::Clock rate_limit_clock;
};

// Set by the gateway on a request that came with a known API key: the key's identifier
// (ApiKeyStore::Identity::key_id), for its rate limits. A client's own is removed; like every
// x-router-* header it is not forwarded to backends.
inline constexpr char kApiKeyIdHeader[] = "x-router-api-key-id";

// The status counted (and logged) for a request whose client left before any answer (nginx's
// "client closed request"); nothing is written back.
inline constexpr int kClientClosedRequest = 499;

// What the proxy answered, for metrics and for the connection loop.
struct ProxyOutcome {
  int http_status = 0;
  bool keep_alive = false;
};

// An InferenceProxy is shared by all worker threads: Serve() may run concurrently on each. What
// is not thread-safe (the body inspector and the connection pool) is kept per thread. Every
// failure is answered to the client in the OpenAI error shape; once a stream has started, a
// failure ends it with an SSE error event.
class InferenceProxy {
 public:
  InferenceProxy(InferenceProxyOptions options, DecisionClient& decision, GatewayMetrics& metrics);

  // Sets up the calling thread's worker state (connection pool, decision link) for the event
  // loop of `executor`, which that thread runs; Serve() does it on first use otherwise.
  void StartWorker(boost::asio::any_io_executor executor);

  // Serves one request that arrived on `client`; `keep_alive` is what the response may
  // promise. What it learns about the request goes to `record` when given. Must run on the
  // thread of the io_context that `client` belongs to.
  boost::asio::awaitable<ProxyOutcome> Serve(boost::beast::tcp_stream& client, HttpRequest& request,
                                             v1::RequestKind kind, bool keep_alive,
                                             RequestRecord* record = nullptr);

  RateLimiter& rate_limiter() { return rate_limiter_; }

 private:
  struct Worker;
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // What an attempt's outcome report and usage metrics need to know.
  struct Attempt {
    const v1::Target* target;
    const std::string* tenant;
    const std::string* decision_id;
    double estimated_cost_usd;
    std::chrono::steady_clock::time_point request_start;
    std::chrono::steady_clock::time_point start;
    // Corrected by the usage the backend reports; null without rate limits.
    RateLimiter::Lease* rate_limit;
    RequestRecord* request_record;  // null: not recorded
  };

  // One request as it goes through Serve's stages.
  struct Call {
    boost::beast::tcp_stream& client;
    HttpRequest& request;
    bool keep_alive;
    std::chrono::steady_clock::time_point start;
    Worker& worker;
    RequestRecord* record;  // null: not recorded
  };
  // What every attempt of one request shares.
  struct TargetPlan {
    const v1::RouteRequestResponse& decision;
    const std::string& tenant;
    bool explain;
    std::shared_ptr<const UpstreamCredentials> credentials;
    // What the request's rate limits hold for it, and the x-ratelimit-* headers of its answer.
    RateLimiter::Lease* rate_limit;
    const Headers& rate_limit_headers;
  };
  // Why an attempt gave no answer, and the pause its backend asked for, if it did.
  struct AttemptFailure {
    std::string message;
    std::optional<std::chrono::seconds> retry_after;
  };

  Worker& LocalWorker(const boost::asio::any_io_executor& executor);
  // Stage 2: the routing decision, over the route link when it is up, else gRPC, else (decision
  // unreachable or too slow) the fail-safe table.
  boost::asio::awaitable<absl::StatusOr<v1::RouteRequestResponse>> Decide(
      Worker& worker, v1::RouteRequestRequest route, std::string_view model);
  // Stage 3: the decision's target and fallbacks in turn, within the retry budget and the
  // request deadline, until one answers; 502 naming every failure when none does.
  boost::asio::awaitable<ProxyOutcome> TryTargets(Call& call, const InspectedRequest& inspected,
                                                  const v1::RouteRequestResponse& decision,
                                                  const std::string& tenant, bool explain,
                                                  RateLimiter::Lease* rate_limit,
                                                  const Headers& rate_limit_headers);
  // 504 naming the attempts' failures: the request deadline passed.
  boost::asio::awaitable<ProxyOutcome> WriteDeadlineError(Call& call,
                                                          const std::vector<std::string>& failures,
                                                          const Headers& rate_limit_headers);
  // One attempt: the answer written to the client, or nullopt and *failure when this target
  // gave none (or the client left, which `watch` tells).
  boost::asio::awaitable<std::optional<ProxyOutcome>> TryTarget(
      Call& call, const InspectedRequest& inspected, const TargetPlan& plan,
      const v1::Target& target, std::size_t attempt, UpstreamExchange& exchange,
      const ClientWatch& watch, AttemptFailure* failure);
  // Reports one attempt to inventory and, when the backend reported usage, counts its tokens.
  void RecordOutcome(const Attempt& attempt, int http_status, std::string_view error,
                     const TokenUsage& usage, double ttft_seconds);
  // Relays a streamed answer (chunked or until close) piece by piece as it arrives.
  boost::asio::awaitable<ProxyOutcome> Relay(boost::beast::tcp_stream& client,
                                             const HttpRequest& request, UpstreamExchange& exchange,
                                             const Headers& headers, bool keep_alive,
                                             const Attempt& attempt);

  InferenceProxyOptions options_;
  DecisionClient& decision_;
  GatewayMetrics& metrics_;
  RetryBudget retry_budget_;
  RateLimiter rate_limiter_;
  LogThrottle fail_safe_log_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_INFERENCE_PROXY_H_
