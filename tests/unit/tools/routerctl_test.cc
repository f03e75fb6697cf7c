// routerctl without a server: argument parsing, request building, JSONL errors, and the
// human-readable tables and traces.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "tools/routerctl/command_line.h"
#include "tools/routerctl/output_format.h"
#include "common/replica_targets.h"
#include "tools/routerctl/route_request_builder.h"
#include "tools/routerctl/routerctl_commands.h"
#include "tools/routerctl/text_table.h"

namespace llmrouter::routerctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
namespace v1 = llmrouter::v1;

absl::StatusOr<CommandLine> Parse(std::vector<std::string> args) {
  return CommandLine::Parse(args, RouterctlFlags());
}

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

std::string TempFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(CommandLineTest, TakesFlagsWithEqualsOrSpaceAnywhere) {
  auto cl = Parse({"--json", "policy", "--limit", "5", "history", "--decision=h:1"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_THAT(cl->positional(), ElementsAre("policy", "history"));
  EXPECT_TRUE(cl->GetBool("json"));
  EXPECT_EQ(cl->Get("limit"), "5");
  EXPECT_EQ(cl->Get("decision"), "h:1");
  EXPECT_THAT(cl->FlagNames(), ElementsAre("decision", "json", "limit"));
}

TEST(CommandLineTest, BoolFlagsNeverConsumeTheNextWord) {
  auto cl = Parse({"inventory", "drain", "--resume", "ep-1"});
  ASSERT_TRUE(cl.ok());
  EXPECT_THAT(cl->positional(), ElementsAre("inventory", "drain", "ep-1"));
  EXPECT_TRUE(cl->GetBool("resume"));
  auto off = Parse({"--json=false"});
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->GetBool("json"));
}

TEST(CommandLineTest, RepeatedFlagsKeepEveryValueAndValueFlagsTheLast) {
  auto cl = Parse({"--header", "a=1", "--header=b=2", "--model", "x", "--model=y"});
  ASSERT_TRUE(cl.ok());
  EXPECT_THAT(cl->GetAll("header"), ElementsAre("a=1", "b=2"));
  EXPECT_EQ(cl->Get("model"), "y");
}

TEST(CommandLineTest, DoubleDashEndsFlags) {
  auto cl = Parse({"why-not", "--", "--odd-model-name"});
  ASSERT_TRUE(cl.ok());
  EXPECT_THAT(cl->positional(), ElementsAre("why-not", "--odd-model-name"));
}

TEST(CommandLineTest, RejectsUnknownFlagsMissingValuesAndValuedBools) {
  EXPECT_THAT(Parse({"--colour=red"}).status().message(), HasSubstr("unknown flag --colour"));
  EXPECT_THAT(Parse({"policy", "history", "--limit"}).status().message(),
              HasSubstr("--limit needs a value"));
  EXPECT_THAT(Parse({"--json=yes"}).status().message(), HasSubstr("--json takes no value"));
}

TEST(CommandLineTest, NumbersAreChecked) {
  auto cl = Parse({"--limit=ten"});
  ASSERT_TRUE(cl.ok());
  EXPECT_THAT(cl->GetUint("limit").status().message(),
              HasSubstr("--limit must be a non-negative integer, got \"ten\""));
  EXPECT_EQ(*ParsePositiveInteger("revision", "7"), 7u);
  EXPECT_THAT(ParsePositiveInteger("revision", "0").status().message(),
              HasSubstr("revision must be a positive integer"));
  EXPECT_FALSE(ParsePositiveInteger("revision", "-3").ok());
}

TEST(RouteRequestBuilderTest, FlagsFillTheRequest) {
  auto cl = Parse(
      {"route",         "--model",   "auto",      "--tenant", "acme",   "--tier",       "batch",
       "--region",      "eu-west-1", "--session", "s1",       "--user", "u1",           "--header",
       "X-Team=search", "--header",  "x-empty=",  "--prompt", "hello",  "--max_tokens", "64"});
  ASSERT_TRUE(cl.ok());
  auto req = BuildRouteRequest(*cl);
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->model(), "auto");
  EXPECT_EQ(req->tenant(), "acme");
  EXPECT_EQ(req->priority(), v1::PRIORITY_TIER_BATCH);
  EXPECT_EQ(req->region(), "eu-west-1");
  EXPECT_EQ(req->session_key(), "s1");
  EXPECT_EQ(req->user_key(), "u1");
  EXPECT_EQ(req->headers().at("x-team"), "search");
  EXPECT_EQ(req->headers().at("x-empty"), "");
  EXPECT_EQ(req->prompt().excerpt(), "hello");
  EXPECT_EQ(req->prompt().max_output_tokens(), 64u);
}

