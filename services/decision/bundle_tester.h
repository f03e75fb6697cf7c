// Evaluates bundles without activating them: a bundle's own tests, and a set of requests routed
// by both the active and a candidate revision.
#ifndef LLMROUTER_SERVICES_DECISION_BUNDLE_TESTER_H_
#define LLMROUTER_SERVICES_DECISION_BUNDLE_TESTER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "llmrouter/v1/policy.pb.h"
#include "services/decision/compiled_policy.h"
#include "services/decision/inventory_view.h"

namespace llmrouter::decision {

// Runs the bundle's `tests` against `policy` over an inventory in which every catalog model has
// one healthy endpoint, so that a test checks the policy, not the fleet of the moment.
std::vector<llmrouter::v1::BundleTestResult> RunBundleTests(const CompiledPolicy& policy);

// The request a bundle test describes.
llmrouter::v1::RouteRequestRequest ToRouteRequest(const BundleTestRequest& test);

// Compiles `yaml` (InvalidArgument listing its problems), runs its tests, and routes every
// request with `active` (may be null) and the candidate over `view` (null: the synthetic view),
// reporting per-request differences and the distribution of models and estimated cost.
absl::StatusOr<llmrouter::v1::TestBundleResponse> TestCandidateBundle(
    const std::string& yaml, const CompiledPolicy* active, const InventoryView* view,
    const std::vector<llmrouter::v1::RouteRequestRequest>& requests);
// The same for a candidate already compiled (with its classifier: ActivePolicy::CompileCandidate).
llmrouter::v1::TestBundleResponse TestCandidateBundle(
    std::shared_ptr<const CompiledPolicy> candidate, const CompiledPolicy* active,
    const InventoryView* view, const std::vector<llmrouter::v1::RouteRequestRequest>& requests);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_BUNDLE_TESTER_H_
