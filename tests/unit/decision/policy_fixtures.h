// Policies and inventory views for decision's unit tests.
#ifndef LLMROUTER_TESTS_UNIT_DECISION_POLICY_FIXTURES_H_
#define LLMROUTER_TESTS_UNIT_DECISION_POLICY_FIXTURES_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/variant_buckets.h"
#include "llmrouter/v1/decision.pb.h"
#include "llmrouter/v1/inventory.pb.h"
#include "services/decision/compiled_policy.h"

namespace llmrouter::decision {

// The time decision's unit tests route at.
inline constexpr absl::Time kTestNow = absl::FromUnixSeconds(1700000000);

// The bundle `yaml` compiled as revision `revision`; a bundle that does not parse fails the test
// and gives null.
inline std::shared_ptr<const CompiledPolicy> CompileForTest(const char* yaml, uint64_t revision,
                                                            const std::string& hash) {
  auto bundle = ParsePolicyBundleOrError(yaml);
  if (!bundle.ok()) {
    ADD_FAILURE() << bundle.status();
    return nullptr;
  }
  return CompiledPolicy::Compile(*std::move(bundle), revision, hash);
}

// Adds a healthy endpoint `id` of `model` at h:1 to `snapshot`.
inline llmrouter::v1::Endpoint* AddHealthyEndpoint(llmrouter::v1::InventorySnapshot* snapshot,
                                                   const std::string& model,
                                                   const std::string& id) {
  llmrouter::v1::Endpoint* e = snapshot->add_endpoints();
  e->set_id(id);
  e->set_model(model);
  e->set_address("h:1");
  e->set_health(llmrouter::v1::HEALTH_STATE_HEALTHY);
  return e;
}

// A usage report's counts of one variant: `requests` attempts of `model` on `track`, `errors`
// of them failed, the successful ones with latency in bucket `latency_bucket` and TTFT in bucket
// `ttft_bucket`.
inline llmrouter::v1::VariantStats VariantStatsOf(const std::string& model,
                                                  const std::string& track, uint64_t requests,
                                                  uint64_t errors, int latency_bucket = 2,
                                                  int ttft_bucket = 1) {
  llmrouter::v1::VariantStats s;
  s.set_model(model);
  s.set_track(track);
  s.set_requests(requests);
  s.set_errors(errors);
  s.mutable_latency_buckets()->Resize(kVariantLatencyBounds.size() + 1, 0);
  s.mutable_ttft_buckets()->Resize(kVariantTtftBounds.size() + 1, 0);
  s.set_latency_buckets(latency_bucket, requests - errors);
  s.set_ttft_buckets(ttft_bucket, requests - errors);
  return s;
}

}  // namespace llmrouter::decision

#endif  // LLMROUTER_TESTS_UNIT_DECISION_POLICY_FIXTURES_H_
