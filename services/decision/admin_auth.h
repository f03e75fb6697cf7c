// Who may change policies: write RPCs carry "authorization: Bearer <token>" matching the admin
// token configured on the service (from a file or an environment variable).
#ifndef LLMROUTER_SERVICES_DECISION_ADMIN_AUTH_H_
#define LLMROUTER_SERVICES_DECISION_ADMIN_AUTH_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace llmrouter::decision {

// Immutable; safe for concurrent use.
class AdminAuth {
 public:
  // Reads the token from `token_file` when given, else from the environment variable `env_var`.
  // Without either, every write is refused. InvalidArgument for an unreadable or empty file.
  static absl::StatusOr<AdminAuth> Load(const std::string& token_file, const char* env_var);
  static AdminAuth WithToken(std::string token);

  bool configured() const { return !token_hash_.empty(); }
  // OK when the call's bearer token equals the admin token (compared in constant time);
  // Unauthenticated otherwise, saying why.
  absl::Status Check(const grpc::CallbackServerContext& ctx) const;

 private:
  std::string token_hash_;  // SHA-256 of the token; empty: none configured
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ADMIN_AUTH_H_
