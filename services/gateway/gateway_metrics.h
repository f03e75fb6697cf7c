// Every metric the gateway exports, declared once and injected.
#ifndef LLMROUTER_SERVICES_GATEWAY_GATEWAY_METRICS_H_
#define LLMROUTER_SERVICES_GATEWAY_GATEWAY_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <string_view>

#include "absl/status/status.h"
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
  // A request routed by the fail-safe table because decision could not answer.
  void FailSafeRoute() { fail_safe_routes_.Increment(); }
  // A request refused with 503 because the concurrent request limit was reached.
  void RequestShed() { shed_requests_.Increment(); }
  // One decision call: `status` OK or its failure.
  void DecisionDone(const absl::Status& status, double seconds);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Counter>& upstream_attempts_;
  std::array<prometheus::Counter*, 6> attempt_counters_;
  prometheus::Counter& fallbacks_;
  prometheus::Counter& fail_safe_routes_;
  prometheus::Counter& shed_requests_;
  prometheus::Family<prometheus::Counter>& decision_errors_;
  prometheus::Histogram& decision_duration_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_GATEWAY_METRICS_H_
