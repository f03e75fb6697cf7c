#include "services/gateway/api_key_store.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_change.h"
#include "common/status_macros.h"
#include "common/text_file.h"
#include "services/gateway/api_key_db.h"

namespace llmrouter::gateway {
namespace {

// Follows an ApiKeyDb file: PRAGMA data_version tells cheaply, without reading a row, whether
// another process (routerctl) committed; a file replaced or rewritten behind the connection's
// back is opened afresh. Used from the reloading thread only.
class ApiKeyDbFollower {
 public:
  explicit ApiKeyDbFollower(std::string path) : path_(std::move(path)), file_(path_) {}

  bool Changed() {
    if (file_.Changed()) {
      reopen_ = true;
      return true;
    }
    // Broken at the last look: Reloadable retries the failed build, which reopens the file.
    if (db_ == nullptr) return false;
    absl::StatusOr<int64_t> version = db_->DataVersion();
    if (!version.ok()) {
      reopen_ = true;
      return true;
    }
    // A change is reported once, like a file's; when the rebuild it causes fails, Reloadable
    // tries that build again.
    if (*version == version_) return false;
    version_ = *version;
    return true;
  }

  // Every record, revoked ones included.
  absl::StatusOr<std::vector<ApiKeyRecord>> Records() {
    if (reopen_ || db_ == nullptr) {
      reopen_ = false;
      db_.reset();
      ASSIGN_OR_RETURN(db_, ApiKeyDb::Open(path_, /*create=*/false));
    }
    ASSIGN_OR_RETURN(version_, db_->DataVersion());
    return db_->List();
  }

 private:
  const std::string path_;
  FileChangeDetector file_;
  std::unique_ptr<ApiKeyDb> db_;
  int64_t version_ = 0;
  bool reopen_ = false;
};

}  // namespace

absl::StatusOr<ApiKeyStore::KeyMap> ApiKeyStore::ParseFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat("API key file: ", text.status().message()));
  }
  KeyMap keys;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    std::string digest = fields.empty() ? "" : absl::AsciiStrToLower(fields[0]);
    bool hex =
        digest.size() == 64 && digest.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (fields.size() != 2 || !hex) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_no, ": expected \"<sha256 hex of the key> <tenant>\" (64 hex digits)"));
    }
    if (!keys.emplace(digest, std::string(fields[1])).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": the same key is listed twice"));
    }
  }
  return keys;
}

absl::StatusOr<std::unique_ptr<ApiKeyStore>> ApiKeyStore::Open(ApiKeySources sources) {
  if (sources.file.empty() && sources.db.empty()) {
    return absl::InvalidArgumentError("API keys need a key file or a key database");
  }
  std::shared_ptr<ApiKeyDbFollower> db;
  if (!sources.db.empty()) db = std::make_shared<ApiKeyDbFollower>(sources.db);
  auto file_changed = sources.file.empty() ? Reloadable<KeyMap>::Changed([] { return false; })
                                           : AnyFileChanged({sources.file});
  auto changed = [file_changed, db] {
    bool file = file_changed();
    bool store = db != nullptr && db->Changed();
    return file || store;
  };
  auto build = [file = sources.file, db]() -> absl::StatusOr<KeyMap> {
    KeyMap keys;
    if (!file.empty()) {
      ASSIGN_OR_RETURN(keys, ParseFile(file));
    }
    if (db == nullptr) return keys;
    ASSIGN_OR_RETURN(std::vector<ApiKeyRecord> records, db->Records());
    for (ApiKeyRecord& r : records) {
      if (r.revoked_at) {
        keys.erase(r.sha256);
      } else {
        keys.insert_or_assign(std::move(r.sha256), std::move(r.tenant));
      }
    }
    return keys;
  };
  ASSIGN_OR_RETURN(std::unique_ptr<Reloadable<KeyMap>> keys,
                   Reloadable<KeyMap>::Create(std::move(changed), std::move(build)));
  return std::unique_ptr<ApiKeyStore>(new ApiKeyStore(std::move(keys)));
}

std::optional<ApiKeyStore::Identity> ApiKeyStore::Identify(std::string_view key) const {
  std::shared_ptr<const KeyMap> keys = keys_->Get();
  std::string digest = Sha256Hex(key);
  auto it = keys->find(digest);
  if (it == keys->end()) return std::nullopt;
  digest.resize(12);
  return Identity{it->second, std::move(digest)};
}

std::optional<std::string> ApiKeyStore::TenantFor(std::string_view key) const {
  std::optional<Identity> identity = Identify(key);
  if (!identity) return std::nullopt;
  return std::move(identity->tenant);
}

}  // namespace llmrouter::gateway
