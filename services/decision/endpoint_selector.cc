#include "services/decision/endpoint_selector.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;

constexpr double kUnknownRegion = 1e6;

struct Ranked {
  const v1::Endpoint* endpoint;
  int health;       // 0 healthy, 1 degraded
  int saturated;    // 1 when over a saturation threshold
  int spill;        // 0 the tier's own pool, 1 a spill-over pool
  double distance;  // 0 same region, else configured latency (ms), kUnknownRegion if unknown
  double key;       // strategy key, lower first
};

void Eliminate(v1::RouteTrace* trace, const ModelSpec& model, const v1::Endpoint& e,
               v1::CandidateStage stage, double score, std::string detail) {
  if (trace == nullptr) return;
  auto* c = trace->add_candidates();
  c->set_model(model.name);
  c->set_endpoint_id(e.id());
  c->set_stage(stage);
  c->set_score(score);
  c->set_detail(std::move(detail));
}

double RegionDistance(const SelectionInput& in, absl::string_view region) {
  if (in.client_region.empty() || region == in.client_region) return 0;
  if (in.region_latency != nullptr) {
    auto from = in.region_latency->find(in.client_region);
    if (from != in.region_latency->end()) {
      auto to = from->second.find(region);
      if (to != from->second.end()) return to->second;
    }
    auto back = in.region_latency->find(region);
    if (back != in.region_latency->end()) {
      auto to = back->second.find(in.client_region);
      if (to != back->second.end()) return to->second;
    }
  }
  return kUnknownRegion;
}

// Another region's distance: the configured latency, refined by what gateways measured of the
// endpoint (its latency average includes the network between them), so a region that is slower
// in practice than on paper ranks after one that is not. Unconfigured regions use the
// measurement alone, and rank last without one.
double RefinedDistance(const SelectionInput& in, const v1::Endpoint& e) {
  const double configured = RegionDistance(in, e.region());
  if (configured == 0 || !e.load().has_latency_ewma()) return configured;
  const double measured_ms = absl::ToDoubleMilliseconds(FromProto(e.load().latency_ewma()));
  return configured < kUnknownRegion ? (configured + measured_ms) / 2
                                     : kUnknownRegion / 2 + measured_ms;
}

double TtftSeconds(const v1::Endpoint& e) {
  if (e.load().has_ttft_ewma()) return absl::ToDoubleSeconds(FromProto(e.load().ttft_ewma()));
  if (e.load().has_latency_ewma()) return absl::ToDoubleSeconds(FromProto(e.load().latency_ewma()));
  return 1e3;  // unmeasured endpoints after measured ones
}

uint64_t Random() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

}  // namespace

std::optional<EndpointStrategy> ParseEndpointStrategy(absl::string_view name) {
  if (name == "round_robin") return EndpointStrategy::kRoundRobin;
  if (name == "least_outstanding") return EndpointStrategy::kLeastOutstanding;
  if (name == "p2c") return EndpointStrategy::kPowerOfTwo;
  if (name == "lowest_latency") return EndpointStrategy::kLowestLatency;
  if (name == "weighted") return EndpointStrategy::kWeighted;
  return std::nullopt;
}

double LoadScore(const v1::Endpoint& e) {
  const v1::EndpointLoad& l = e.load();
  return 2.0 * l.requests_waiting() + l.requests_running() + static_cast<double>(l.in_flight()) +
         4.0 * l.kv_cache_usage();
}

