// Credentials the gateway presents to hosted model providers. They come from the operator
// (environment variables or files such as mounted Kubernetes Secrets), never from the client.
#ifndef LLMROUTER_SERVICES_GATEWAY_UPSTREAM_CREDENTIALS_H_
#define LLMROUTER_SERVICES_GATEWAY_UPSTREAM_CREDENTIALS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/reloadable.h"

namespace llmrouter::gateway {

// Immutable once built; safe for concurrent reads. Spec: comma-separated
// `host:port=env:VARIABLE` or `host:port=file:/path/to/secret`; the secret (surrounding
// whitespace trimmed) is sent as `Authorization: Bearer <secret>` to that backend address.
// InvalidArgument for a malformed entry, an unset variable or an unreadable or empty file.
class UpstreamCredentials {
 public:
  static absl::StatusOr<UpstreamCredentials> Parse(std::string_view spec);
  // The credentials of `spec`, parsed again whenever one of its files changes (a rotated
  // Kubernetes Secret); a file that is then unreadable or empty keeps the previous credentials.
  static absl::StatusOr<std::unique_ptr<Reloadable<UpstreamCredentials>>> Follow(std::string spec);

  // The Authorization header value for `address`, or empty when it has no credential.
  std::string_view AuthorizationFor(std::string_view address) const;
  std::size_t size() const { return headers_.size(); }
  // The paths of the `file:` sources, in spec order.
  const std::vector<std::string>& files() const { return files_; }

 private:
  absl::flat_hash_map<std::string, std::string> headers_;  // address → "Bearer ..."
  std::vector<std::string> files_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_UPSTREAM_CREDENTIALS_H_
