// routerctl: the operator CLI of llm-router. Policy bundles (apply, validate, lint, test,
// history, diff, rollback, get) and routing questions (route, explain, why-not) go to the
// decision service; endpoint listing and draining go to inventory; the gateway's API keys
// (create, list, revoke) are written to its SQLite key store directly.
#ifndef LLMROUTER_TOOLS_ROUTERCTL_ROUTERCTL_COMMANDS_H_
#define LLMROUTER_TOOLS_ROUTERCTL_ROUTERCTL_COMMANDS_H_

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/tls_credentials.h"
#include "tools/routerctl/command_line.h"

namespace llmrouter::routerctl {

// Looks up an environment variable; injected so that tests do not depend on the real one.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment.
std::optional<std::string> ProcessEnv(const std::string& name);

// Exit codes.
inline constexpr int kExitOk = 0;
// An RPC failed, an input could not be read, or a check failed: an invalid bundle, lint
// errors, failing bundle tests.
inline constexpr int kExitFailure = 1;
// The command line is wrong; the usage text has been printed.
inline constexpr int kExitUsage = 2;

// Every flag routerctl knows, for CommandLine::Parse.
absl::Span<const FlagSpec> RouterctlFlags();
std::string UsageText();

// Where and how to call the services, from the global flags and the environment.
struct ConnectionSettings {
  std::string decision_target;   // --decision, $LLMROUTER_DECISION, localhost:50051
  std::string inventory_target;  // --inventory, $LLMROUTER_INVENTORY, localhost:50061
  // --token_file's content or $LLMROUTER_ADMIN_TOKEN, whitespace trimmed; empty sends none.
  std::string admin_token;
  // Sent to inventory instead when its write token differs: --inventory_token_file or
  // $LLMROUTER_INVENTORY_TOKEN; defaults to admin_token.
  std::string inventory_token;
  int timeout_ms = 5000;
  // Mutual TLS files (--tls_*_file or $LLMROUTER_TLS_*_FILE); none: plaintext.
  TlsFiles tls;
};
// InvalidArgument for a bad --timeout_ms; NotFound when --token_file cannot be read.
absl::StatusOr<ConnectionSettings> ResolveConnectionSettings(const CommandLine& cl,
                                                             const EnvLookup& env);

// Runs one invocation (argv without the program name): human-readable answers on `out`,
// errors as "routerctl: <gRPC code name>: <message>" on `err`. Returns the exit code. Makes
// blocking gRPC calls; not meant for concurrent use with shared streams.
int RunRouterctl(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
                 std::ostream& err);

}  // namespace llmrouter::routerctl

#endif  // LLMROUTER_TOOLS_ROUTERCTL_ROUTERCTL_COMMANDS_H_
