// The SQLite store of callers' API keys: what `routerctl apikeys` writes and the gateway's
// --api_keys_db reads. Only the SHA-256 digest of a key is stored; the key itself is shown once,
// when it is created.
#ifndef LLMROUTER_SERVICES_GATEWAY_API_KEY_DB_H_
#define LLMROUTER_SERVICES_GATEWAY_API_KEY_DB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/sqlite_db.h"

namespace llmrouter::gateway {

struct ApiKeyRecord {
  int64_t id = 0;
  std::string name;  // an operator's label; may be empty, need not be unique
  std::string tenant;
  std::string sha256;  // lowercase hex digest of the key
  absl::Time created_at;
  std::optional<absl::Time> revoked_at;  // unset while the key works
};

// What Create() returns: the stored record and the key, which is not stored anywhere.
struct CreatedApiKey {
  ApiKeyRecord record;
  std::string key;
};

// One connection: not safe for concurrent use. Several processes may share the file (WAL mode:
// the gateway reads while routerctl writes). Errors: InvalidArgument for bad input, naming it;
// NotFound and FailedPrecondition as documented per method; Internal or Unavailable from SQLite.
class ApiKeyDb {
 public:
  // Every generated key starts with this, so that a leaked one is recognisable.
  static constexpr absl::string_view kKeyPrefix = "sk-lr-";

  // Opens the file and brings its schema up to date. With `create` false a missing file is
  // NotFound; a file whose schema is newer than this build is FailedPrecondition.
  static absl::StatusOr<std::unique_ptr<ApiKeyDb>> Open(const std::string& path, bool create);

  // Generates a key from OpenSSL's CSPRNG and stores its digest. `tenant`: 1-128 printable
  // ASCII characters without spaces; `name`: up to 128 printable ASCII characters, not only
  // digits (those are ids).
  absl::StatusOr<CreatedApiKey> Create(absl::string_view tenant, absl::string_view name,
                                       absl::Time now);
  // Every key, revoked ones included, by id.
  absl::StatusOr<std::vector<ApiKeyRecord>> List();
  // Revokes the key with id `id_or_name` when it is a number, else the one active key with that
  // name. NotFound when there is none; FailedPrecondition when it is already revoked or when
  // several active keys have the name (their ids are in the message).
  absl::StatusOr<ApiKeyRecord> Revoke(absl::string_view id_or_name, absl::Time now);

  // Changes whenever another connection commits to the file (PRAGMA data_version): a cheap way
  // to learn that the keys may have changed.
  absl::StatusOr<int64_t> DataVersion();

 private:
  explicit ApiKeyDb(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  absl::StatusOr<std::vector<ApiKeyRecord>> Query(absl::string_view where, absl::string_view arg);

  std::unique_ptr<SqliteDb> db_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_API_KEY_DB_H_
