// Credentials the gateway presents to hosted model providers. They come from the operator
// (environment variables or files such as mounted Kubernetes Secrets), never from the client.
#ifndef LLMROUTER_SERVICES_GATEWAY_UPSTREAM_CREDENTIALS_H_
#define LLMROUTER_SERVICES_GATEWAY_UPSTREAM_CREDENTIALS_H_

#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace llmrouter::gateway {

// Immutable once built; safe for concurrent reads. Spec: comma-separated
// `host:port=env:VARIABLE` or `host:port=file:/path/to/secret`; the secret (surrounding
// whitespace trimmed) is sent as `Authorization: Bearer <secret>` to that backend address.
// InvalidArgument for a malformed entry, an unset variable or an unreadable or empty file.
class UpstreamCredentials {
 public:
  static absl::StatusOr<UpstreamCredentials> Parse(std::string_view spec);

  // The Authorization header value for `address`, or empty when it has no credential.
  std::string_view AuthorizationFor(std::string_view address) const;
  std::size_t size() const { return headers_.size(); }

 private:
  absl::flat_hash_map<std::string, std::string> headers_;  // address → "Bearer ..."
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_UPSTREAM_CREDENTIALS_H_
