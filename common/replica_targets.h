// Expands one gRPC target into the replicas behind it, for what must reach every replica
// (`routerctl policy status`, the gateway's outcome reports to inventory): a DNS name gives
// each address it resolves to now, an `ipv4:` or `ipv6:` list gives each of its addresses.
#ifndef LLMROUTER_COMMON_REPLICA_TARGETS_H_
#define LLMROUTER_COMMON_REPLICA_TARGETS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmrouter {

struct ReplicaTarget {
  std::string address;  // "10.1.2.3:50051" or "[fd00::1]:50051", as printed
  std::string target;   // a gRPC target naming only this replica ("ipv4:10.1.2.3:50051")
  // The name the target was given by ("decision.ns.svc"): certificates are checked against it
  // rather than against the address. Empty for an address list.
  std::string host;
};

// `dns:///host:port`, `dns://authority/host:port` or `host:port` (resolved with the system
// resolver, every A and AAAA record, in the resolver's order without repeats; the port
// defaults to 443 as gRPC's does), `ipv4:a:p,b:p`, `ipv6:[a]:p,...`, or `unix:path` (one
// replica). NotFound when the name does not resolve; InvalidArgument for a malformed target.
absl::StatusOr<std::vector<ReplicaTarget>> ExpandReplicas(absl::string_view target);

// More replicas than this behind one name is a mistake in --decision, not a fleet.
inline constexpr size_t kMaxAskedReplicas = 256;

// ExpandReplicas for a command that asks every replica: InvalidArgument beyond
// kMaxAskedReplicas.
absl::StatusOr<std::vector<ReplicaTarget>> ReplicasToAsk(absl::string_view target);

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_REPLICA_TARGETS_H_
