#include "tools/routerctl/routerctl_commands.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/tls_credentials.h"
#include "tools/routerctl/output_format.h"
#include "tools/routerctl/route_request_builder.h"
#include "tools/routerctl/routerctl_session.h"
#include "tools/routerctl/text_file.h"

namespace llmrouter::routerctl {
namespace {

constexpr FlagSpec kFlags[] = {
    {"decision", FlagKind::kValue},     {"inventory", FlagKind::kValue},
    {"token_file", FlagKind::kValue},   {"inventory_token_file", FlagKind::kValue},
    {"json", FlagKind::kBool},          {"timeout_ms", FlagKind::kValue},
    {"help", FlagKind::kBool},          {"comment", FlagKind::kValue},
    {"author", FlagKind::kValue},       {"requests", FlagKind::kValue},
    {"limit", FlagKind::kValue},        {"resume", FlagKind::kBool},
    {"model", FlagKind::kValue},        {"tenant", FlagKind::kValue},
    {"tier", FlagKind::kValue},         {"region", FlagKind::kValue},
    {"session", FlagKind::kValue},      {"user", FlagKind::kValue},
    {"header", FlagKind::kRepeated},    {"prompt", FlagKind::kValue},
    {"prompt_file", FlagKind::kValue},  {"max_tokens", FlagKind::kValue},
    {"request", FlagKind::kValue},      {"tls_cert_file", FlagKind::kValue},
    {"tls_key_file", FlagKind::kValue}, {"tls_ca_file", FlagKind::kValue},
    {"db", FlagKind::kValue},           {"name", FlagKind::kValue},
    {"data", FlagKind::kValue},         {"out", FlagKind::kValue},
    {"seed", FlagKind::kValue},         {"min_confidence", FlagKind::kValue},
    {"check_floors", FlagKind::kBool},  {"classifier", FlagKind::kValue},
    {"options", FlagKind::kValue},      {"reason", FlagKind::kValue},
    {"expected_version", FlagKind::kValue},
};

constexpr absl::string_view kGlobalFlags[] = {
    "decision",   "inventory", "token_file",    "inventory_token_file", "json",
    "timeout_ms", "help",      "tls_cert_file", "tls_key_file",         "tls_ca_file"};

// One subcommand: its words, arguments, flags and handler.
struct CommandSpec {
  absl::string_view group;  // "policy", "inventory", or empty for a top-level command
  absl::string_view name;
  absl::string_view synopsis;  // arguments and flags after the command words
  absl::string_view summary;
  size_t min_args;
  size_t max_args;
  std::vector<absl::string_view> flags;  // besides the global ones
  int (RouterctlSession::*run)(const std::vector<std::string>& args);
  std::vector<absl::string_view> required = {};  // flags without which it is a usage error
};

std::vector<absl::string_view> RequestFlags() {
  return std::vector<absl::string_view>(std::begin(kRequestFlags), std::end(kRequestFlags));
}

// One invocation's state: parsed flags, output streams and the service clients.

const std::vector<CommandSpec>& Commands() {
  static const auto* commands = new std::vector<CommandSpec>{
      {"policy",
       "apply",
       "FILE [--comment TEXT] [--author NAME] [--classifier MODEL]",
       "validate and activate a bundle as a new revision (with the classifier model it names)",
       1,
       1,
       {"comment", "author", "classifier"},
       &RouterctlSession::PolicyApply},
      {"policy",
       "validate",
       "FILE [--classifier MODEL]",
       "check a bundle without storing it",
       1,
       1,
       {"classifier"},
       &RouterctlSession::PolicyValidate},
      {"policy",
       "lint",
       "FILE",
       "report rules that cannot match, conflicts, bad splits",
       1,
       1,
       {},
       &RouterctlSession::PolicyLint},
      {"policy",
       "test",
       "FILE [--requests FILE.jsonl] [--classifier MODEL]",
       "run the bundle's tests and compare its routing with the active revision",
       1,
       1,
       {"requests", "classifier"},
       &RouterctlSession::PolicyTest},
      {"policy",
       "history",
       "[--limit N]",
       "revisions, newest first (default 20, 0 for all)",
       0,
       0,
       {"limit"},
       &RouterctlSession::PolicyHistory},
      {"policy",
       "diff",
       "A [B]",
       "line diff of revision A to B (default: the active one)",
       1,
       2,
       {},
       &RouterctlSession::PolicyDiff},
      {"policy",
       "rollback",
       "N [--comment TEXT] [--author NAME]",
       "activate revision N again",
       1,
       1,
       {"comment", "author"},
       &RouterctlSession::PolicyRollback},
      {"policy",
       "status",
       "",
       "ask every decision replica behind --decision (dns:///NAME:PORT, or ipv4:A:P,B:P) which "
       "bundle it runs; exit 1 when they differ or one does not answer",
       0,
       0,
       {},
       &RouterctlSession::PolicyStatus},
      {"policy",
       "get",
       "[N]",
       "print the bundle YAML of revision N (default: the active one)",
       0,
       1,
       {},
       &RouterctlSession::PolicyGet},
      {"", "route", "--model M [request flags]", "where a request would go", 0, 0, RequestFlags(),
       &RouterctlSession::Route},
      {"", "explain", "--model M [request flags]", "the decision with its full trace", 0, 0,
       RequestFlags(), &RouterctlSession::Explain},
      {"", "why-not", "MODEL --model M [request flags]", "why the request does not go to MODEL", 1,
       1, RequestFlags(), &RouterctlSession::WhyNot},
      {"decision",
       "show",
       "ID",
       "a past decision by decision id (x-router-decision-id) or request id (x-request-id): "
       "request, analysis, choice, rule and policy, and the trace when it was kept; every "
       "replica behind --decision is asked",
       1,
       1,
       {},
       &RouterctlSession::DecisionShow},
      {"decision",
       "why-not",
       "ID MODEL",
       "why that past request did not go to MODEL: read from its trace, or replayed under the "
       "same policy when it kept none",
       2,
       2,
       {},
       &RouterctlSession::DecisionWhyNot},
      {"rollout",
       "status",
       "[NAME]",
       "the rollouts of the active bundle: state, step, canary weight, the last analysis window "
       "of canary and stable, and why",
       0,
       1,
       {},
       &RouterctlSession::RolloutStatus},
      {"rollout",
       "history",
       "NAME [--limit N]",
       "a rollout's recorded steps, newest first (default 20), each with its reason and figures",
       1,
       1,
       {"limit"},
       &RouterctlSession::RolloutHistory},
      {"rollout",
       "pause",
       "NAME [--reason TEXT] [--expected_version V]",
       "hold a rollout at its step until resumed",
       1,
       1,
       {"reason", "expected_version"},
       &RouterctlSession::RolloutPause},
      {"rollout",
       "resume",
       "NAME [--reason TEXT] [--expected_version V]",
       "resume a paused rollout; a rolled back or aborted one starts again from its first step",
       1,
       1,
       {"reason", "expected_version"},
       &RouterctlSession::RolloutResume},
      {"rollout",
       "promote",
       "NAME [--reason TEXT] [--expected_version V]",
       "move a rollout to its next step now, whatever the analysis says",
       1,
       1,
       {"reason", "expected_version"},
       &RouterctlSession::RolloutPromote},
      {"rollout",
       "abort",
       "NAME [--reason TEXT] [--expected_version V]",
       "send every request back to the stable track and stop the rollout",
       1,
       1,
       {"reason", "expected_version"},
       &RouterctlSession::RolloutAbort},
      {"inventory",
       "list",
       "[--model M]",
       "endpoints with health and load",
       0,
       0,
       {"model"},
       &RouterctlSession::InventoryList},
      {"inventory",
       "drain",
       "ID [--resume]",
       "stop sending new requests to an endpoint (--resume ends the drain)",
       1,
       1,
       {"resume"},
       &RouterctlSession::InventoryDrain},
      {"apikeys",
       "create",
       "--db FILE --tenant T [--name N]",
       "make a key for the gateway's --api_keys_db; prints it once, stores its SHA-256",
       0,
       0,
       {"db", "tenant", "name"},
       &RouterctlSession::ApiKeysCreate,
       {"db", "tenant"}},
      {"apikeys",
       "list",
       "--db FILE",
       "keys with id, name, tenant, created, revoked and a digest prefix (never the key)",
       0,
       0,
       {"db"},
       &RouterctlSession::ApiKeysList,
       {"db"}},
      {"apikeys",
       "revoke",
       "ID|NAME --db FILE",
       "stop a key from working (a name must match one active key)",
       1,
       1,
       {"db"},
       &RouterctlSession::ApiKeysRevoke,
       {"db"}},
      {"classifier",
       "train",
       "--data FILES|DIRS --out MODEL [--seed N] [--options dim=64,epoch=50,...]",
       "train a prompt classifier on labeled JSONL (one thread, fixed seed: same files, same "
       "bytes)",
       0,
       0,
       {"data", "out", "seed", "options"},
       &RouterctlSession::ClassifierTrain,
       {"data", "out"}},
      {"classifier",
       "eval",
       "--data FILES|DIRS --model MODEL [--min_confidence P] [--check_floors]",
       "per-intent precision and recall, confusion matrix, complexity ordering, calibration",
       0,
       0,
       {"data", "model", "min_confidence", "check_floors"},
       &RouterctlSession::ClassifierEval,
       {"data", "model"}},
  };
  return *commands;
}

std::string CommandWords(const CommandSpec& c) {
  return c.group.empty() ? std::string(c.name) : absl::StrCat(c.group, " ", c.name);
}

// The command the positional words name, and its arguments; InvalidArgument otherwise.
absl::StatusOr<const CommandSpec*> FindCommand(const CommandLine& cl,
                                               std::vector<std::string>* args) {
  const std::vector<std::string>& words = cl.positional();
  if (words.empty()) return absl::InvalidArgumentError("no command given");
  bool group_known = false;
  for (const CommandSpec& c : Commands()) {
    size_t used = 0;
    if (c.group.empty()) {
      if (words[0] != c.name) continue;
      used = 1;
    } else {
      if (words[0] != c.group) continue;
      group_known = true;
      if (words.size() < 2 || words[1] != c.name) continue;
      used = 2;
    }
    args->assign(words.begin() + used, words.end());
    if (args->size() < c.min_args || args->size() > c.max_args) {
      return absl::InvalidArgumentError(
          absl::StrCat("usage: routerctl ", CommandWords(c), " ", c.synopsis));
    }
    for (absl::string_view flag : c.required) {
      if (!cl.Get(flag) || cl.Get(flag)->empty()) {
        return absl::InvalidArgumentError(absl::StrCat("'", CommandWords(c), "' needs --", flag,
                                                       "; usage: routerctl ", CommandWords(c), " ",
                                                       c.synopsis));
      }
    }
    for (const std::string& flag : cl.FlagNames()) {
      bool allowed = std::find(std::begin(kGlobalFlags), std::end(kGlobalFlags), flag) !=
                         std::end(kGlobalFlags) ||
                     std::find(c.flags.begin(), c.flags.end(), flag) != c.flags.end();
      if (!allowed) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag, " does not apply to '", CommandWords(c), "'"));
      }
    }
    return &c;
  }
  if (group_known) {
    return absl::InvalidArgumentError(
        words.size() < 2 ? absl::StrCat("'", words[0], "' needs a subcommand")
                         : absl::StrCat("unknown command '", words[0], " ", words[1], "'"));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown command '", words[0], "'"));
}

}  // namespace

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value ? std::optional<std::string>(value) : std::nullopt;
}

