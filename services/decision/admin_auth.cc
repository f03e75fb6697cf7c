#include "services/decision/admin_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/text_file.h"

namespace llmrouter::decision {
namespace {

std::string Sha256(absl::string_view s) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), digest, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

}  // namespace

absl::StatusOr<AdminAuth> AdminAuth::Load(const std::string& token_file, const char* env_var) {
  std::string token;
  if (!token_file.empty()) {
    absl::StatusOr<std::string> secret = ReadSecretFile(token_file);
    if (!secret.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("admin token file: ", secret.status().message()));
    }
    token = *std::move(secret);
  } else if (const char* v = std::getenv(env_var); v != nullptr && *v != '\0') {
    token = std::string(absl::StripAsciiWhitespace(v));
  }
  return token.empty() ? AdminAuth() : WithToken(std::move(token));
}

AdminAuth AdminAuth::WithToken(std::string token) {
  AdminAuth a;
  a.token_hash_ = Sha256(token);
  return a;
}

absl::Status AdminAuth::Check(const grpc::CallbackServerContext& ctx) const {
  if (!configured()) {
    return absl::UnauthenticatedError(
        "policy writes are disabled: no admin token is configured on this decision service "
        "(--admin_token_file or LLMROUTER_ADMIN_TOKEN)");
  }
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return absl::UnauthenticatedError("policy writes need \"authorization: Bearer <admin token>\"");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWithIgnoreCase(value, "bearer ")) {
    return absl::UnauthenticatedError("authorization must be \"Bearer <admin token>\"");
  }
  const std::string given = Sha256(absl::StripAsciiWhitespace(value.substr(7)));
  if (CRYPTO_memcmp(given.data(), token_hash_.data(), token_hash_.size()) != 0) {
    return absl::UnauthenticatedError("the admin token is not valid");
  }
  return absl::OkStatus();
}

}  // namespace llmrouter::decision
