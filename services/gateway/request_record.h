// What the gateway learned about one inference request as it served it: filled by the proxy's
// stages, read when the request ends (the access log; the per-variant metrics read the same
// attempts).
#ifndef LLMROUTER_SERVICES_GATEWAY_REQUEST_RECORD_H_
#define LLMROUTER_SERVICES_GATEWAY_REQUEST_RECORD_H_

#include <cstdint>
#include <string>

namespace llmrouter::gateway {

struct RequestRecord {
  std::string tenant;
  std::string requested_model;
  bool stream = false;
  // The decision: its id, the rule that decided and the policy's hash prefix (as the
  // x-router-policy-revision header shows it).
  std::string decision_id;
  std::string rule;
  std::string policy;
  double estimated_cost_usd = 0;
  // The last attempt's target.
  std::string routed_model;
  std::string endpoint;
  std::string track;
  int attempts = 0;
  double ttft_seconds = 0;  // of a streamed answer; 0 when none
  uint32_t prompt_tokens = 0;
  uint32_t completion_tokens = 0;
  // Body bytes sent to the client: the backend's answer as relayed, or the gateway's error.
  uint64_t response_bytes = 0;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_REQUEST_RECORD_H_
