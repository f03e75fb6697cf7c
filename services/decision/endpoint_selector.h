// Orders the endpoints of one model for a request: usable ones only (healthy before degraded),
// nearest region first, then by the rule's endpoint strategy; a session key keeps a session on
// one replica by rendezvous hashing with bounded load.
#ifndef LLMROUTER_SERVICES_DECISION_ENDPOINT_SELECTOR_H_
#define LLMROUTER_SERVICES_DECISION_ENDPOINT_SELECTOR_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/decision/inventory_view.h"
#include "services/decision/policy_bundle.h"

namespace llmrouter::decision {

// When to use which:
//   round_robin        equal replicas, no load data: spreads evenly (the default)
//   least_outstanding  replicas of different speed: fewest requests in flight, running, waiting
//   p2c                large pools with load data: two random replicas, the less loaded wins
//                      (power of two choices: near-optimal balance without herding)
//   lowest_latency     interactive traffic: lowest measured time to first token
//   weighted           planned capacity splits: random in proportion to endpoint weight
enum class EndpointStrategy {
  kRoundRobin,
  kLeastOutstanding,
  kPowerOfTwo,
  kLowestLatency,
  kWeighted
};

// Maps "round_robin", "least_outstanding", "p2c", "lowest_latency", "weighted"; nullopt else.
std::optional<EndpointStrategy> ParseEndpointStrategy(absl::string_view name);

// A load score for comparing replicas: queue depth weighs most, then running requests and
// in-flight requests reported by gateways, then KV-cache pressure.
double LoadScore(const llmrouter::v1::Endpoint& e);

struct SelectionInput {
  EndpointStrategy strategy = EndpointStrategy::kRoundRobin;
  absl::Time now;  // for least_outstanding's estimate of decision's own recent sends
  absl::string_view client_region;
  absl::string_view sticky_key;  // session (or user) key; empty: no stickiness
  std::optional<uint32_t> max_latency_ms;
  // Pools that serve the request's tier (null or empty: any), and extra pools it may spill into
  // while an endpoint's load score is below spill_below_load.
  const std::vector<std::string>* pools = nullptr;
  const std::vector<std::string>* spill_pools = nullptr;
  double spill_below_load = 0;
  absl::string_view tier;
  // Endpoints over either threshold (0: none) rank after those that are not.
  double saturated_queue = 0;
  double saturated_kv = 0;
  // Configured latency between regions, in ms; both directions are looked up.
  const absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, double>>* region_latency =
      nullptr;
};

using EndpointList = absl::InlinedVector<const llmrouter::v1::Endpoint*, 16>;

// Appends the usable endpoints of `group` to `out` in preference order; eliminated ones are
// counted in `unusable` and, when `trace` is set, recorded with their stage. Notes a region
// failover in the trace. Safe to call concurrently (only the group's atomic cursor changes).
void OrderEndpoints(const ModelEndpoints& group, const ModelSpec& model, const SelectionInput& in,
                    llmrouter::v1::RouteTrace* trace, EndpointList* out, int* unusable);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ENDPOINT_SELECTOR_H_
