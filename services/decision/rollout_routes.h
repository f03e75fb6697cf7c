// What the rollouts decision runs mean for routing now: per model, the stable and canary tracks
// and the canary's weight. The rollout controller publishes a new table whenever a rollout
// moves; routing reads the latest without waiting on it.
#ifndef LLMROUTER_SERVICES_DECISION_ROLLOUT_ROUTES_H_
#define LLMROUTER_SERVICES_DECISION_ROLLOUT_ROUTES_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"

namespace llmrouter::decision {

struct RolloutRoute {
  std::string rollout;
  std::string stable_track;
  std::string canary_track;
  uint32_t canary_weight = 0;  // 0 to 100
  std::string sticky;          // "", "session", "user" or "tenant"
  std::string state;           // e.g. "progressing", for the trace
  uint32_t step = 0;           // 0-based
  uint32_t steps = 0;
};

// Catalog model name -> its rollout's route.
using RolloutRouteMap = absl::flat_hash_map<std::string, RolloutRoute>;

// Thread-safe: one writer (the controller), any number of readers.
class RolloutRoutes {
 public:
  RolloutRoutes() : current_(std::make_shared<const RolloutRouteMap>()) {}
  void Publish(RolloutRouteMap routes) {
    current_.store(std::make_shared<const RolloutRouteMap>(std::move(routes)));
  }
  std::shared_ptr<const RolloutRouteMap> Current() const { return current_.load(); }

 private:
  std::atomic<std::shared_ptr<const RolloutRouteMap>> current_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ROLLOUT_ROUTES_H_
