// Turns routerctl's request flags (or a JSON request) into the RouteRequestRequest that route,
// explain, why-not and `policy test --requests` send.
#ifndef LLMROUTER_TOOLS_ROUTERCTL_ROUTE_REQUEST_BUILDER_H_
#define LLMROUTER_TOOLS_ROUTERCTL_ROUTE_REQUEST_BUILDER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "llmrouter/v1/decision.pb.h"
#include "tools/routerctl/command_line.h"

namespace llmrouter::routerctl {

// The flags that describe one request, shared by route, explain and why-not.
inline constexpr absl::string_view kRequestFlags[] = {
    "model",  "tenant", "tier",        "region",     "session", "user",
    "header", "prompt", "prompt_file", "max_tokens", "request",
};

// Builds the request: --request JSON (protobuf JSON form) first, then each flag given
// overrides its field. InvalidArgument naming the flag for a bad value, for both --prompt and
// --prompt_file, for a --header without "=", or when no model is given at all.
absl::StatusOr<llmrouter::v1::RouteRequestRequest> BuildRouteRequest(const CommandLine& cl);

// "interactive" | "standard" | "batch".
absl::StatusOr<llmrouter::v1::PriorityTier> ParsePriorityTier(absl::string_view tier);

// A request read from one line of a JSONL file.
struct NumberedRequest {
  int line = 0;  // 1-based
  llmrouter::v1::RouteRequestRequest request;
};

// Parses JSONL: one RouteRequestRequest per line in protobuf JSON form; blank lines are
// skipped. InvalidArgument listing every bad line as "<source>:<line>: <why>" (at most ten).
absl::StatusOr<std::vector<NumberedRequest>> ParseRequestsJsonl(absl::string_view text,
                                                                absl::string_view source);

}  // namespace llmrouter::routerctl

#endif  // LLMROUTER_TOOLS_ROUTERCTL_ROUTE_REQUEST_BUILDER_H_
