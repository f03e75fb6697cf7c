// "Why did request X go there?" after the fact: two decision replicas, a gateway in front of
// each, and routerctl asking every replica for a decision by the id the client saw.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"
#include "tests/support/test_processes.h"
#include "tests/support/wait_until.h"

namespace llmrouter::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "lookup-admin-token";

// Prompts about code go to big, the rest to small.
constexpr char kPolicy[] = R"(
intents:
  - {name: code, keywords: [python, function]}
models:
  - {name: small}
  - {name: big}
rules:
  - name: code-to-big
    match: {intent: code}
    then: {candidates: [big]}
  - name: rest-to-small
    then: {candidates: [small]}
)";

class DecisionLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("llmrouter-decision-lookup");
    small_ = StartFakeLlm(dir_, "small", "small");
    big_ = StartFakeLlm(dir_, "big", "big");
    ASSERT_TRUE(small_ && big_);
    std::ofstream(dir_ + "/endpoints.yaml") << absl::StrCat(
        "endpoints:\n  - {id: small-1, model: small, address: \"127.0.0.1:",
        small_->port("http_port"),
        "\"}\n  - {id: big-1, model: big, address: \"127.0.0.1:", big_->port("http_port"), "\"}\n");
    std::ofstream(dir_ + "/policy.yaml") << kPolicy;
    std::ofstream(dir_ + "/token") << kToken << "\n";
    inventory_ = StartInventory(dir_, dir_ + "/endpoints.yaml");
    ASSERT_TRUE(inventory_);
    // Replica 0 keeps a small log, to see it evict; replica 1 the default.
    for (int i = 0; i < 2; ++i) {
      std::vector<std::string> args = {
          "--grpc_port=0",
          "--metrics_port=0",
          "--host=127.0.0.1",
          absl::StrCat("--db=", dir_, "/decision-", i, ".db"),
          "--policy_file=" + dir_ + "/policy.yaml",
          absl::StrCat("--inventory_target=127.0.0.1:", inventory_->port("grpc_port")),
          "--admin_token_file=" + dir_ + "/token"};
      if (i == 0) args.push_back("--decision_log_bytes=16384");
      decisions_[i] =
          StartService(dir_, absl::StrCat("decision-", i), "services/decision/decision", args);
      ASSERT_TRUE(decisions_[i]);
      gateways_[i] = StartService(
          dir_, absl::StrCat("gateway-", i), "services/gateway/gateway",
          {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1", "--inventory_target=",
           absl::StrCat("--decision_target=127.0.0.1:", decisions_[i]->port("grpc_port"))});
      ASSERT_TRUE(gateways_[i]);
    }
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(WaitUntil([&] { return Chat(i, "hello", "warm-up").status == 200; }));
    }
  }

  HttpResult Chat(int gateway, const std::string& text, const std::string& request_id) {
    return HttpCall(
        gateways_[gateway]->port("http_port"), "POST", "/v1/chat/completions",
        absl::StrCat(R"({"model":"auto","messages":[{"role":"user","content":")", text, R"("}]})"),
        {{"x-request-id", request_id}});
  }

  // routerctl against both replicas at once, with the admin token unless told otherwise.
  CommandResult Ctl(std::vector<std::string> args, bool with_token = true) {
    std::vector<std::string> argv = {
        absl::StrCat("--decision=ipv4:127.0.0.1:", decisions_[0]->port("grpc_port"),
                     ",127.0.0.1:", decisions_[1]->port("grpc_port"))};
    if (with_token) argv.push_back("--token_file=" + dir_ + "/token");
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(BuildPath("tools/routerctl/routerctl"), argv);
  }

  std::string dir_;
  std::unique_ptr<ServiceProcess> small_, big_, inventory_;
  std::unique_ptr<ServiceProcess> decisions_[2], gateways_[2];
};