absl::Span<const FlagSpec> RouterctlFlags() { return kFlags; }

std::string UsageText() {
  std::string out = "usage: routerctl COMMAND [ARGS] [FLAGS]\n\ncommands:\n";
  for (const CommandSpec& c : Commands()) {
    absl::StrAppend(&out, "  ", CommandWords(c), " ", c.synopsis, "\n      ", c.summary, "\n");
  }
  absl::StrAppend(
      &out,
      "\nrequest flags (route, explain, why-not):\n"
      "  --model M  --tenant T  --tier interactive|standard|batch  --region R\n"
      "  --session KEY  --user KEY  --header name=value (repeatable)\n"
      "  --prompt TEXT | --prompt_file FILE  --max_tokens N\n"
      "  --request JSON    a RouteRequestRequest in protobuf JSON; flags override its fields\n"
      "\nglobal flags (--flag=value or --flag value):\n"
      "  --decision HOST:PORT   decision service ($LLMROUTER_DECISION, localhost:50051)\n"
      "  --inventory HOST:PORT  inventory service ($LLMROUTER_INVENTORY, localhost:50061)\n"
      "  --token_file FILE      admin token sent as 'authorization: Bearer' on every call\n"
      "                         ($LLMROUTER_ADMIN_TOKEN holds the token itself)\n"
      "  --inventory_token_file FILE  inventory's write token, when it differs\n"
      "                         ($LLMROUTER_INVENTORY_TOKEN)\n"
      "  --json                 print protobuf JSON instead of tables\n"
      "  --timeout_ms N         deadline of each call (5000)\n"
      "  --tls_cert_file F --tls_key_file F --tls_ca_file F\n"
      "                         mutual TLS to services started with the same flags\n"
      "                         ($LLMROUTER_TLS_CERT_FILE, _KEY_FILE, _CA_FILE)\n"
      "\nexit status: 0 ok; 1 a call failed, an input is unreadable, a bundle is invalid, lint\n"
      "found errors or a bundle test failed; 2 usage error\n");
  return out;
}

