#include "tools/routerctl/routerctl_commands.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "tools/routerctl/output_format.h"
#include "tools/routerctl/route_request_builder.h"
#include "tools/routerctl/service_clients.h"
#include "tools/routerctl/text_file.h"

namespace llmrouter::routerctl {
namespace {

namespace v1 = llmrouter::v1;

constexpr FlagSpec kFlags[] = {
    {"decision", FlagKind::kValue},    {"inventory", FlagKind::kValue},
    {"token_file", FlagKind::kValue},  {"inventory_token_file", FlagKind::kValue},
    {"json", FlagKind::kBool},         {"timeout_ms", FlagKind::kValue},
    {"help", FlagKind::kBool},         {"comment", FlagKind::kValue},
    {"author", FlagKind::kValue},      {"requests", FlagKind::kValue},
    {"limit", FlagKind::kValue},       {"resume", FlagKind::kBool},
    {"model", FlagKind::kValue},       {"tenant", FlagKind::kValue},
    {"tier", FlagKind::kValue},        {"region", FlagKind::kValue},
    {"session", FlagKind::kValue},     {"user", FlagKind::kValue},
    {"header", FlagKind::kRepeated},   {"prompt", FlagKind::kValue},
    {"prompt_file", FlagKind::kValue}, {"max_tokens", FlagKind::kValue},
    {"request", FlagKind::kValue},
};

constexpr absl::string_view kGlobalFlags[] = {"decision", "inventory",  "token_file",
                                              "json",     "timeout_ms", "help"};

constexpr uint64_t kDefaultHistoryLimit = 20;
constexpr uint32_t kMaxPageSize = 500;

class Session;

// One subcommand: its words, arguments, flags and handler.
struct CommandSpec {
  absl::string_view group;  // "policy", "inventory", or empty for a top-level command
  absl::string_view name;
  absl::string_view synopsis;  // arguments and flags after the command words
  absl::string_view summary;
  size_t min_args;
  size_t max_args;
  std::vector<absl::string_view> flags;  // besides the global ones
  int (Session::*run)(const std::vector<std::string>& args);
};

std::vector<absl::string_view> RequestFlags() {
  return std::vector<absl::string_view>(std::begin(kRequestFlags), std::end(kRequestFlags));
}

// One invocation's state: parsed flags, output streams and the service clients.
class Session {
 public:
  Session(const CommandLine& cl, ConnectionSettings settings, std::ostream& out, std::ostream& err,
          std::string author)
      : cl_(cl),
        clients_(std::move(settings)),
        out_(out),
        err_(err),
        json_(cl.GetBool("json")),
        author_(std::move(author)) {}

  int PolicyApply(const std::vector<std::string>& args);
  int PolicyValidate(const std::vector<std::string>& args);
  int PolicyLint(const std::vector<std::string>& args);
  int PolicyTest(const std::vector<std::string>& args);
  int PolicyHistory(const std::vector<std::string>& args);
  int PolicyDiff(const std::vector<std::string>& args);
  int PolicyRollback(const std::vector<std::string>& args);
  int PolicyGet(const std::vector<std::string>& args);
  int Route(const std::vector<std::string>& args) { return RouteOrExplain(false); }
  int Explain(const std::vector<std::string>& args) { return RouteOrExplain(true); }
  int WhyNot(const std::vector<std::string>& args);
  int InventoryList(const std::vector<std::string>& args);
  int InventoryDrain(const std::vector<std::string>& args);

 private:
  // Runs `call` with a prepared context; on failure prints the error and returns false.
  template <typename Fn>
  bool Call(Service service, Fn call) {
    grpc::ClientContext ctx;
    clients_.Prepare(service, &ctx);
    grpc::Status status = call(&ctx);
    if (status.ok()) return true;
    err_ << clients_.DescribeError(service, status) << "\n";
    return false;
  }
  int LocalError(const absl::Status& status) {
    err_ << "routerctl: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
         << "\n";
    return kExitFailure;
  }
  // A request from the request flags; usage errors are reported by the caller's exit code.
  absl::StatusOr<v1::RouteRequestRequest> Request();
  int RouteOrExplain(bool explain);