void OrderEndpoints(const ModelEndpoints& group, const ModelSpec& model, const SelectionInput& in,
                    v1::RouteTrace* trace, EndpointList* out, int* unusable) {
  absl::InlinedVector<Ranked, 16> ranked;
  const size_t n = group.endpoints.size();
  const uint64_t start = group.next.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < n; ++i) {
    const v1::Endpoint& e = group.endpoints[(start + i) % n];
    int health;
    switch (e.health()) {
      case v1::HEALTH_STATE_HEALTHY:
        health = 0;
        break;
      case v1::HEALTH_STATE_DEGRADED:
        health = 1;
        break;
      case v1::HEALTH_STATE_DRAINING:
        ++*unusable;
        Eliminate(trace, model, e, v1::CANDIDATE_STAGE_DRAINING, 0, "endpoint is draining");
        continue;
      default:
        ++*unusable;
        Eliminate(trace, model, e, v1::CANDIDATE_STAGE_UNHEALTHY, 0,
                  absl::StrCat("endpoint health is ", v1::HealthState_Name(e.health())));
        continue;
    }
    if (in.max_latency_ms && e.load().has_latency_ewma()) {
      const int64_t ms = absl::ToInt64Milliseconds(FromProto(e.load().latency_ewma()));
      if (ms > *in.max_latency_ms) {
        ++*unusable;
        Eliminate(trace, model, e, v1::CANDIDATE_STAGE_OVER_LATENCY, ms,
                  absl::StrCat("measured latency ", ms, " ms exceeds max_latency_ms ",
                               *in.max_latency_ms));
        continue;
      }
    }
    int spill = 0;
    if (in.pools != nullptr && !in.pools->empty() &&
        std::find(in.pools->begin(), in.pools->end(), e.pool()) == in.pools->end()) {
      const bool may_spill = in.spill_pools != nullptr &&
                             std::find(in.spill_pools->begin(), in.spill_pools->end(), e.pool()) !=
                                 in.spill_pools->end();
      if (!may_spill || LoadScore(e) >= in.spill_below_load) {
        ++*unusable;
        Eliminate(trace, model, e, v1::CANDIDATE_STAGE_WRONG_POOL, LoadScore(e),
                  may_spill ? absl::StrCat("pool \"", e.pool(), "\" takes ", in.tier,
                                           " requests only below load ", in.spill_below_load,
                                           "; load is ", LoadScore(e))
                            : absl::StrCat("pool \"", e.pool(), "\" does not serve ", in.tier,
                                           " requests"));
        continue;
      }
      spill = 1;
    }
    double key = 0;
    switch (in.strategy) {
      case EndpointStrategy::kRoundRobin:
      case EndpointStrategy::kPowerOfTwo:  // ranked by load below, after the two-choice draw
        key = static_cast<double>(i);
        break;
      case EndpointStrategy::kLeastOutstanding:
        // The last load figures plus what decision itself sent there lately (inventory_view.h).
        key = e.load().requests_running() + e.load().requests_waiting() +
              static_cast<double>(e.load().in_flight()) + group.RecentSendsTo(e, in.now) + i * 1e-9;
        break;
      case EndpointStrategy::kLowestLatency:
        key = TtftSeconds(e) + i * 1e-9;
        break;
      case EndpointStrategy::kWeighted: {
        // Efraimidis–Spirakis: sorting by -log(u)/w draws in proportion to the weights.
        const double u = (static_cast<double>(Random() >> 11) + 1) / 9007199254740993.0;
        key = -std::log(u) / std::max<uint32_t>(e.weight(), 1);
        break;
      }
    }
    const int saturated =
        (in.saturated_queue > 0 && e.load().requests_waiting() > in.saturated_queue) ||
        (in.saturated_kv > 0 && e.load().kv_cache_usage() > in.saturated_kv);
    ranked.push_back({&e, health, saturated, spill, RefinedDistance(in, e), key});
  }
  if (ranked.empty()) return;
  if (in.strategy == EndpointStrategy::kPowerOfTwo && ranked.size() >= 2) {
    // Two random candidates among the best health and region; the less loaded one goes first,
    // the rest follow by load score.
    for (Ranked& r : ranked) r.key = LoadScore(*r.endpoint) + 1e6;
    const size_t a = Random() % ranked.size();
    size_t b = Random() % (ranked.size() - 1);
    if (b >= a) ++b;
    Ranked& winner =
        LoadScore(*ranked[a].endpoint) <= LoadScore(*ranked[b].endpoint) ? ranked[a] : ranked[b];
    winner.key = -1;
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& x, const Ranked& y) {
    if (x.health != y.health) return x.health < y.health;
    if (x.saturated != y.saturated) return x.saturated < y.saturated;
    if (x.spill != y.spill) return x.spill < y.spill;
    if (x.distance != y.distance) return x.distance < y.distance;
    return x.key < y.key;
  });
  if (!in.sticky_key.empty()) {
    // Rendezvous hashing over the best tier (same health and region as the first): the
    // session's replica keeps it unless it is loaded well above the tier's average.
    size_t tier = 0;
    double total = 0;
    while (tier < ranked.size() && ranked[tier].health == ranked[0].health &&
           ranked[tier].spill == ranked[0].spill && ranked[tier].saturated == ranked[0].saturated &&
           ranked[tier].distance == ranked[0].distance) {
      total += LoadScore(*ranked[tier].endpoint);
      ++tier;
    }
    const double bound = 1.25 * total / tier + 1;
    size_t best = tier;
    uint64_t best_hash = 0;
    for (size_t i = 0; i < tier; ++i) {
      if (LoadScore(*ranked[i].endpoint) > bound) continue;
      const std::string& id = ranked[i].endpoint->id();
      uint64_t h =
          XXH64(id.data(), id.size(), XXH64(in.sticky_key.data(), in.sticky_key.size(), 0x5e55));
      if (best == tier || h > best_hash) {
        best = i;
        best_hash = h;
      }
    }
    if (best < tier && best != 0)
      std::rotate(ranked.begin(), ranked.begin() + best, ranked.begin() + best + 1);
  }
  if (trace != nullptr && ranked[0].distance > 0 && !in.client_region.empty()) {
    trace->add_notes(absl::StrCat("no usable endpoint of \"", model.name, "\" in region ",
                                  in.client_region, "; nearest is ", ranked[0].endpoint->region(),
                                  ranked[0].distance < kUnknownRegion
                                      ? absl::StrCat(" (", ranked[0].distance, " ms)")
                                      : std::string(" (no configured latency)")));
  }
  for (const Ranked& r : ranked) out->push_back(r.endpoint);
}

}  // namespace llmrouter::decision