TEST(RouteRequestBuilderTest, FlagsOverrideTheJsonRequest) {
  auto cl = Parse({"--request", R"({"model":"small","tenant":"acme","prompt":{"excerpt":"x"}})",
                   "--tenant", "beta"});
  ASSERT_TRUE(cl.ok());
  auto req = BuildRouteRequest(*cl);
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->model(), "small");
  EXPECT_EQ(req->tenant(), "beta");
  EXPECT_EQ(req->prompt().excerpt(), "x");
}

TEST(RouteRequestBuilderTest, ReadsThePromptFile) {
  auto cl = Parse({"--model=m", "--prompt_file", TempFile("prompt.txt", "long prompt\n")});
  ASSERT_TRUE(cl.ok());
  auto req = BuildRouteRequest(*cl);
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->prompt().excerpt(), "long prompt\n");
  auto missing = Parse({"--model=m", "--prompt_file=/nonexistent/p.txt"});
  EXPECT_EQ(BuildRouteRequest(*missing).status().code(), absl::StatusCode::kNotFound);
}

TEST(RouteRequestBuilderTest, NamesTheBadFlag) {
  auto error = [](std::vector<std::string> args) {
    return std::string(BuildRouteRequest(*Parse(args)).status().message());
  };
  EXPECT_THAT(error({"--model=m", "--tier=urgent"}),
              HasSubstr("--tier must be interactive, standard or batch, got \"urgent\""));
  EXPECT_THAT(error({"--model=m", "--header=novalue"}), HasSubstr("--header must be name=value"));
  EXPECT_THAT(error({"--model=m", "--prompt=a", "--prompt_file=b"}),
              HasSubstr("--prompt or --prompt_file, not both"));
  EXPECT_THAT(error({"--model=m", "--max_tokens=many"}), HasSubstr("--max_tokens must be"));
  EXPECT_THAT(error({"--tenant=acme"}), HasSubstr("needs --model"));
  EXPECT_THAT(error({"--request={\"modle\":\"m\"}"}), HasSubstr("--request: "));
}

TEST(RequestsJsonlTest, ParsesLinesAndSkipsBlankOnes) {
  auto requests = ParseRequestsJsonl(
      "{\"model\":\"auto\",\"tenant\":\"acme\",\"prompt\":{\"excerpt\":\"hi\"}}\n"
      "\n"
      "  {\"model\":\"small\",\"priority\":\"PRIORITY_TIER_BATCH\"}  \n",
      "reqs.jsonl");
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 2u);
  EXPECT_EQ((*requests)[0].line, 1);
  EXPECT_EQ((*requests)[0].request.tenant(), "acme");
  EXPECT_EQ((*requests)[0].request.prompt().excerpt(), "hi");
  EXPECT_EQ((*requests)[1].line, 3);
  EXPECT_EQ((*requests)[1].request.priority(), v1::PRIORITY_TIER_BATCH);
}

