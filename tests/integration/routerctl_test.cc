// routerctl end to end: the real binary against real inventory and decision processes, for
// every command an operator runs, in human and --json form.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "llmrouter/v1/decision.pb.h"
#include "llmrouter/v1/inventory.pb.h"
#include "llmrouter/v1/policy.pb.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"

namespace llmrouter::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace v1 = llmrouter::v1;

constexpr char kToken[] = "test-admin-token";

constexpr char kEndpoints[] = R"(endpoints:
  - {id: small-a, model: small-model, address: "127.0.0.1:9", region: eu-west-1, pool: dedicated, track: stable}
  - {id: small-b, model: small-model, address: "127.0.0.1:10", health: draining}
  - {id: big-a, model: big-model, address: "127.0.0.1:11"}
)";

// Only name, aliases and fallbacks: the parts of the bundle format that are settled.
constexpr char kBundle[] = R"(models:
  - name: small-model
    aliases: [small, auto]
    fallbacks: [big-model]
  - name: big-model
    aliases: [big]
)";

constexpr char kBundleWithTiny[] = R"(models:
  - name: small-model
    aliases: [small, auto, tiny]
    fallbacks: [big-model]
  - name: big-model
    aliases: [big]
)";

constexpr char kBadBundle[] = R"(models:
  - name: small-model
    fallbacks: [ghost]
)";

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

using CtlResult = CommandResult;

// True when `binary` (relative to the build tree) has the flag: the admin token on decision's
// writes and inventory's write token are being added while this test is written.
bool BinaryKnowsFlag(const std::string& binary, const std::string& flag) {
  CommandResult r = RunCommand(BuildPath(binary), {"--helpfull"});
  std::string help = r.out + r.err;
  return help.find("-" + flag + " ") != std::string::npos ||
         help.find("-" + flag + ")") != std::string::npos;
}

class RouterctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    admin_token_supported_ = BinaryKnowsFlag("services/decision/decision", "admin_token_file");
    inventory_token_supported_ =
        BinaryKnowsFlag("services/inventory/inventory", "write_token_file");
  }

  void SetUp() override {
    dir_ = MakeTempDir("llmrouter-routerctl");
    WriteFile(dir_ + "/endpoints.yaml", kEndpoints);
    WriteFile(dir_ + "/bundle.yaml", kBundle);
    WriteFile(dir_ + "/bundle-tiny.yaml", kBundleWithTiny);
    WriteFile(dir_ + "/bad.yaml", kBadBundle);
    WriteFile(dir_ + "/token", absl::StrCat(kToken, "\n"));
    std::vector<std::string> inventory_args = {"--grpc_port=0",
                                               "--metrics_port=0",
                                               "--host=127.0.0.1",
                                               "--maintenance_interval_ms=50",
                                               "--endpoints_file=" + dir_ + "/endpoints.yaml",
                                               "--active_health_checks=false"};
    if (inventory_token_supported_) {
      inventory_args.push_back("--write_token_file=" + dir_ + "/token");
    }
    auto inventory = ServiceProcess::Start("inventory", BuildPath("services/inventory/inventory"),
                                           inventory_args, dir_);
    ASSERT_TRUE(inventory.ok()) << inventory.status();
    inventory_ = *std::move(inventory);
    std::vector<std::string> decision_args = {
        "--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1", "--db=" + dir_ + "/d.db",
        absl::StrCat("--inventory_target=127.0.0.1:", inventory_->port("grpc_port"))};
    if (admin_token_supported_) decision_args.push_back("--admin_token_file=" + dir_ + "/token");
    auto decision = ServiceProcess::Start("decision", BuildPath("services/decision/decision"),
                                          decision_args, dir_);
    ASSERT_TRUE(decision.ok()) << decision.status();
    decision_ = *std::move(decision);
  }

  // Runs routerctl with `args`, pointed at the test's services and (unless `with_token` is
  // false) carrying the admin token; the environment holds only `env`.
  CtlResult Ctl(const std::vector<std::string>& args, bool with_token = true,
                const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> argv = {
        absl::StrCat("--decision=127.0.0.1:", decision_->port("grpc_port")),
        absl::StrCat("--inventory=127.0.0.1:", inventory_->port("grpc_port"))};
    if (with_token) argv.push_back("--token_file=" + dir_ + "/token");
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(BuildPath("tools/routerctl/routerctl"), argv, env);
  }

  // Applies the bundle and waits until decision routes with an inventory snapshot.
  void ApplyAndWaitForRoutes() {
    CtlResult apply = Ctl({"policy", "apply", dir_ + "/bundle.yaml", "--comment", "first"});
    ASSERT_EQ(apply.code, 0) << apply.err;
    for (int i = 0; i < 500; ++i) {
      if (Ctl({"route", "--model", "small"}).code == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "decision never routed: " << Ctl({"route", "--model", "small"}).err;
  }

  static bool Unimplemented(const CtlResult& r) {
    return r.code == 1 && r.err.find("routerctl: UNIMPLEMENTED") != std::string::npos;
  }

  static bool admin_token_supported_;
  static bool inventory_token_supported_;
  std::string dir_;
  std::unique_ptr<ServiceProcess> inventory_;
  std::unique_ptr<ServiceProcess> decision_;
};

bool RouterctlTest::admin_token_supported_ = false;
bool RouterctlTest::inventory_token_supported_ = false;

template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return message;
}

