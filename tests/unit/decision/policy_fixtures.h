// Policies and inventory views for decision's unit tests.
#ifndef LLMROUTER_TESTS_UNIT_DECISION_POLICY_FIXTURES_H_
#define LLMROUTER_TESTS_UNIT_DECISION_POLICY_FIXTURES_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
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

}  // namespace llmrouter::decision

#endif  // LLMROUTER_TESTS_UNIT_DECISION_POLICY_FIXTURES_H_
