#include "services/gateway/api_key_store.h"

#include <openssl/sha.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace llmrouter::gateway {

std::string Sha256Hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

absl::StatusOr<ApiKeyStore::KeyMap> ApiKeyStore::ParseFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read API key file ", path));
  KeyMap keys;
  std::string raw;
  for (int line_no = 1; std::getline(in, raw); ++line_no) {
    absl::string_view line = raw;
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

absl::StatusOr<std::unique_ptr<ApiKeyStore>> ApiKeyStore::Load(const std::string& path) {
  absl::StatusOr<KeyMap> keys = ParseFile(path);
  if (!keys.ok()) return keys.status();
  return std::unique_ptr<ApiKeyStore>(new ApiKeyStore(path, *std::move(keys)));
}

ApiKeyStore::ApiKeyStore(std::string path, KeyMap keys)
    : path_(std::move(path)),
      change_(path_),
      keys_(std::make_shared<const KeyMap>(std::move(keys))) {}

std::optional<std::string> ApiKeyStore::TenantFor(std::string_view key) const {
  std::shared_ptr<const KeyMap> keys;
  {
    absl::MutexLock lock(&mu_);
    keys = keys_;
  }
  auto it = keys->find(Sha256Hex(key));
  if (it == keys->end()) return std::nullopt;
  return it->second;
}

std::size_t ApiKeyStore::size() const {
  absl::MutexLock lock(&mu_);
  return keys_->size();
}

absl::StatusOr<bool> ApiKeyStore::ReloadIfChanged() {
  if (!change_.Changed()) return false;
  absl::StatusOr<KeyMap> keys = ParseFile(path_);
  if (!keys.ok()) return keys.status();
  auto fresh = std::make_shared<const KeyMap>(*std::move(keys));
  absl::MutexLock lock(&mu_);
  keys_ = std::move(fresh);
  return true;
}

}  // namespace llmrouter::gateway