TEST_F(RouterctlTest, ValidateAcceptsAGoodBundleAndLocatesProblemsInABadOne) {
  CtlResult ok = Ctl({"policy", "validate", dir_ + "/bundle.yaml"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("bundle.yaml: valid"));
  CtlResult bad = Ctl({"policy", "validate", dir_ + "/bad.yaml"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.out, HasSubstr("bad.yaml: invalid, 1 problem"));
  EXPECT_THAT(bad.out, HasSubstr("models[0].fallbacks[0]: unknown model \"ghost\""));
  CtlResult apply = Ctl({"policy", "apply", dir_ + "/bad.yaml"});
  EXPECT_EQ(apply.code, 1);
  EXPECT_THAT(apply.err, HasSubstr("routerctl: INVALID_ARGUMENT: "));
  EXPECT_THAT(apply.err, HasSubstr("models[0].fallbacks[0]"));
}

TEST_F(RouterctlTest, AppliesListsDiffsAndRollsBack) {
  ApplyAndWaitForRoutes();
  CtlResult again = Ctl({"policy", "apply", dir_ + "/bundle.yaml"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("unchanged"));
  CtlResult apply = Ctl({"policy", "apply", dir_ + "/bundle-tiny.yaml", "--comment", "add tiny",
                         "--author", "alice"});
  ASSERT_EQ(apply.code, 0) << apply.err;
  EXPECT_THAT(apply.out, HasSubstr("active revision 2"));
  EXPECT_EQ(Ctl({"route", "--model", "tiny"}).code, 0);

  CtlResult history = Ctl({"policy", "history"});
  ASSERT_EQ(history.code, 0) << history.err;
  EXPECT_THAT(history.out, HasSubstr("REV  ACTIVE"));
  EXPECT_THAT(history.out, HasSubstr("alice"));
  EXPECT_THAT(history.out, HasSubstr("add tiny"));
  EXPECT_LT(history.out.find("add tiny"), history.out.find("first")) << "newest first";
  CtlResult limited = Ctl({"policy", "history", "--limit", "1"});
  EXPECT_THAT(limited.out, Not(HasSubstr("first")));

  CtlResult get = Ctl({"policy", "get", "1"});
  EXPECT_EQ(get.code, 0);
  EXPECT_EQ(get.out, kBundle);

  CtlResult rollback = Ctl({"policy", "rollback", "1", "--comment", "back out"});
  EXPECT_EQ(rollback.code, 0) << rollback.err;
  EXPECT_THAT(rollback.out, HasSubstr("rolled back to revision 1"));
  CtlResult gone = Ctl({"route", "--model", "tiny"});
  EXPECT_EQ(gone.code, 1);
  EXPECT_THAT(gone.err, HasSubstr("routerctl: NOT_FOUND: "));
  EXPECT_EQ(Ctl({"policy", "rollback", "99"}).code, 1);
}

TEST_F(RouterctlTest, DiffShowsWhatChangedBetweenRevisions) {
  ApplyAndWaitForRoutes();
  ASSERT_EQ(Ctl({"policy", "apply", dir_ + "/bundle-tiny.yaml"}).code, 0);
  CtlResult diff = Ctl({"policy", "diff", "1", "2"});
  if (Unimplemented(diff)) GTEST_SKIP() << "waits on decision's DiffRevisions: " << diff.err;
  EXPECT_EQ(diff.code, 0) << diff.err;
  EXPECT_THAT(diff.out, HasSubstr("+    aliases: [small, auto, tiny]"));
  EXPECT_THAT(diff.out, HasSubstr("-    aliases: [small, auto]"));
  CtlResult to_active = Ctl({"policy", "diff", "1"});
  EXPECT_EQ(to_active.code, 0) << to_active.err;
  EXPECT_EQ(to_active.out, diff.out);
}

TEST_F(RouterctlTest, WritesNeedTheAdminToken) {
  if (!admin_token_supported_) GTEST_SKIP() << "decision has no --admin_token_file yet";
  CtlResult anonymous = Ctl({"policy", "apply", dir_ + "/bundle.yaml"}, /*with_token=*/false);
  EXPECT_EQ(anonymous.code, 1);
  EXPECT_THAT(anonymous.err, HasSubstr("routerctl: UNAUTHENTICATED"));
  CtlResult from_env = Ctl({"policy", "apply", dir_ + "/bundle.yaml"}, /*with_token=*/false,
                           {{"LLMROUTER_ADMIN_TOKEN", kToken}});
  EXPECT_EQ(from_env.code, 0) << from_env.err;
  // Reads stay open.
  EXPECT_EQ(Ctl({"policy", "history"}, /*with_token=*/false).code, 0);
}

TEST_F(RouterctlTest, RouteAndExplainShowTheDecisionAndTrace) {
  ApplyAndWaitForRoutes();
  CtlResult route = Ctl({"route", "--model", "auto", "--tenant", "acme", "--tier", "interactive",
                         "--prompt", "hello there", "--header", "x-team=search"});
  ASSERT_EQ(route.code, 0) << route.err;
  EXPECT_THAT(route.out, HasSubstr("model      small-model"));
  EXPECT_THAT(route.out, HasSubstr("small-a  http://127.0.0.1:9  eu-west-1 dedicated/stable"));
  EXPECT_THAT(route.out, HasSubstr("1  big-a     big-model"));
  EXPECT_THAT(route.out, Not(HasSubstr("candidates:")));

  CtlResult explain = Ctl({"explain", "--model", "small"});
  ASSERT_EQ(explain.code, 0) << explain.err;
  EXPECT_THAT(explain.out, HasSubstr("candidates:"));
  EXPECT_THAT(explain.out, HasSubstr("small-b   draining"));
  EXPECT_THAT(explain.out, HasSubstr("small-a   selected"));
  EXPECT_THAT(explain.out, HasSubstr("big-a     fallback"));

  CtlResult unknown = Ctl({"route", "--model", "gpt-9"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("routerctl: NOT_FOUND: "));
  EXPECT_THAT(unknown.err, HasSubstr("small-model"));
}

TEST_F(RouterctlTest, PolicyStatusAsksEveryReplicaAndSaysWhenTheyDisagree) {
  ApplyAndWaitForRoutes();
  // A second replica with its own database: its revision numbers are its own, the hash is not.
  auto second = ServiceProcess::Start(
      "decision-2", BuildPath("services/decision/decision"),
      {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1", "--db=" + dir_ + "/d2.db",
       absl::StrCat("--inventory_target=127.0.0.1:", inventory_->port("grpc_port")),
       "--admin_token_file=" + dir_ + "/token"},
      dir_);
  ASSERT_TRUE(second.ok()) << second.status();
  const std::string second_target =
      absl::StrCat("--decision=127.0.0.1:", (*second)->port("grpc_port"));
  ASSERT_EQ(Ctl({second_target, "policy", "apply", dir_ + "/bundle-tiny.yaml"}).code, 0);
  ASSERT_EQ(Ctl({second_target, "policy", "apply", dir_ + "/bundle.yaml"}).code, 0);

  const std::string hash = Sha256Hex(kBundle);
  const std::string tiny_hash = Sha256Hex(kBundleWithTiny);
  const std::string both = absl::StrCat("--decision=ipv4:127.0.0.1:", decision_->port("grpc_port"),
                                        ",127.0.0.1:", (*second)->port("grpc_port"));
  CtlResult same = Ctl({both, "policy", "status"});
  EXPECT_EQ(same.code, 0) << same.out << same.err;
  EXPECT_THAT(same.out, HasSubstr("all 2 replicas of "));
  EXPECT_THAT(same.out, HasSubstr(absl::StrCat("run sha256 ", hash.substr(0, 12))));
  EXPECT_THAT(same.out, HasSubstr(absl::StrCat("127.0.0.1:", (*second)->port("grpc_port"), "  ",
                                               hash.substr(0, 12), "  2 ")));
  // Routing answers and each replica's metrics name the same hash.
  CtlResult route = Ctl({"route", "--model", "small"});
  EXPECT_THAT(route.out, HasSubstr(absl::StrCat("sha256 ", hash.substr(0, 12), " revision 1")));
  const std::string info = absl::StrCat("llmrouter_decision_policy_info{sha256=\"", hash, "\"}");
  EXPECT_EQ(ScrapeMetric(decision_->port("metrics_port"), info), 1);
  EXPECT_EQ(ScrapeMetric((*second)->port("metrics_port"), info), 1);

  // One replica moves on: status says they disagree (exit 1), and its metric shows only the new
  // hash.
  ASSERT_EQ(Ctl({second_target, "policy", "apply", dir_ + "/bundle-tiny.yaml"}).code, 0);
  CtlResult differ = Ctl({both, "policy", "status"});
  EXPECT_EQ(differ.code, 1);
  EXPECT_THAT(differ.out, HasSubstr("replicas disagree: 2 different bundles among 2 replicas"));
  EXPECT_THAT(differ.out, HasSubstr(tiny_hash.substr(0, 12)));
  EXPECT_EQ(
      ScrapeMetric((*second)->port("metrics_port"),
                   absl::StrCat("llmrouter_decision_policy_info{sha256=\"", tiny_hash, "\"}")),
      1);
  EXPECT_EQ(ScrapeMetric((*second)->port("metrics_port"), info), -1);

  // A replica that does not answer is named and fails the check; --json says the same.
  const std::string with_dead =
      absl::StrCat("--decision=ipv4:127.0.0.1:", decision_->port("grpc_port"), ",127.0.0.1:1");
  CtlResult dead = Ctl({with_dead, "--timeout_ms=2000", "policy", "status"});
  EXPECT_EQ(dead.code, 1);
  EXPECT_THAT(dead.out, HasSubstr("1 replica of 2 did not answer"));
  EXPECT_THAT(dead.out, HasSubstr("127.0.0.1:1 "));
  CtlResult json = Ctl({with_dead, "--timeout_ms=2000", "--json", "policy", "status"});
  EXPECT_EQ(json.code, 1);
  EXPECT_THAT(json.out, HasSubstr(absl::StrCat("\"", hash, "\"")));
  EXPECT_THAT(json.out, HasSubstr("\"agree\":false"));
}

TEST_F(RouterctlTest, WhyNotNamesTheStageThatEliminatedTheModel) {
  ApplyAndWaitForRoutes();
  CtlResult why = Ctl({"why-not", "big", "--model", "small"});
  if (Unimplemented(why)) GTEST_SKIP() << "waits on decision's WhyNot: " << why.err;
  ASSERT_EQ(why.code, 0) << why.err;
  EXPECT_THAT(why.out, HasSubstr("big: not chosen ("));
  EXPECT_THAT(why.out, HasSubstr("instead  small-model"));
  CtlResult chosen = Ctl({"why-not", "small", "--model", "small"});
  EXPECT_EQ(chosen.code, 0) << chosen.err;
  EXPECT_THAT(chosen.out, HasSubstr("small: would be chosen"));
}

TEST_F(RouterctlTest, LintAndTestACandidateBundle) {
  ApplyAndWaitForRoutes();
  CtlResult lint = Ctl({"policy", "lint", dir_ + "/bundle-tiny.yaml"});
  if (Unimplemented(lint)) GTEST_SKIP() << "waits on decision's LintBundle: " << lint.err;
  EXPECT_EQ(lint.code, 0) << lint.out << lint.err;
  WriteFile(dir_ + "/requests.jsonl",
            "{\"model\":\"auto\",\"tenant\":\"acme\",\"prompt\":{\"excerpt\":\"hi\"}}\n"
            "\n"
            "{\"model\":\"big\"}\n");
  CtlResult test =
      Ctl({"policy", "test", dir_ + "/bundle-tiny.yaml", "--requests", dir_ + "/requests.jsonl"});
  if (Unimplemented(test)) GTEST_SKIP() << "waits on decision's TestBundle: " << test.err;
  EXPECT_EQ(test.code, 0) << test.out << test.err;
  EXPECT_THAT(test.out, HasSubstr("requests: 2 routed, 0 changed against active revision 1"));
}

// The hardening review's crash: intents whose patterns together exceed what RE2 can compile into
// one set crashed decision through TestBundle (open to anyone then), ApplyBundle and
// --policy_file. Each now answers with the located problem, and decision keeps serving.
TEST_F(RouterctlTest, ARegexHeavyBundleIsRejectedEverywhereAndDecisionSurvives) {
  ApplyAndWaitForRoutes();
  std::string heavy = absl::StrCat(kBundle, "intents:\n  - name: code\n    patterns:\n");
  for (int i = 1; i <= 150; ++i) {
    absl::StrAppend(&heavy, "      - '(?i)\\w{1,50}[a-z0-9]{0,100}x", i, "'\n");
  }
  WriteFile(dir_ + "/heavy.yaml", heavy);
  WriteFile(dir_ + "/requests.jsonl", "{\"model\":\"small\",\"prompt\":{\"excerpt\":\"hi\"}}\n");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"policy", "validate", dir_ + "/heavy.yaml"},
        {"policy", "test", dir_ + "/heavy.yaml", "--requests", dir_ + "/requests.jsonl"},
        {"policy", "apply", dir_ + "/heavy.yaml"}}) {
    CtlResult r = Ctl(args);
    EXPECT_EQ(r.code, 1) << args[1] << ": " << r.out << r.err;
    EXPECT_THAT(r.out + r.err, HasSubstr("intents[0]: the intents' keywords and patterns"))
        << args[1];
  }
  EXPECT_EQ(Ctl({"route", "--model", "small"}).code, 0) << "decision must survive";
}

TEST_F(RouterctlTest, TestingABundleNeedsTheAdminToken) {
  if (!admin_token_supported_) GTEST_SKIP() << "decision has no --admin_token_file yet";
  WriteFile(dir_ + "/requests.jsonl", "{\"model\":\"big\"}\n");
  CtlResult anonymous =
      Ctl({"policy", "test", dir_ + "/bundle-tiny.yaml", "--requests", dir_ + "/requests.jsonl"},
          /*with_token=*/false);
  EXPECT_EQ(anonymous.code, 1);
  EXPECT_THAT(anonymous.err, HasSubstr("routerctl: UNAUTHENTICATED"));
  CtlResult with_token =
      Ctl({"policy", "test", dir_ + "/bundle-tiny.yaml", "--requests", dir_ + "/requests.jsonl"});
  EXPECT_EQ(with_token.code, 0) << with_token.out << with_token.err;
}

TEST_F(RouterctlTest, PolicyTestReportsBadRequestLinesBeforeCallingDecision) {
  WriteFile(dir_ + "/bad.jsonl", "{\"model\":\"auto\"}\n{\"model\": \n");
  CtlResult bad =
      Ctl({"policy", "test", dir_ + "/bundle-tiny.yaml", "--requests", dir_ + "/bad.jsonl"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.err, HasSubstr("bad.jsonl:2: "));
  EXPECT_THAT(bad.err, HasSubstr("routerctl: INVALID_ARGUMENT: "));
}

TEST_F(RouterctlTest, InventoryListsEndpoints) {
  CtlResult list = Ctl({"inventory", "list"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("ID       MODEL        ADDRESS"));
  EXPECT_THAT(list.out, HasSubstr("small-b  small-model  127.0.0.1:10  -"));
  EXPECT_THAT(list.out, HasSubstr("draining"));
  EXPECT_THAT(list.out, HasSubstr("3 endpoints, inventory version"));
  CtlResult big = Ctl({"inventory", "list", "--model", "big-model"});
  EXPECT_THAT(big.out, HasSubstr("1 endpoint,"));
}

TEST_F(RouterctlTest, InventoryDrainsAndResumesAnEndpoint) {
  CtlResult drain = Ctl({"inventory", "drain", "big-a"});
  if (Unimplemented(drain)) GTEST_SKIP() << "waits on inventory's DrainEndpoint: " << drain.err;
  ASSERT_EQ(drain.code, 0) << drain.err;
  EXPECT_THAT(drain.out, HasSubstr("draining big-a: now draining"));
  EXPECT_THAT(Ctl({"inventory", "list", "--model", "big-model"}).out, HasSubstr("draining"));
  EXPECT_EQ(Ctl({"inventory", "drain", "big-a", "--resume"}).code, 0);
  EXPECT_THAT(Ctl({"inventory", "list", "--model", "big-model"}).out, HasSubstr("healthy"));
  if (inventory_token_supported_) {
    CtlResult anonymous = Ctl({"inventory", "drain", "big-a"}, /*with_token=*/false);
    EXPECT_EQ(anonymous.code, 1);
    EXPECT_THAT(anonymous.err, HasSubstr("routerctl: UNAUTHENTICATED"));
  }
  CtlResult unknown = Ctl({"inventory", "drain", "nobody"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("routerctl: NOT_FOUND"));
}

TEST_F(RouterctlTest, JsonOutputIsProtobufJson) {
  ApplyAndWaitForRoutes();
  CtlResult route = Ctl({"--json", "explain", "--model", "small"});
  ASSERT_EQ(route.code, 0) << route.err;
  auto decision = ParseJson<v1::RouteRequestResponse>(route.out);
  EXPECT_EQ(decision.target().endpoint_id(), "small-a");
  EXPECT_EQ(decision.policy_revision(), 1u);
  EXPECT_GT(decision.trace().candidates_size(), 0);

  CtlResult history = Ctl({"policy", "history", "--json"});
  ASSERT_EQ(history.code, 0) << history.err;
  auto revisions = ParseJson<v1::ListRevisionsResponse>(history.out);
  ASSERT_EQ(revisions.revisions_size(), 1);
  EXPECT_EQ(revisions.revisions(0).comment(), "first");

  CtlResult list = Ctl({"inventory", "list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(ParseJson<v1::ListEndpointsResponse>(list.out).endpoints_size(), 3);

  CtlResult validate = Ctl({"--json", "policy", "validate", dir_ + "/bad.yaml"});
  EXPECT_EQ(validate.code, 1);
  auto problems = ParseJson<v1::ValidateBundleResponse>(validate.out);
  EXPECT_FALSE(problems.valid());
  ASSERT_EQ(problems.problems_size(), 1);
  EXPECT_EQ(problems.problems(0).path(), "models[0].fallbacks[0]");
}

}  // namespace
}  // namespace llmrouter::testing