TEST(RequestsJsonlTest, ReportsEveryBadLineByNumber) {
  auto requests = ParseRequestsJsonl(
      "{\"model\":\"auto\"}\n"
      "{\"model\":\n"
      "{\"model\":\"m\",\"colour\":\"red\"}\n"
      "{\"tenant\":\"acme\"}\n",
      "reqs.jsonl");
  ASSERT_EQ(requests.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(requests.status().message());
  EXPECT_THAT(message, HasSubstr("reqs.jsonl:2: "));
  EXPECT_THAT(message, HasSubstr("reqs.jsonl:3: "));
  EXPECT_THAT(message, HasSubstr("colour"));
  EXPECT_THAT(message, HasSubstr("reqs.jsonl:4: request has no \"model\""));
  EXPECT_THAT(message, Not(HasSubstr("reqs.jsonl:1:")));
}

TEST(RequestsJsonlTest, CapsTheReportAndRejectsAnEmptyFile) {
  std::string text;
  for (int i = 0; i < 15; ++i) text += "not json\n";
  auto requests = ParseRequestsJsonl(text, "r");
  EXPECT_THAT(requests.status().message(), HasSubstr("r:10: "));
  EXPECT_THAT(requests.status().message(), Not(HasSubstr("r:11: ")));
  EXPECT_THAT(requests.status().message(), HasSubstr("and 5 more bad lines"));
  EXPECT_THAT(ParseRequestsJsonl("\n\n", "r").status().message(), HasSubstr("r: no requests"));
}

TEST(TextTableTest, AlignsColumnsWithoutTrailingSpaces) {
  TextTable table({"ID", "MODEL", "NOTE"}, "  ");
  table.AddRow({"a", "llama-3.1-8b-instruct", ""});
  table.AddRow({"longer-id", "m"});
  EXPECT_EQ(table.Render(),
            "  ID         MODEL                  NOTE\n"
            "  a          llama-3.1-8b-instruct\n"
            "  longer-id  m\n");
  EXPECT_EQ(table.rows(), 2u);
}

TEST(OutputFormatTest, TraceListsRulesCandidatesAndNotes) {
  v1::RouteTrace trace;
  auto* rule = trace.add_rules();
  rule->set_rule("eu-only");
  rule->set_failed_condition("match.region: us-east-1 not in [eu-west-1]");
  trace.add_rules()->set_rule("default");
  trace.mutable_rules(1)->set_matched(true);
  auto* c = trace.add_candidates();
  c->set_model("big");
  c->set_stage(v1::CANDIDATE_STAGE_OVER_COST_CAP);
  c->set_detail("estimated cost $0.0210 exceeds $0.0100");
  c = trace.add_candidates();
  c->set_model("small");
  c->set_endpoint_id("small-a");
  c->set_stage(v1::CANDIDATE_STAGE_SELECTED);
  c->set_score(0.75);
  trace.add_notes("inventory view is 40 s old");
  EXPECT_EQ(FormatTrace(trace),
            "rules:\n"
            "  RULE     RESULT   FAILED CONDITION\n"
            "  eu-only  no       match.region: us-east-1 not in [eu-west-1]\n"
            "  default  matched\n"
            "candidates:\n"
            "  MODEL  ENDPOINT  STAGE          SCORE  DETAIL\n"
            "  big    -         over_cost_cap  -      estimated cost $0.0210 exceeds $0.0100\n"
            "  small  small-a   selected       0.750\n"
            "notes:\n"
            "  inventory view is 40 s old\n");
}

TEST(OutputFormatTest, RouteShowsTargetPolicyAndFallbacks) {
  v1::RouteRequestResponse resp;
  resp.set_decision_id("d-1");
  auto* t = resp.mutable_target();
  t->set_endpoint_id("llama-a");
  t->set_address("10.0.3.7:8000");
  t->set_model("llama");
  t->set_upstream_model("meta/llama");
  t->set_region("eu-west-1");
  t->set_pool("dedicated");
  t->set_track("stable");
  resp.set_policy_revision(3);
  resp.set_policy_rule("default");
  resp.set_estimated_cost_usd(0.000123);
  auto* f = resp.add_fallbacks();
  f->set_endpoint_id("llama-b");
  f->set_model("llama");
  f->set_address("10.0.3.8:8000");
  f->set_scheme("https");
  resp.mutable_inventory_age()->set_seconds(2);
  resp.set_inventory_stale(true);
  const std::string out = FormatRoute(resp);
  EXPECT_EQ(out,
            "model      llama\n"
            "upstream   meta/llama\n"
            "endpoint   llama-a  http://10.0.3.7:8000  eu-west-1 dedicated/stable\n"
            "policy     revision 3, rule default\n"
            "cost       $0.000123 estimated\n"
            "inventory  2.0 s old, STALE\n"
            "decision   d-1\n"
            "fallbacks:\n"
            "  #  ENDPOINT  MODEL  ADDRESS                PLACEMENT\n"
            "  1  llama-b   llama  https://10.0.3.8:8000\n");
}

TEST(OutputFormatTest, WhyNotSaysWhatEliminatedTheModel) {
  v1::WhyNotResponse resp;
  resp.set_stage(v1::CANDIDATE_STAGE_TENANT_NOT_ALLOWED);
  resp.set_rule("acme-default");
  resp.set_detail("tenant acme may use [small]");
  resp.set_chosen_model("small");
  EXPECT_EQ(FormatWhyNot("big", resp),
            "big: not chosen (tenant_not_allowed)\n"
            "  rule     acme-default\n"
            "  reason   tenant acme may use [small]\n"
            "  instead  small\n");
  v1::WhyNotResponse chosen;
  chosen.set_would_be_chosen(true);
  chosen.set_stage(v1::CANDIDATE_STAGE_SELECTED);
  EXPECT_THAT(FormatWhyNot("small", chosen), HasSubstr("small: would be chosen\n"));
}

TEST(OutputFormatTest, EndpointsTableShowsHealthAndLoad) {
  v1::ListEndpointsResponse resp;
  resp.set_inventory_version(9);
  auto* e = resp.add_endpoints();
  e->set_id("llama-a");
  e->set_model("llama");
  e->set_address("10.0.3.7:8000");
  e->set_region("eu-west-1");
  e->set_pool("dedicated");
  e->set_track("stable");
  e->set_health(v1::HEALTH_STATE_DRAINING);
  e->mutable_load()->set_requests_running(3);
  e->mutable_load()->set_requests_waiting(1);
  e->mutable_load()->set_kv_cache_usage(0.42);
  EXPECT_EQ(FormatEndpoints(resp),
            "ID       MODEL  ADDRESS        REGION     POOL       TRACK   HEALTH    RUN  WAIT  KV"
            "   DETAIL\n"
            "llama-a  llama  10.0.3.7:8000  eu-west-1  dedicated  stable  draining  3    1     "
            "42%\n"
            "1 endpoint, inventory version 9\n");
}

TEST(OutputFormatTest, ValidationLocatesEveryProblem) {
  v1::ValidateBundleResponse resp;
  auto* p = resp.add_problems();
  p->set_path("models[0].fallbacks[0]");
  p->set_message("unknown model \"gpt-9\"");
  resp.add_problems()->set_message("yaml: bad indentation at line 3");
  EXPECT_EQ(FormatValidation("bundle.yaml", resp),
            "bundle.yaml: invalid, 2 problems\n"
            "  models[0].fallbacks[0]: unknown model \"gpt-9\"\n"
            "  yaml: bad indentation at line 3\n");
  v1::ValidateBundleResponse ok;
  ok.set_valid(true);
  EXPECT_EQ(FormatValidation("bundle.yaml", ok), "bundle.yaml: valid\n");
}

TEST(OutputFormatTest, TestReportPointsAtJsonlLines) {
  v1::TestBundleResponse resp;
  auto* t = resp.add_tests();
  t->set_name("code-to-qwen");
  t->set_expected_model("qwen");
  t->set_actual_model("llama");
  t->set_actual_rule("default");
  auto* c = resp.add_comparisons();
  c->set_index(1);
  c->set_changed(true);
  c->set_active_model("llama");
  c->set_candidate_model("qwen");
  resp.set_changed(1);
  resp.set_active_revision(4);
  auto* share = resp.add_candidate_distribution();
  share->set_model("qwen");
  share->set_requests(1);
  const std::string out = FormatTestReport(resp, {1, 7});
  EXPECT_THAT(out, HasSubstr("bundle tests: 0 passed, 1 failed\n"));
  EXPECT_THAT(out, HasSubstr("FAIL    code-to-qwen  qwen      llama / default"));
  EXPECT_THAT(out, HasSubstr("requests: 1 routed, 1 changed against active revision 4\n"));
  EXPECT_THAT(out, HasSubstr("line 7   llama   qwen"));
  EXPECT_THAT(out, HasSubstr("qwen   -       1          -            $0.000000"));
}

TEST(OutputFormatTest, JsonIsProtobufJsonWithDefaults) {
  v1::ApplyBundleResponse resp;
  resp.mutable_revision()->set_revision(2);
  const std::string json = ToJson(resp);
  EXPECT_THAT(json, HasSubstr("\"revision\": \"2\""));
  EXPECT_THAT(json, HasSubstr("\"unchanged\": false"));
  EXPECT_EQ(StageName(v1::CANDIDATE_STAGE_NO_ENDPOINT), "no_endpoint");
  EXPECT_EQ(HealthName(v1::HEALTH_STATE_HEALTHY), "healthy");
}

TEST(ConnectionSettingsTest, FlagsBeatEnvironmentBeatsDefaults) {
  auto defaults = ResolveConnectionSettings(*Parse({}), Env({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->decision_target, "localhost:50051");
  EXPECT_EQ(defaults->inventory_target, "localhost:50061");
  EXPECT_EQ(defaults->timeout_ms, 5000);
  EXPECT_EQ(defaults->admin_token, "");
  auto env = Env({{"LLMROUTER_DECISION", "d:1"},
                  {"LLMROUTER_INVENTORY", "i:2"},
                  {"LLMROUTER_ADMIN_TOKEN", " from-env\n"}});
  auto from_env = ResolveConnectionSettings(*Parse({}), env);
  EXPECT_EQ(from_env->decision_target, "d:1");
  EXPECT_EQ(from_env->inventory_target, "i:2");
  EXPECT_EQ(from_env->admin_token, "from-env");
  auto flags = ResolveConnectionSettings(
      *Parse({"--decision=d:9", "--token_file", TempFile("token", "s3cret\n"), "--timeout_ms=50"}),
      env);
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->decision_target, "d:9");
  EXPECT_EQ(flags->inventory_target, "i:2");
  EXPECT_EQ(flags->admin_token, "s3cret");
  EXPECT_EQ(flags->timeout_ms, 50);
  EXPECT_EQ(flags->inventory_token, "s3cret") << "inventory takes the admin token by default";
  auto split = ResolveConnectionSettings(
      *Parse({"--inventory_token_file", TempFile("inv-token", "inv\n")}), env);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->admin_token, "from-env");
  EXPECT_EQ(split->inventory_token, "inv");
  EXPECT_EQ(ResolveConnectionSettings(*Parse({"--token_file=/nonexistent"}), env).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(ResolveConnectionSettings(*Parse({"--timeout_ms=0"}), env).ok());
}

struct CtlRun {
  int code;
  std::string out;
  std::string err;
};

CtlRun RunCtl(std::vector<std::string> args) {
  std::ostringstream out, err;
  // Port 1 refuses at once: a test that expected a usage error never waits on it.
  args.push_back("--decision=127.0.0.1:1");
  args.push_back("--inventory=127.0.0.1:1");
  int code = RunRouterctl(args, Env({}), out, err);
  return {code, out.str(), err.str()};
}

TEST(RunRouterctlTest, UsageErrorsExitTwoWithTheUsageText) {
  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{}, "no command given"},
           {{"frobnicate"}, "unknown command 'frobnicate'"},
           {{"policy"}, "'policy' needs a subcommand"},
           {{"policy", "pull"}, "unknown command 'policy pull'"},
           {{"policy", "apply"}, "usage: routerctl policy apply FILE"},
           {{"policy", "diff", "1", "2", "3"}, "usage: routerctl policy diff A [B]"},
           {{"policy", "history", "--tier=batch"}, "--tier does not apply to 'policy history'"},
           {{"route", "--model=m", "--tier=urgent"}, "--tier must be interactive"},
           {{"route", "--tenant=acme"}, "a request needs --model"},
           {{"inventory", "list", "--timeout_ms=x"}, "--timeout_ms must be"},
       }) {
    CtlRun run = RunCtl(args);
    EXPECT_EQ(run.code, kExitUsage) << message;
    EXPECT_THAT(run.err, HasSubstr("routerctl: " + message)) << run.err;
    EXPECT_THAT(run.err, HasSubstr("usage: routerctl COMMAND"));
    EXPECT_EQ(run.out, "");
  }
}