namespace {

// A bearer token from the file `flag` names, else from the environment variable `var`;
// whitespace trimmed.
absl::StatusOr<std::string> TokenFrom(const CommandLine& cl, absl::string_view flag,
                                      const EnvLookup& env, const std::string& var) {
  std::string token;
  if (auto path = cl.Get(flag)) {
    auto text = ReadTextFile(*path);
    if (!text.ok()) {
      return absl::NotFoundError(absl::StrCat("--", flag, ": ", text.status().message()));
    }
    token = *std::move(text);
  } else {
    token = env(var).value_or("");
  }
  return std::string(absl::StripAsciiWhitespace(token));
}

}  // namespace

absl::StatusOr<ConnectionSettings> ResolveConnectionSettings(const CommandLine& cl,
                                                             const EnvLookup& env) {
  ConnectionSettings s;
  s.decision_target =
      cl.Get("decision").value_or(env("LLMROUTER_DECISION").value_or("localhost:50051"));
  s.inventory_target =
      cl.Get("inventory").value_or(env("LLMROUTER_INVENTORY").value_or("localhost:50061"));
  auto timeout = cl.GetUint("timeout_ms");
  if (!timeout.ok()) return timeout.status();
  if (*timeout) {
    if (**timeout == 0 || **timeout > 3600 * 1000) {
      return absl::InvalidArgumentError("--timeout_ms must be between 1 and 3600000");
    }
    s.timeout_ms = static_cast<int>(**timeout);
  }
  auto admin = TokenFrom(cl, "token_file", env, "LLMROUTER_ADMIN_TOKEN");
  if (!admin.ok()) return admin.status();
  s.admin_token = *std::move(admin);
  auto inventory = TokenFrom(cl, "inventory_token_file", env, "LLMROUTER_INVENTORY_TOKEN");
  if (!inventory.ok()) return inventory.status();
  s.inventory_token = inventory->empty() ? s.admin_token : *std::move(inventory);
  s.tls.cert_file = cl.Get("tls_cert_file").value_or(env("LLMROUTER_TLS_CERT_FILE").value_or(""));
  s.tls.key_file = cl.Get("tls_key_file").value_or(env("LLMROUTER_TLS_KEY_FILE").value_or(""));
  s.tls.ca_file = cl.Get("tls_ca_file").value_or(env("LLMROUTER_TLS_CA_FILE").value_or(""));
  if (absl::Status tls = ValidateTlsFiles(s.tls); !tls.ok()) return tls;
  return s;
}

