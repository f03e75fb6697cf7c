// "Why isn't my request going to model X?"
#ifndef LLMROUTER_SERVICES_DECISION_WHY_NOT_H_
#define LLMROUTER_SERVICES_DECISION_WHY_NOT_H_

#include "absl/status/statusor.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/decision/decision_log.h"
#include "services/decision/router.h"

namespace llmrouter::decision {

// Routes `request` with the trace on and reads the answer for `model` out of it: the first
// stage that eliminated it and the rule or constraint responsible, or that it would be chosen.
// Errors only for a missing model name or when no policy is active.
absl::StatusOr<llmrouter::v1::WhyNotResponse> WhyNot(const CompiledPolicy* policy,
                                                     const InventoryView* view,
                                                     llmrouter::v1::RouteRequestRequest request,
                                                     absl::string_view model, absl::Time now,
                                                     const RouterOptions& options);

// The same for a decision in the decision log: read from the trace it kept, else replayed with
// the request and the prompt's analysis it kept, on `view` now — only under the policy it was
// made under (FailedPrecondition otherwise). WhyNotResponse.basis says which.
absl::StatusOr<llmrouter::v1::WhyNotResponse> WhyNotLogged(const CompiledPolicy* policy,
                                                           const InventoryView* view,
                                                           const LoggedDecision& logged,
                                                           absl::string_view model, absl::Time now,
                                                           const RouterOptions& options);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_WHY_NOT_H_
