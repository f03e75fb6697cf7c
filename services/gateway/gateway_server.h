// The gateway's HTTP front door: the OpenAI-compatible routes, health endpoints, and metrics for
// every request.
#ifndef LLMROUTER_SERVICES_GATEWAY_GATEWAY_SERVER_H_
#define LLMROUTER_SERVICES_GATEWAY_GATEWAY_SERVER_H_

// Boost 1.74's coroutine headers need <utility> first with g++ 12; keep it first.
// clang-format off
#include <utility>
// clang-format on

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <memory>

#include "absl/status/status.h"
#include "common/http_server.h"
#include "services/gateway/access_log.h"
#include "services/gateway/api_key_store.h"
#include "services/gateway/decision_client.h"
#include "services/gateway/gateway_metrics.h"
#include "services/gateway/inference_proxy.h"

namespace llmrouter::gateway {

struct GatewayServerOptions {
  HttpServerOptions http;
  InferenceProxyOptions proxy;
  // Inference requests served at once; more get 503 with Retry-After. 0: no limit.
  int max_concurrent_requests = 0;
  // When set, inference routes and /v1/models need `Authorization: Bearer <key>` of a known key
  // (401 otherwise) and the key's tenant replaces any x-router-tenant header. Null: no auth,
  // x-router-tenant is trusted.
  std::shared_ptr<const ApiKeyStore> api_keys;
  // One line per inference request (a sample of them) when set; must outlive the server.
  AccessLog* access_log = nullptr;
};

// Routes: POST /v1/chat/completions, /v1/completions, /v1/embeddings (proxied, see
// InferenceProxy); GET /v1/models; GET /healthz; GET /readyz (200 only while not stopping and
// either decision is reachable or a fail-safe table is configured; 503 with a reason otherwise).
// Unknown paths get 404 and wrong methods 405, in the OpenAI error shape. Inference requests beyond
// max_concurrent_requests are shed with 503 and Retry-After before any work is done.
//
// Start() and Stop() are called from one thread; requests are served on the HTTP server's
// worker threads. `decision` and `metrics` must outlive the server.
class GatewayServer {
 public:
  GatewayServer(GatewayServerOptions options, DecisionClient& decision, GatewayMetrics& metrics);
  ~GatewayServer();

  // Unavailable when the port cannot be bound.
  absl::Status Start();
  int port() const { return http_.port(); }
  // Leaves rotation without refusing anyone: /readyz answers 503 and every response closes its
  // connection, while new connections are still accepted and served until Stop().
  void BeginStopping() { http_.BeginStopping(); }
  // Stops accepting, lets requests in flight finish within `grace`, then waits for decision
  // calls still out (they end by their deadline) so that none completes into a stopped server.
  void Stop(std::chrono::milliseconds grace);

  // The rate limits' counts, which a RateLimitSync shares with other replicas.
  RateLimiter& rate_limiter() { return proxy_.rate_limiter(); }

 private:
  class InFlightDecisions;

  boost::asio::awaitable<bool> Handle(boost::beast::tcp_stream& stream, HttpRequest& request);
  boost::asio::awaitable<int> ServeModels(boost::beast::tcp_stream& stream,
                                          const HttpRequest& request, bool keep_alive);

  GatewayServerOptions options_;
  std::shared_ptr<InFlightDecisions> decision_;
  GatewayMetrics& metrics_;
  InferenceProxy proxy_;
  HttpServer http_;
  std::atomic<int> inference_in_flight_{0};
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_GATEWAY_SERVER_H_