int RunRouterctl(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
                 std::ostream& err) {
  auto usage_error = [&](absl::string_view message) {
    err << "routerctl: " << message << "\n\n" << UsageText();
    return kExitUsage;
  };
  auto cl = CommandLine::Parse(args, RouterctlFlags());
  if (!cl.ok()) return usage_error(cl.status().message());
  if (cl->GetBool("help") || (!cl->positional().empty() && cl->positional()[0] == "help")) {
    out << UsageText();
    return kExitOk;
  }
  std::vector<std::string> command_args;
  auto command = FindCommand(*cl, &command_args);
  if (!command.ok()) return usage_error(command.status().message());
  // Request flags are checked before any connection, so a typo is a usage error.
  if ((*command)->flags == RequestFlags()) {
    if (auto req = BuildRouteRequest(*cl);
        !req.ok() && req.status().code() == absl::StatusCode::kInvalidArgument) {
      return usage_error(req.status().message());
    }
  }
  auto settings = ResolveConnectionSettings(*cl, env);
  if (!settings.ok()) {
    if (settings.status().code() == absl::StatusCode::kInvalidArgument) {
      return usage_error(settings.status().message());
    }
    err << "routerctl: " << absl::StatusCodeToString(settings.status().code()) << ": "
        << settings.status().message() << "\n";
    return kExitFailure;
  }
  RouterctlSession session(*cl, *std::move(settings), out, err, env("USER").value_or(""));
  return (session.*((*command)->run))(command_args);
}

}  // namespace llmrouter::routerctl
