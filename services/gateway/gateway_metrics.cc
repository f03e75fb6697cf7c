#include "services/gateway/gateway_metrics.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace llmrouter::gateway {

namespace {

// Request latency covers a whole streamed completion, so the buckets reach minutes.
prometheus::Histogram::BucketBoundaries RequestBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
}

prometheus::Histogram::BucketBoundaries DecisionBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
}

}  // namespace

GatewayMetrics::GatewayMetrics(prometheus::Registry& r)
    : requests_(prometheus::BuildCounter()
                    .Name("llmrouter_gateway_requests_total")
                    .Help("HTTP requests answered, by route and status code")
                    .Register(r)),
      request_duration_(prometheus::BuildHistogram()
                            .Name("llmrouter_gateway_request_duration_seconds")
                            .Help("Time from a request's arrival to the end of its response")
                            .Register(r)),
      upstream_attempts_(prometheus::BuildCounter()
                             .Name("llmrouter_gateway_upstream_attempts_total")
                             .Help("Attempts to get an answer from a backend, by result")
                             .Register(r)),
      attempt_counters_{},
      fallbacks_(prometheus::BuildCounter()
                     .Name("llmrouter_gateway_fallbacks_total")
                     .Help("Times a request moved on to the next target of its fallback plan")
                     .Register(r)
                     .Add({})),
      retry_budget_exhausted_(
          prometheus::BuildCounter()
              .Name("llmrouter_gateway_retry_budget_exhausted_total")
              .Help("Fallbacks not tried because too many retries were in flight (the retry "
                    "budget: a share of the requests in flight)")
              .Register(r)
              .Add({})),
      fail_safe_routes_(prometheus::BuildCounter()
                            .Name("llmrouter_gateway_failsafe_routes_total")
                            .Help("Requests routed by the static fail-safe table because decision "
                                  "was unreachable or past its deadline")
                            .Register(r)
                            .Add({})),
      shed_requests_(prometheus::BuildCounter()
                         .Name("llmrouter_gateway_shed_requests_total")
                         .Help("Requests refused with 503 at the concurrent request limit")
                         .Register(r)
                         .Add({})),
      connections_(prometheus::BuildGauge()
                       .Name("llmrouter_gateway_connections")
                       .Help("Client connections open")
                       .Register(r)
                       .Add({})),
      connections_rejected_(prometheus::BuildCounter()
                                .Name("llmrouter_gateway_connections_rejected_total")
                                .Help("Client connections closed at once because "
                                      "--max_connections were open")
                                .Register(r)
                                .Add({})),
      accept_errors_(prometheus::BuildCounter()
                         .Name("llmrouter_gateway_accept_errors_total")
                         .Help("Failed accepts of client connections (e.g. out of file "
                               "descriptors); each makes the listener back off, 1 ms doubling "
                               "to 1 s")
                         .Register(r)
                         .Add({})),
      requests_in_flight_(prometheus::BuildGauge()
                              .Name("llmrouter_gateway_requests_in_flight")
                              .Help("Inference requests being served (routing, upstream "
                                    "attempts, relaying the answer)")
                              .Register(r)
                              .Add({})),
      client_timeouts_family_(prometheus::BuildCounter()
                                  .Name("llmrouter_gateway_client_timeouts_total")
                                  .Help("Client connections cut by a timeout: header, read (the "
                                        "whole request) or idle (keep-alive)")
                                  .Register(r)),
      client_timeouts_{},
      decision_errors_(prometheus::BuildCounter()
                           .Name("llmrouter_gateway_decision_errors_total")
                           .Help("RouteRequest and ListModels calls that failed, by status code")
                           .Register(r)),
      decision_duration_(prometheus::BuildHistogram()
                             .Name("llmrouter_gateway_decision_duration_seconds")
                             .Help("Time the gateway waited for a routing decision")
                             .Register(r)
                             .Add({}, DecisionBuckets())),
      decision_link_fallbacks_(
          prometheus::BuildCounter()
              .Name("llmrouter_gateway_decision_link_fallbacks_total")
              .Help("Decision calls the route link could not carry (no connection up, or one "
                    "that broke with the call in flight), asked over gRPC instead")
              .Register(r)
              .Add({})),
      decision_link_connections_(prometheus::BuildGauge()
                                     .Name("llmrouter_gateway_decision_link_connections")
                                     .Help("Route link connections to decision that are up")
                                     .Register(r)
                                     .Add({})),
      ttft_(prometheus::BuildHistogram()
                .Name("llmrouter_gateway_time_to_first_token_seconds")
                .Help("Time from a streamed request's arrival until its first byte was relayed")
                .Register(r)
                .Add({}, RequestBuckets())),
      upstream_requests_(
          prometheus::BuildCounter()
              .Name("llmrouter_gateway_upstream_requests_total")
              .Help("Attempts on backend endpoints (fallbacks included), by model, endpoint, "
                    "track and code_class (2xx, 3xx, 4xx, 5xx, error: no answer, cancelled: the "
                    "client left)")
              .Register(r)),
      upstream_duration_(prometheus::BuildHistogram()
                             .Name("llmrouter_gateway_upstream_duration_seconds")
                             .Help("Duration of attempts on backend endpoints, by model, endpoint "
                                   "and track")
                             .Register(r)),
      upstream_ttft_(prometheus::BuildHistogram()
                         .Name("llmrouter_gateway_upstream_ttft_seconds")
                         .Help("Time to first token of streamed attempts, by model, endpoint "
                               "and track")
                         .Register(r)),
      upstream_tokens_(prometheus::BuildCounter()
                           .Name("llmrouter_gateway_upstream_tokens_total")
                           .Help("Tokens backends reported, by model, endpoint, track and kind "
                                 "(prompt|completion)")
                           .Register(r)),
      tokens_(prometheus::BuildCounter()
                  .Name("llmrouter_gateway_tokens_total")
                  .Help("Tokens backends reported (usage), by tenant, model and type "
                        "(prompt|completion); at most 100 tenants and models, the rest \"other\"")
                  .Register(r)),
      cost_(prometheus::BuildCounter()
                .Name("llmrouter_gateway_estimated_cost_usd_total")
                .Help("Decision's cost estimate of answered requests, by tenant and model")
                .Register(r)),
      config_reloads_(prometheus::BuildCounter()
                          .Name("llmrouter_gateway_config_reloads_total")
                          .Help("Reloads of changed configuration files or stores, by config "
                                "(api_keys|failsafe_routes|upstream_credentials) and result "
                                "(applied|rejected: the previous one stays)")
                          .Register(r)),
      rate_limited_(prometheus::BuildCounter()
                        .Name("llmrouter_gateway_rate_limited_total")
                        .Help("Requests refused with 429 by a rate limit of the bundle, by tenant "
                              "and kind (requests|tokens|concurrent)")
                        .Register(r)) {
  for (AttemptResult result :
       {AttemptResult::kOk, AttemptResult::kConnectError, AttemptResult::kTimeout,
        AttemptResult::kHttp5xx, AttemptResult::kHttp429, AttemptResult::kReset}) {
    attempt_counters_[static_cast<std::size_t>(result)] =
        &upstream_attempts_.Add({{"result", std::string(AttemptResultName(result))}});
  }
  for (ClientTimeout timeout :
       {ClientTimeout::kHeader, ClientTimeout::kRead, ClientTimeout::kIdle}) {
    client_timeouts_[static_cast<std::size_t>(timeout)] =
        &client_timeouts_family_.Add({{"timeout", std::string(ClientTimeoutName(timeout))}});
  }
}

