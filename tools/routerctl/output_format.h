// Human-readable and JSON renderings of routerctl's answers. Every function returns whole
// lines ending in '\n' and is pure, so that formatting is tested without a server.
#ifndef LLMROUTER_TOOLS_ROUTERCTL_OUTPUT_FORMAT_H_
#define LLMROUTER_TOOLS_ROUTERCTL_OUTPUT_FORMAT_H_

#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "llmrouter/v1/decision.pb.h"
#include "llmrouter/v1/inventory.pb.h"
#include "llmrouter/v1/policy.pb.h"

namespace llmrouter::routerctl {

// Protobuf JSON (lowerCamelCase names, enum names, defaults included), indented.
std::string ToJson(const google::protobuf::Message& message);

// "over_cost_cap" for CANDIDATE_STAGE_OVER_COST_CAP.
std::string StageName(llmrouter::v1::CandidateStage stage);
// "draining" for HEALTH_STATE_DRAINING.
std::string HealthName(llmrouter::v1::HealthState health);
// "revision 3 (sha256 0123456789ab, by alice, 2026-01-02 03:04:05Z: "comment")".
std::string FormatRevisionSummary(const llmrouter::v1::PolicyRevision& revision);

// What one decision replica answered to `policy status`: its active revision, or why not.
struct ReplicaPolicy {
  std::string address;
  bool answered = false;
  llmrouter::v1::PolicyRevision revision;  // without the bundle text
  std::string error;                       // when it did not answer
};
// A table of replicas and what each runs, then one verdict line: every replica runs the same
// bundle, or how many bundles there are and which replicas did not answer.
std::string FormatPolicyStatus(absl::string_view target,
                               const std::vector<ReplicaPolicy>& replicas);

std::string FormatRevisionTable(const std::vector<llmrouter::v1::PolicyRevision>& revisions);
// "<source>: valid", or the count and one "  path: message" line per problem.
std::string FormatValidation(absl::string_view source,
                             const llmrouter::v1::ValidateBundleResponse& response);
std::string FormatLint(absl::string_view source, const llmrouter::v1::LintBundleResponse& response);
// `request_lines[i]` is the JSONL line of request i, to point at the input; may be empty.
std::string FormatTestReport(const llmrouter::v1::TestBundleResponse& response,
                             const std::vector<int>& request_lines);
// The decision, then the trace when the answer carries one.
std::string FormatRoute(const llmrouter::v1::RouteRequestResponse& response);
std::string FormatTrace(const llmrouter::v1::RouteTrace& trace);
// A logged decision: when, where, the request as received (without its text), then what
// FormatRoute prints of the answer (or why it was refused), with the trace when it was kept.
std::string FormatDecisionRecord(const llmrouter::v1::DecisionRecord& record);
std::string FormatWhyNot(absl::string_view model, const llmrouter::v1::WhyNotResponse& response);
std::string FormatEndpoints(const llmrouter::v1::ListEndpointsResponse& response);

}  // namespace llmrouter::routerctl

#endif  // LLMROUTER_TOOLS_ROUTERCTL_OUTPUT_FORMAT_H_
