// Who may change the inventory (register, deregister, drain): a bearer token and, optionally,
// the address ranges callers must come from, so that nobody can point traffic at a host of
// their choosing. And who may report outcomes (which can eject endpoints): gateways, with a
// reporter token of their own, so that they never hold the write token.
#ifndef LLMROUTER_SERVICES_INVENTORY_WRITE_ACCESS_H_
#define LLMROUTER_SERVICES_INVENTORY_WRITE_ACCESS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmrouter::inventory {

// Immutable once built; safe for concurrent use.
class WriteAccess {
 public:
  // No token and no ranges: writes are open (the local demo). `cidrs` are "10.0.0.0/8",
  // "fd00::/8" or single addresses; InvalidArgument names the first bad one. Outcome reports
  // need `reporter_token` or the write token once either is set (see CheckReport).
  static absl::StatusOr<WriteAccess> Create(std::string token,
                                            const std::vector<std::string>& cidrs,
                                            std::string reporter_token = "");

  // `authorization` is the gRPC metadata value ("Bearer <token>"), `peer` the gRPC peer
  // ("ipv4:10.1.2.3:5555", "ipv6:[::1]:5555", "unix:..."). PermissionDenied when the peer is
  // outside every range (unix sockets count as local and pass), Unauthenticated when a token is
  // required and missing or wrong.
  absl::Status Check(absl::string_view authorization, absl::string_view peer) const;

  // For ReportOutcomes: OK when reports are open (no write token and no reporter token), or
  // when `authorization` carries the reporter token or the write token (whoever may drain every
  // endpoint may as well report on them); Unauthenticated otherwise. Address ranges do not
  // apply: they say where registered backends may be, not where gateways run.
  absl::Status CheckReport(absl::string_view authorization) const;

  bool token_required() const { return !token_.empty(); }
  bool reports_protected() const { return !token_.empty() || !reporter_token_.empty(); }
  bool reporter_token_set() const { return !reporter_token_.empty(); }
  bool ranges_restricted() const { return !ranges_.empty(); }

 private:
  struct Range {
    std::array<uint8_t, 16> address;  // IPv4 as IPv4-mapped IPv6
    int prefix_bits;
  };
  std::string token_;
  std::string reporter_token_;
  std::vector<Range> ranges_;
};

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_WRITE_ACCESS_H_