void GatewayMetrics::RequestDone(std::string_view route, int http_status, double seconds) {
  prometheus::Counter* requests;
  prometheus::Histogram* duration;
  {
    absl::MutexLock lock(&route_mu_);
    auto it = route_cells_.find(absl::string_view(route.data(), route.size()));
    if (it == route_cells_.end()) {
      std::string label(route);
      it = route_cells_.emplace(label, RouteCells{}).first;
      it->second.duration = &request_duration_.Add({{"route", label}}, RequestBuckets());
    }
    prometheus::Counter*& counter = it->second.by_code[http_status];
    if (counter == nullptr) {
      counter = &requests_.Add({{"route", it->first}, {"code", std::to_string(http_status)}});
    }
    requests = counter;
    duration = it->second.duration;
  }
  requests->Increment();
  duration->Observe(seconds);
}

void GatewayMetrics::ConfigReload(std::string_view config, bool applied) {
  config_reloads_
      .Add({{"config", std::string(config)}, {"result", applied ? "applied" : "rejected"}})
      .Increment();
}

void GatewayMetrics::UpstreamAttempt(AttemptResult result) {
  attempt_counters_[static_cast<std::size_t>(result)]->Increment();
}

void GatewayMetrics::DecisionDone(const absl::Status& status, double seconds) {
  decision_duration_.Observe(seconds);
  if (!status.ok()) {
    decision_errors_.Add({{"code", absl::StatusCodeToString(status.code())}}).Increment();
  }
}