TEST(RunRouterctlTest, HelpPrintsUsageToStdout) {
  CtlRun run = RunCtl({"help"});
  EXPECT_EQ(run.code, kExitOk);
  EXPECT_THAT(run.out, HasSubstr("policy rollback N"));
  EXPECT_THAT(run.out, HasSubstr("why-not MODEL"));
  EXPECT_EQ(RunCtl({"policy", "apply", "--help"}).code, kExitOk);
}

TEST(RunRouterctlTest, UnreadableInputsAndUnreachableServicesExitOne) {
  CtlRun missing = RunCtl({"policy", "validate", "/nonexistent/bundle.yaml"});
  EXPECT_EQ(missing.code, kExitFailure);
  EXPECT_THAT(missing.err, HasSubstr("routerctl: NOT_FOUND: cannot read /nonexistent/bundle.yaml"));
  CtlRun inventory_token = RunCtl({"inventory", "list", "--timeout_ms=2000",
                                   "--inventory_token_file", TempFile("inv-tok", "t\n")});
  EXPECT_EQ(inventory_token.code, kExitFailure) << "a global flag on every command";
  EXPECT_THAT(inventory_token.err, HasSubstr("inventory at 127.0.0.1:1 is not reachable"));
  CtlRun down = RunCtl({"policy", "history", "--timeout_ms=2000"});
  EXPECT_EQ(down.code, kExitFailure);
  EXPECT_THAT(down.err, HasSubstr("routerctl: UNAVAILABLE: "));
  EXPECT_THAT(down.err, HasSubstr("decision at 127.0.0.1:1 is not reachable"));
  CtlRun bad_jsonl = RunCtl({"policy", "test", TempFile("b.yaml", "models: []\n"), "--requests",
                             TempFile("r.jsonl", "{\"model\":\"m\"}\n{oops\n")});
  EXPECT_EQ(bad_jsonl.code, kExitFailure);
  EXPECT_THAT(bad_jsonl.err, HasSubstr("routerctl: INVALID_ARGUMENT: "));
  EXPECT_THAT(bad_jsonl.err, HasSubstr("r.jsonl:2: "));
}

