// Every metric the gateway exports, declared once and injected.
#ifndef LLMROUTER_SERVICES_GATEWAY_GATEWAY_METRICS_H_
#define LLMROUTER_SERVICES_GATEWAY_GATEWAY_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/http_server.h"
#include "services/gateway/upstream_exchange.h"

namespace llmrouter::gateway {

// Safe for concurrent use (prometheus-cpp metrics are). Label values come from small fixed
// sets: routes are the gateway's own paths, codes are HTTP or canonical status codes.
class GatewayMetrics {
 public:
  explicit GatewayMetrics(prometheus::Registry& registry);

  // One finished HTTP request on `route` (e.g. "chat_completions", "models", "other").
  void RequestDone(std::string_view route, int http_status, double seconds);
  void UpstreamAttempt(AttemptResult result);
  void FallbackTaken() { fallbacks_.Increment(); }
  // A fallback not tried because too many retries were in flight (retry_policy.h).
  void RetryBudgetExhausted() { retry_budget_exhausted_.Increment(); }
  // A request routed by the fail-safe table because decision could not answer.
  void FailSafeRoute() { fail_safe_routes_.Increment(); }
  // A request refused with 503 because the concurrent request limit was reached.
  void RequestShed() { shed_requests_.Increment(); }
  // One decision call: `status` OK or its failure.
  void DecisionDone(const absl::Status& status, double seconds);
  // A decision call the route link could not carry, asked over gRPC instead.
  void DecisionLinkFallback() { decision_link_fallbacks_.Increment(); }
  // Route link connections up, over all worker threads.
  prometheus::Gauge& decision_link_connections() { return decision_link_connections_; }
  // A client connection cut by one of the HTTP server's timeouts.
  void ClientTimedOut(ClientTimeout timeout) {
    client_timeouts_[static_cast<std::size_t>(timeout)]->Increment();
  }
  // Client connections: opened and closed move the open-connections gauge; rejected ones (over
  // --max_connections) are closed at once and counted.
  void Connection(ConnectionEvent event) {
    switch (event) {
      case ConnectionEvent::kOpened:
        connections_.Increment();
        break;
      case ConnectionEvent::kClosed:
        connections_.Decrement();
        break;
      case ConnectionEvent::kRejected:
        connections_rejected_.Increment();
        break;
    }
  }
  // An accept that failed (e.g. out of file descriptors); the listener backs off.
  void AcceptFailed() { accept_errors_.Increment(); }
  // Inference requests being served (routed, proxied, relayed), shed ones aside.
  prometheus::Gauge& requests_in_flight() { return requests_in_flight_; }
  // Time from a request's arrival until the first byte of a streamed answer was relayed.
  void FirstToken(double seconds) { ttft_.Observe(seconds); }
  // Tokens a backend reported for one answer, and decision's cost estimate, by tenant and model.
  // At most kMaxLabelValues distinct tenants and models each get their own series; the rest
  // count under "other".
  void Usage(std::string_view tenant, std::string_view model, uint32_t prompt_tokens,
             uint32_t completion_tokens, double estimated_cost_usd);

  // One attempt on a backend endpoint (a fallback is another attempt), by model, endpoint and
  // track: the variants a rollout compares. `http_status` 0 is no answer (connect failure,
  // timeout, reset); `cancelled` means the client left first. `ttft_seconds` 0: not streamed.
  // At most kMaxLabelValues models, kMaxEndpointLabels endpoints and kMaxTrackLabels tracks get
  // their own series; the rest count under "other".
  struct VariantAttempt {
    std::string_view model;
    std::string_view endpoint;
    std::string_view track;  // empty: "stable"
    int http_status = 0;
    bool cancelled = false;
    double seconds = 0;
    double ttft_seconds = 0;
    uint32_t prompt_tokens = 0;
    uint32_t completion_tokens = 0;
  };
  void Variant(const VariantAttempt& attempt);
  static constexpr std::size_t kMaxEndpointLabels = 500;
  static constexpr std::size_t kMaxTrackLabels = 20;

  // A request refused by its tenant's or API key's rate limit of `kind` ("requests", "tokens",
  // "concurrent"); tenants are bounded like Usage's.
  void RateLimited(std::string_view tenant, std::string_view kind);