void GatewayMetrics::Usage(std::string_view tenant, std::string_view model, uint32_t prompt_tokens,
                           uint32_t completion_tokens, double estimated_cost_usd) {
  UsageCells cells;
  {
    absl::MutexLock lock(&usage_mu_);
    std::string t = Bounded(tenants_, tenant);
    std::string m = Bounded(models_, model);
    std::string key = t + '\n' + m;
    auto it = usage_cells_.find(key);
    if (it == usage_cells_.end()) {
      UsageCells fresh{&tokens_.Add({{"tenant", t}, {"model", m}, {"type", "prompt"}}),
                       &tokens_.Add({{"tenant", t}, {"model", m}, {"type", "completion"}}),
                       &cost_.Add({{"tenant", t}, {"model", m}})};
      it = usage_cells_.emplace(key, fresh).first;
    }
    cells = it->second;
  }
  cells.prompt->Increment(prompt_tokens);
  cells.completion->Increment(completion_tokens);
  if (estimated_cost_usd > 0) cells.cost->Increment(estimated_cost_usd);
}

std::string GatewayMetrics::Bounded(absl::flat_hash_set<std::string>& seen, std::string_view value,
                                    std::size_t cap) {
  std::string v(value);
  if (seen.contains(v)) return v;
  if (seen.size() >= cap) return std::string("other");
  seen.insert(v);
  return v;
}

void GatewayMetrics::RateLimited(std::string_view tenant, std::string_view kind) {
  prometheus::Counter* cell;
  {
    absl::MutexLock lock(&usage_mu_);
    std::string t = Bounded(tenants_, tenant);
    std::string key = t + "\n" + std::string(kind);
    auto it = rate_limited_cells_.find(key);
    if (it == rate_limited_cells_.end()) {
      it = rate_limited_cells_
               .emplace(key, &rate_limited_.Add({{"tenant", t}, {"kind", std::string(kind)}}))
               .first;
    }
    cell = it->second;
  }
  cell->Increment();
}

GatewayMetrics::VariantCells& GatewayMetrics::VariantLocked(std::string_view model,
                                                            std::string_view endpoint,
                                                            std::string_view track) {
  std::string key = std::string(model) + '\n' + std::string(endpoint) + '\n' + std::string(track);
  auto it = variant_cells_.find(key);
  if (it != variant_cells_.end()) return *it->second;
  const std::string m = Bounded(variant_models_, model);
  const std::string e = Bounded(variant_endpoints_, endpoint, kMaxEndpointLabels);
  const std::string t = Bounded(variant_tracks_, track, kMaxTrackLabels);
  // Values folded into "other" share the series of their fold.
  const std::string folded = m + '\n' + e + '\n' + t;
  if (folded != key) {
    auto shared = variant_cells_.find(folded);
    if (shared != variant_cells_.end()) return *shared->second;
    key = folded;
  }
  auto cells = std::make_unique<VariantCells>();
  const prometheus::Labels labels = {{"model", m}, {"endpoint", e}, {"track", t}};
  static constexpr const char* kClasses[] = {"2xx", "3xx", "4xx", "5xx", "error", "cancelled"};
  for (std::size_t i = 0; i < cells->by_class.size(); ++i) {
    prometheus::Labels with_class = labels;
    with_class.emplace("code_class", kClasses[i]);
    cells->by_class[i] = &upstream_requests_.Add(with_class);
  }
  cells->duration = &upstream_duration_.Add(labels, RequestBuckets());
  cells->ttft = &upstream_ttft_.Add(labels, RequestBuckets());
  prometheus::Labels prompt = labels, completion = labels;
  prompt.emplace("kind", "prompt");
  completion.emplace("kind", "completion");
  cells->prompt = &upstream_tokens_.Add(prompt);
  cells->completion = &upstream_tokens_.Add(completion);
  return *variant_cells_.emplace(std::move(key), std::move(cells)).first->second;
}

void GatewayMetrics::Variant(const VariantAttempt& a) {
  const std::size_t code_class = a.cancelled ? 5
                                 : a.http_status >= 200 && a.http_status < 600
                                     ? a.http_status / 100 - 2
                                     : 4;
  VariantCells* cells;
  {
    absl::MutexLock lock(&variant_mu_);
    cells = &VariantLocked(a.model, a.endpoint, a.track.empty() ? "stable" : a.track);
  }
  cells->by_class[code_class]->Increment();
  cells->duration->Observe(a.seconds);
  if (a.ttft_seconds > 0) cells->ttft->Observe(a.ttft_seconds);
  if (a.prompt_tokens > 0) cells->prompt->Increment(a.prompt_tokens);
  if (a.completion_tokens > 0) cells->completion->Increment(a.completion_tokens);
}

}  // namespace llmrouter::gateway
