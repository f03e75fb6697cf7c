// API keys → tenants. Keys are stored only as SHA-256 hex digests, in a file an operator (or a
// Kubernetes Secret) provides; the gateway follows edits of the file.
#ifndef LLMROUTER_SERVICES_GATEWAY_API_KEY_STORE_H_
#define LLMROUTER_SERVICES_GATEWAY_API_KEY_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/file_change.h"

namespace llmrouter::gateway {

// Lowercase hex SHA-256 of `text`.
std::string Sha256Hex(std::string_view text);

// Key file: one `<sha256 hex of the key> <tenant>` per line; '#' starts a comment. Generate a
// line with `printf %s "$KEY" | sha256sum | sed "s/ .*/ acme/"`.
//
// An ApiKeyStore is safe for concurrent use: TenantFor() reads an immutable map swapped
// atomically by Reload(); a bad file on Reload() keeps the previous keys.
class ApiKeyStore {
 public:
  using KeyMap = absl::flat_hash_map<std::string, std::string>;  // digest → tenant

  // InvalidArgument naming the line for a malformed file; NotFound when it cannot be read.
  static absl::StatusOr<KeyMap> ParseFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<ApiKeyStore>> Load(const std::string& path);

  // The tenant of a presented key, or nullopt when the key is unknown.
  std::optional<std::string> TenantFor(std::string_view key) const;
  std::size_t size() const;

  // Re-reads the file when it changed since the last look (call from one thread). True when
  // new keys are active, false when nothing changed; the error otherwise (old keys stay).
  absl::StatusOr<bool> ReloadIfChanged();

 private:
  ApiKeyStore(std::string path, KeyMap keys);

  const std::string path_;
  FileChangeDetector change_;  // only ReloadIfChanged's thread touches it
  mutable absl::Mutex mu_;
  std::shared_ptr<const KeyMap> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_API_KEY_STORE_H_