  // One reload of the configuration named `config` ("api_keys", "failsafe_routes",
  // "upstream_credentials") that changed: `applied`, or rejected and the previous one kept.
  void ConfigReload(std::string_view config, bool applied);

  static constexpr std::size_t kMaxLabelValues = 100;

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Counter>& upstream_attempts_;
  std::array<prometheus::Counter*, 6> attempt_counters_;
  prometheus::Counter& fallbacks_;
  prometheus::Counter& retry_budget_exhausted_;
  prometheus::Counter& fail_safe_routes_;
  prometheus::Counter& shed_requests_;
  prometheus::Gauge& connections_;
  prometheus::Counter& connections_rejected_;
  prometheus::Counter& accept_errors_;
  prometheus::Gauge& requests_in_flight_;
  prometheus::Family<prometheus::Counter>& client_timeouts_family_;
  std::array<prometheus::Counter*, 3> client_timeouts_;
  prometheus::Family<prometheus::Counter>& decision_errors_;
  prometheus::Histogram& decision_duration_;
  prometheus::Counter& decision_link_fallbacks_;
  prometheus::Gauge& decision_link_connections_;
  prometheus::Histogram& ttft_;
  prometheus::Family<prometheus::Counter>& tokens_;
  prometheus::Family<prometheus::Counter>& cost_;
  prometheus::Family<prometheus::Counter>& config_reloads_;
  prometheus::Family<prometheus::Counter>& rate_limited_;
  prometheus::Family<prometheus::Counter>& upstream_requests_;
  prometheus::Family<prometheus::Histogram>& upstream_duration_;
  prometheus::Family<prometheus::Histogram>& upstream_ttft_;
  prometheus::Family<prometheus::Counter>& upstream_tokens_;
  // One variant's series; the counters per code class: 2xx, 3xx, 4xx, 5xx, error, cancelled.
  struct VariantCells {
    std::array<prometheus::Counter*, 6> by_class{};
    prometheus::Histogram* duration = nullptr;
    prometheus::Histogram* ttft = nullptr;
    prometheus::Counter* prompt = nullptr;
    prometheus::Counter* completion = nullptr;
  };
  VariantCells& VariantLocked(std::string_view model, std::string_view endpoint,
                              std::string_view track) ABSL_EXCLUSIVE_LOCKS_REQUIRED(variant_mu_);
  absl::Mutex variant_mu_;
  absl::flat_hash_set<std::string> variant_models_ ABSL_GUARDED_BY(variant_mu_);
  absl::flat_hash_set<std::string> variant_endpoints_ ABSL_GUARDED_BY(variant_mu_);
  absl::flat_hash_set<std::string> variant_tracks_ ABSL_GUARDED_BY(variant_mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<VariantCells>> variant_cells_
      ABSL_GUARDED_BY(variant_mu_);

  struct UsageCells {
    prometheus::Counter* prompt;
    prometheus::Counter* completion;
    prometheus::Counter* cost;
  };
  // The series of each (route, code) seen so far: Family::Add hashes and locks per call.
  struct RouteCells {
    prometheus::Histogram* duration = nullptr;
    absl::flat_hash_map<int, prometheus::Counter*> by_code;
  };
  absl::Mutex route_mu_;
  absl::flat_hash_map<std::string, RouteCells> route_cells_ ABSL_GUARDED_BY(route_mu_);

  absl::Mutex usage_mu_;
  absl::flat_hash_set<std::string> tenants_ ABSL_GUARDED_BY(usage_mu_);
  absl::flat_hash_set<std::string> models_ ABSL_GUARDED_BY(usage_mu_);
  absl::flat_hash_map<std::string, UsageCells> usage_cells_ ABSL_GUARDED_BY(usage_mu_);
  absl::flat_hash_map<std::string, prometheus::Counter*> rate_limited_cells_
      ABSL_GUARDED_BY(usage_mu_);
  // `value` itself while fewer than `cap` values were seen, else "other".
  static std::string Bounded(absl::flat_hash_set<std::string>& seen, std::string_view value,
                             std::size_t cap = kMaxLabelValues);
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_GATEWAY_METRICS_H_