TEST_F(DecisionLookupTest, RouterctlFindsADecisionMadeByEitherReplicaByTheIdsTheClientSaw) {
  // Made by replica 1, asked of both: the answer comes from the one that made it.
  HttpResult code = Chat(1, "write a python function that reverses a string", "client-req-42");
  ASSERT_EQ(code.status, 200) << code.body;
  const std::string decision_id = code.headers["x-router-decision-id"];
  ASSERT_FALSE(decision_id.empty());
  EXPECT_EQ(code.headers["x-router-model"], "big");
  EXPECT_EQ(code.headers["x-router-policy-rule"], "code-to-big");

  CommandResult shown = Ctl({"decision", "show", decision_id});
  ASSERT_EQ(shown.code, 0) << shown.out << shown.err;
  EXPECT_THAT(shown.out, HasSubstr(absl::StrCat("decision  ", decision_id)));
  EXPECT_THAT(shown.out, HasSubstr("request   client-req-42"));
  EXPECT_THAT(shown.out, HasSubstr(absl::StrCat(":", decisions_[1]->port("grpc_port"))))
      << "the replica that made it";
  EXPECT_THAT(shown.out, HasSubstr("model      big"));
  EXPECT_THAT(shown.out, HasSubstr("rule code-to-big"));
  EXPECT_THAT(shown.out, HasSubstr("intents code"));
  EXPECT_THAT(shown.out, ::testing::Not(HasSubstr("reverses a string"))) << "never the prompt";

  // By the request id, too; --json gives the record.
  CommandResult by_request = Ctl({"--json", "decision", "show", "client-req-42"});
  ASSERT_EQ(by_request.code, 0) << by_request.err;
  EXPECT_THAT(by_request.out, HasSubstr(absl::StrCat("\"decisionId\": \"", decision_id, "\"")));

  // Why not small, for that very request: rule code-to-big took it.
  CommandResult why = Ctl({"decision", "why-not", decision_id, "small"});
  ASSERT_EQ(why.code, 0) << why.out << why.err;
  EXPECT_THAT(why.out, HasSubstr("small: not chosen (not_in_rule)"));
  EXPECT_THAT(why.out, HasSubstr("code-to-big"));
  EXPECT_THAT(why.out, HasSubstr("replayed now under the same policy"));
  EXPECT_THAT(why.out, HasSubstr("Then it went to \"big\" (big-1)"));

  // The log names other tenants' rules: reads need the admin token.
  CommandResult no_token = Ctl({"decision", "show", decision_id}, /*with_token=*/false);
  EXPECT_EQ(no_token.code, 1);
  EXPECT_THAT(no_token.err, HasSubstr("UNAUTHENTICATED"));

  CommandResult unknown = Ctl({"decision", "show", "no-such-id"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("no decision replica behind"));
  EXPECT_THAT(unknown.err, HasSubstr("2 replicas asked"));
}

TEST_F(DecisionLookupTest, ADecisionLogEvictsItsOldestRecordsPastItsCap) {
  // Replica 0 holds 16 KiB: a few dozen records.
  std::string first;
  for (int i = 0; i < 150; ++i) {
    HttpResult r = Chat(0, "hello", absl::StrCat("flood-", i));
    ASSERT_EQ(r.status, 200);
    if (i == 0) first = r.headers["x-router-decision-id"];
  }
  EXPECT_EQ(Ctl({"decision", "show", "flood-149"}).code, 0);
  CommandResult gone = Ctl({"decision", "show", first});
  EXPECT_EQ(gone.code, 1) << gone.out;
  EXPECT_THAT(gone.err, HasSubstr("evicted"));
  const int metrics = decisions_[0]->port("metrics_port");
  EXPECT_GT(ScrapeMetric(metrics, "llmrouter_decision_log_evicted_total{reason=\"bytes\"}"), 0);
  EXPECT_LE(ScrapeMetric(metrics, "llmrouter_decision_log_bytes"), 16384);
  EXPECT_GT(ScrapeMetric(metrics, "llmrouter_decision_log_records"), 10);
}

}  // namespace
}  // namespace llmrouter::testing
