// API keys → tenants, from a key file an operator (or a Kubernetes Secret) provides, a SQLite
// store that `routerctl apikeys` manages, or both. Keys are stored only as SHA-256 hex digests;
// the gateway follows changes of either source.
#ifndef LLMROUTER_SERVICES_GATEWAY_API_KEY_STORE_H_
#define LLMROUTER_SERVICES_GATEWAY_API_KEY_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/reloadable.h"
#include "common/sha256.h"

namespace llmrouter::gateway {

using ::llmrouter::Sha256Hex;  // keys are stored by their digest

// Where the keys come from; at least one is set.
struct ApiKeySources {
  // One `<sha256 hex of the key> <tenant>` per line; '#' starts a comment. Generate a line with
  // `printf %s "$KEY" | sha256sum | sed "s/ .*/ acme/"`.
  std::string file;
  // An ApiKeyDb file (must exist). Revoked keys in it do not work.
  std::string db;
};

// The keys are the union of both sources. A digest in both goes by the database: its tenant,
// and its revocation (a key revoked there stops working even if the file lists it), because the
// database is where keys are created and revoked one by one.
//
// An ApiKeyStore is safe for concurrent use: TenantFor() reads an immutable map with one atomic
// load; ReloadIfChanged() (one thread) rebuilds the map when the file changed or another process
// committed to the database, and swaps it in whole. When either source cannot be read or parsed
// the previous keys stay.
class ApiKeyStore {
 public:
  using KeyMap = absl::flat_hash_map<std::string, std::string>;  // digest → tenant

  // InvalidArgument naming the line for a malformed file; NotFound when it cannot be read.
  static absl::StatusOr<KeyMap> ParseFile(const std::string& path);
  // The first load's error, e.g. NotFound for a missing file or database.
  static absl::StatusOr<std::unique_ptr<ApiKeyStore>> Open(ApiKeySources sources);
  static absl::StatusOr<std::unique_ptr<ApiKeyStore>> Load(const std::string& path) {
    return Open({.file = path});
  }

  // Who a presented key is: its tenant, and an identifier of the key that reveals nothing of it
  // (the first 12 hex digits of its SHA-256, as `routerctl keys list` shows). Nullopt when
  // the key is unknown or revoked.
  struct Identity {
    std::string tenant;
    std::string key_id;
  };
  std::optional<Identity> Identify(std::string_view key) const;
  // The tenant of a presented key, or nullopt when the key is unknown or revoked.
  std::optional<std::string> TenantFor(std::string_view key) const;
  std::size_t size() const { return keys_->Get()->size(); }

  // True when new keys are in use, false when nothing changed; the error otherwise (the
  // previous keys stay). Call from one thread.
  absl::StatusOr<bool> ReloadIfChanged() { return keys_->ReloadIfChanged(); }

 private:
  explicit ApiKeyStore(std::unique_ptr<Reloadable<KeyMap>> keys) : keys_(std::move(keys)) {}

  std::unique_ptr<Reloadable<KeyMap>> keys_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_API_KEY_STORE_H_