  const CommandLine& cl_;
  ServiceClients clients_;
  std::ostream& out_;
  std::ostream& err_;
  const bool json_;
  const std::string author_;
};

const std::vector<CommandSpec>& Commands() {
  static const auto* commands = new std::vector<CommandSpec>{
      {"policy",
       "apply",
       "FILE [--comment TEXT] [--author NAME]",
       "validate and activate a bundle as a new revision",
       1,
       1,
       {"comment", "author"},
       &Session::PolicyApply},
      {"policy",
       "validate",
       "FILE",
       "check a bundle without storing it",
       1,
       1,
       {},
       &Session::PolicyValidate},
      {"policy",
       "lint",
       "FILE",
       "report rules that cannot match, conflicts, bad splits",
       1,
       1,
       {},
       &Session::PolicyLint},
      {"policy",
       "test",
       "FILE [--requests FILE.jsonl]",
       "run the bundle's tests and compare its routing with the active revision",
       1,
       1,
       {"requests"},
       &Session::PolicyTest},
      {"policy",
       "history",
       "[--limit N]",
       "revisions, newest first (default 20, 0 for all)",
       0,
       0,
       {"limit"},
       &Session::PolicyHistory},
      {"policy",
       "diff",
       "A [B]",
       "line diff of revision A to B (default: the active one)",
       1,
       2,
       {},
       &Session::PolicyDiff},
      {"policy",
       "rollback",
       "N [--comment TEXT] [--author NAME]",
       "activate revision N again",
       1,
       1,
       {"comment", "author"},
       &Session::PolicyRollback},
      {"policy",
       "get",
       "[N]",
       "print the bundle YAML of revision N (default: the active one)",
       0,
       1,
       {},
       &Session::PolicyGet},
      {"", "route", "--model M [request flags]", "where a request would go", 0, 0, RequestFlags(),
       &Session::Route},
      {"", "explain", "--model M [request flags]", "the decision with its full trace", 0, 0,
       RequestFlags(), &Session::Explain},
      {"", "why-not", "MODEL --model M [request flags]", "why the request does not go to MODEL", 1,
       1, RequestFlags(), &Session::WhyNot},
      {"inventory",
       "list",
       "[--model M]",
       "endpoints with health and load",
       0,
       0,
       {"model"},
       &Session::InventoryList},
      {"inventory",
       "drain",
       "ID [--resume]",
       "stop sending new requests to an endpoint (--resume ends the drain)",
       1,
       1,
       {"resume"},
       &Session::InventoryDrain},
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

int Session::PolicyApply(const std::vector<std::string>& args) {
  auto bundle = ReadTextFile(args[0]);
  if (!bundle.ok()) return LocalError(bundle.status());
  v1::ApplyBundleRequest req;
  req.set_bundle(*std::move(bundle));
  req.set_author(cl_.Get("author").value_or(author_));
  req.set_comment(cl_.Get("comment").value_or(""));
  v1::ApplyBundleResponse resp;
  if (!Call(Service::kDecision,
            [&](auto* ctx) { return clients_.policy().ApplyBundle(ctx, req, &resp); })) {
    return kExitFailure;
  }
  if (json_) {
    out_ << ToJson(resp);
  } else if (resp.unchanged()) {
    out_ << "unchanged: " << args[0] << " is already the active "
         << FormatRevisionSummary(resp.revision()) << "\n";
  } else {
    out_ << "applied " << args[0] << ": active " << FormatRevisionSummary(resp.revision()) << "\n";
  }
  return kExitOk;
}

int Session::PolicyValidate(const std::vector<std::string>& args) {
  auto bundle = ReadTextFile(args[0]);
  if (!bundle.ok()) return LocalError(bundle.status());
  v1::ValidateBundleRequest req;
  req.set_bundle(*std::move(bundle));
  v1::ValidateBundleResponse resp;
  if (!Call(Service::kDecision,
            [&](auto* ctx) { return clients_.policy().ValidateBundle(ctx, req, &resp); })) {
    return kExitFailure;
  }
  out_ << (json_ ? ToJson(resp) : FormatValidation(args[0], resp));
  return resp.valid() ? kExitOk : kExitFailure;
}

int Session::PolicyLint(const std::vector<std::string>& args) {
  auto bundle = ReadTextFile(args[0]);
  if (!bundle.ok()) return LocalError(bundle.status());
  v1::LintBundleRequest req;
  req.set_bundle(*std::move(bundle));
  v1::LintBundleResponse resp;
  if (!Call(Service::kDecision,
            [&](auto* ctx) { return clients_.policy().LintBundle(ctx, req, &resp); })) {
    return kExitFailure;
  }
  out_ << (json_ ? ToJson(resp) : FormatLint(args[0], resp));
  for (const v1::LintFinding& f : resp.findings()) {
    if (f.severity() == v1::LINT_SEVERITY_ERROR) return kExitFailure;
  }
  return kExitOk;
}

int Session::PolicyTest(const std::vector<std::string>& args) {
  auto bundle = ReadTextFile(args[0]);
  if (!bundle.ok()) return LocalError(bundle.status());
  v1::TestBundleRequest req;
  req.set_bundle(*std::move(bundle));
  std::vector<int> lines;
  if (auto path = cl_.Get("requests")) {
    auto text = ReadTextFile(*path);
    if (!text.ok()) return LocalError(text.status());
    auto requests = ParseRequestsJsonl(*text, *path);
    if (!requests.ok()) return LocalError(requests.status());
    for (NumberedRequest& r : *requests) {
      lines.push_back(r.line);
      *req.add_requests() = std::move(r.request);
    }
  }
  v1::TestBundleResponse resp;
  if (!Call(Service::kDecision,
            [&](auto* ctx) { return clients_.policy().TestBundle(ctx, req, &resp); })) {
    return kExitFailure;
  }
  out_ << (json_ ? ToJson(resp) : FormatTestReport(resp, lines));
  for (const v1::BundleTestResult& t : resp.tests()) {
    if (!t.passed()) return kExitFailure;
  }
  return kExitOk;
}

int Session::PolicyHistory(const std::vector<std::string>& args) {
  auto limit = cl_.GetUint("limit");
  if (!limit.ok()) return LocalError(limit.status());
  const uint64_t wanted = limit->value_or(kDefaultHistoryLimit);
  v1::ListRevisionsResponse all;
  std::string token;
  do {
    v1::ListRevisionsRequest req;
    uint64_t left = wanted == 0 ? kMaxPageSize : wanted - all.revisions_size();
    req.set_page_size(static_cast<uint32_t>(std::min<uint64_t>(left, kMaxPageSize)));
    req.set_page_token(token);
    v1::ListRevisionsResponse page;
    if (!Call(Service::kDecision,
              [&](auto* ctx) { return clients_.policy().ListRevisions(ctx, req, &page); })) {
      return kExitFailure;
    }
    for (v1::PolicyRevision& r : *page.mutable_revisions()) *all.add_revisions() = std::move(r);
    token = page.next_page_token();
  } while (!token.empty() && (wanted == 0 || static_cast<uint64_t>(all.revisions_size()) < wanted));
  all.set_next_page_token(token);
  if (json_) {
    out_ << ToJson(all);
  } else {
    out_ << FormatRevisionTable({all.revisions().begin(), all.revisions().end()});
    if (!token.empty()) out_ << "(older revisions: --limit=0 lists all)\n";
  }
  return kExitOk;
}

int Session::PolicyDiff(const std::vector<std::string>& args) {
  v1::DiffRevisionsRequest req;
  auto from = ParsePositiveInteger("revision A", args[0]);
  if (!from.ok()) return LocalError(from.status());
  req.set_from_revision(*from);
  if (args.size() > 1) {
    auto to = ParsePositiveInteger("revision B", args[1]);
    if (!to.ok()) return LocalError(to.status());
    req.set_to_revision(*to);
  }
  v1::DiffRevisionsResponse resp;
  if (!Call(Service::kDecision,
            [&](auto* ctx) { return clients_.policy().DiffRevisions(ctx, req, &resp); })) {
    return kExitFailure;
  }
  if (json_) {
    out_ << ToJson(resp);
  } else if (resp.diff().empty()) {
    out_ << "no differences\n";
  } else {
    out_ << resp.diff();
    if (resp.diff().back() != '\n') out_ << "\n";
  }
  return kExitOk;
}

int Session::PolicyRollback(const std::vector<std::string>& args) {
  auto revision = ParsePositiveInteger("revision", args[0]);
  if (!revision.ok()) return LocalError(revision.status());
  v1::RollbackRequest req;
  req.set_revision(*revision);
  req.set_author(cl_.Get("author").value_or(author_));
  req.set_comment(cl_.Get("comment").value_or(""));
  v1::RollbackResponse resp;
  if (!Call(Service::kDecision,
            [&](auto* ctx) { return clients_.policy().Rollback(ctx, req, &resp); })) {
    return kExitFailure;
  }
  out_ << (json_ ? ToJson(resp)
                 : absl::StrCat("rolled back to revision ", *revision, ": active ",
                                FormatRevisionSummary(resp.revision()), "\n"));
  return kExitOk;
}

int Session::PolicyGet(const std::vector<std::string>& args) {
  v1::GetRevisionRequest req;
  if (!args.empty()) {
    auto revision = ParsePositiveInteger("revision", args[0]);
    if (!revision.ok()) return LocalError(revision.status());
    req.set_revision(*revision);
  }
  v1::GetRevisionResponse resp;
  if (!Call(Service::kDecision,
            [&](auto* ctx) { return clients_.policy().GetRevision(ctx, req, &resp); })) {
    return kExitFailure;
  }
  if (json_) {
    out_ << ToJson(resp);
  } else {
    const std::string& bundle = resp.revision().bundle();
    out_ << bundle;
    if (!bundle.empty() && bundle.back() != '\n') out_ << "\n";
  }
  return kExitOk;
}

absl::StatusOr<v1::RouteRequestRequest> Session::Request() { return BuildRouteRequest(cl_); }

int Session::RouteOrExplain(bool explain) {
  auto req = Request();
  if (!req.ok()) return LocalError(req.status());
  req->set_explain(explain);
  v1::RouteRequestResponse resp;
  if (!Call(Service::kDecision,
            [&](auto* ctx) { return clients_.decision().RouteRequest(ctx, *req, &resp); })) {
    return kExitFailure;
  }
  out_ << (json_ ? ToJson(resp) : FormatRoute(resp));
  return kExitOk;
}

int Session::WhyNot(const std::vector<std::string>& args) {
  auto route = Request();
  if (!route.ok()) return LocalError(route.status());
  v1::WhyNotRequest req;
  *req.mutable_request() = *std::move(route);
  req.set_model(args[0]);
  v1::WhyNotResponse resp;
  if (!Call(Service::kDecision,
            [&](auto* ctx) { return clients_.decision().WhyNot(ctx, req, &resp); })) {
    return kExitFailure;
  }
  out_ << (json_ ? ToJson(resp) : FormatWhyNot(args[0], resp));
  return kExitOk;
}

int Session::InventoryList(const std::vector<std::string>& args) {
  v1::ListEndpointsRequest req;
  req.set_model(cl_.Get("model").value_or(""));
  v1::ListEndpointsResponse resp;
  if (!Call(Service::kInventory,
            [&](auto* ctx) { return clients_.inventory().ListEndpoints(ctx, req, &resp); })) {
    return kExitFailure;
  }
  out_ << (json_ ? ToJson(resp) : FormatEndpoints(resp));
  return kExitOk;
}

int Session::InventoryDrain(const std::vector<std::string>& args) {
  v1::DrainEndpointRequest req;
  req.set_id(args[0]);
  req.set_resume(cl_.GetBool("resume"));
  v1::DrainEndpointResponse resp;
  if (!Call(Service::kInventory,
            [&](auto* ctx) { return clients_.inventory().DrainEndpoint(ctx, req, &resp); })) {
    return kExitFailure;
  }
  if (json_) {
    out_ << ToJson(resp);
  } else {
    out_ << (req.resume() ? "resumed " : "draining ") << resp.endpoint().id() << ": now "
         << HealthName(resp.endpoint().health()) << " (inventory version "
         << resp.inventory_version() << ")\n";
  }
  return kExitOk;
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
  Session session(*cl, *std::move(settings), out, err, env("USER").value_or(""));
  return (session.*((*command)->run))(command_args);
}

}  // namespace llmrouter::routerctl