TEST(ReplicaTargetsTest, ANameOrAnAddressListBecomesOneTargetPerReplica) {
  auto list = ExpandReplicas("ipv4:10.0.0.1:50051,10.0.0.2:50052");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].target, "ipv4:10.0.0.1:50051");
  EXPECT_EQ((*list)[1].address, "10.0.0.2:50052");
  EXPECT_EQ((*list)[1].host, "");

  auto v6 = ExpandReplicas("ipv6:[fd00::1]:7,[fd00::2]:7");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ((*v6)[1].target, "ipv6:[fd00::2]:7");

  // The resolver answers for a numeric name without a network; each form of dns: is read.
  for (const char* target : {"dns:///127.0.0.1:9001", "dns://8.8.8.8/127.0.0.1:9001",
                             "dns:127.0.0.1:9001", "127.0.0.1:9001"}) {
    auto resolved = ExpandReplicas(target);
    ASSERT_TRUE(resolved.ok()) << target << ": " << resolved.status();
    ASSERT_EQ(resolved->size(), 1u) << target;
    EXPECT_EQ((*resolved)[0].target, "ipv4:127.0.0.1:9001") << target;
    EXPECT_EQ((*resolved)[0].host, "127.0.0.1") << target;
  }
  auto default_port = ExpandReplicas("dns:///127.0.0.1");
  ASSERT_TRUE(default_port.ok());
  EXPECT_EQ((*default_port)[0].address, "127.0.0.1:443");

  auto unix_socket = ExpandReplicas("unix:/run/decision.sock");
  ASSERT_TRUE(unix_socket.ok());
  EXPECT_EQ((*unix_socket)[0].target, "unix:/run/decision.sock");

  EXPECT_EQ(ExpandReplicas("no-such-host.invalid:1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ExpandReplicas("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandReplicas("fd00::1:80").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandReplicas("xds:///decision").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandReplicas("ipv4:").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PolicyStatusFormatTest, SaysWhetherEveryReplicaRunsTheSameBundle) {
  ReplicaPolicy a{"10.0.0.1:50051", true, {}, ""};
  a.revision.set_revision(3);
  a.revision.set_content_hash(std::string(64, 'a'));
  ReplicaPolicy b = a;
  b.address = "10.0.0.2:50051";
  b.revision.set_revision(1);
  EXPECT_THAT(FormatPolicyStatus("dns:///d:50051", {a, b}),
              HasSubstr("all 2 replicas of dns:///d:50051 run sha256 aaaaaaaaaaaa\n"));
  b.revision.set_content_hash(std::string(64, 'b'));
  ReplicaPolicy c{"10.0.0.3:50051", false, {}, "UNAVAILABLE: connection refused"};
  std::string out = FormatPolicyStatus("dns:///d:50051", {a, b, c});
  EXPECT_THAT(out, HasSubstr("replicas disagree: 2 different bundles among 2 replicas\n"));
  EXPECT_THAT(out, HasSubstr("1 replica of 3 did not answer\n"));
  EXPECT_THAT(out, HasSubstr("UNAVAILABLE: connection refused"));
}

}  // namespace
}  // namespace llmrouter::routerctl
