// "Why did request X go there?" after the fact: two decision replicas, a gateway in front of
// each, and routerctl asking every replica for a decision by the id the client saw.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

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
          "--admin_token_file=" + dir_ + "/token",
          // Only explain requests keep a full trace, so that why-not replays the others every
          // time (the default 1% sample made one run in a hundred read a kept trace instead).
          "--decision_log_trace_sample=0"};
      if (i == 0) args.push_back("--decision_log_bytes=16384");
      decisions_[i] =
          StartService(dir_, absl::StrCat("decision-", i), "services/decision/decision", args);
      ASSERT_TRUE(decisions_[i]);
      // Gateway 1 writes an access log.
      std::vector<std::string> gateway_args = {
          "--http_port=0", "--metrics_port=0", "--host=127.0.0.1", "--inventory_target=",
          absl::StrCat("--decision_target=127.0.0.1:", decisions_[i]->port("grpc_port"))};
      if (i == 1) gateway_args.push_back("--access_log=" + dir_ + "/access.log");
      gateways_[i] =
          StartService(dir_, absl::StrCat("gateway-", i), "services/gateway/gateway", gateway_args);
      ASSERT_TRUE(gateways_[i]);
    }
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(WaitUntil([&] { return Chat(i, "hello", "warm-up").status == 200; }));
    }
  }

  HttpResult Chat(int gateway, const std::string& text, const std::string& request_id,
                  std::map<std::string, std::string> headers = {}, bool stream = false) {
    headers["x-request-id"] = request_id;
    return HttpCall(
        gateways_[gateway]->port("http_port"), "POST", "/v1/chat/completions",
        absl::StrCat(R"({"model":"auto",)",
                     stream ? R"("stream":true,"stream_options":{"include_usage":true},)" : "",
                     R"("messages":[{"role":"user","content":")", text, R"("}]})"),
        headers);
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

TEST_F(DecisionLookupTest, ARequestIdAndTraceContextReachTheBackendAndDecisionAndComeBack) {
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  HttpResult r = Chat(1, "hello", "client-id-7",
                      {{"traceparent", absl::StrCat("00-", trace_id, "-00f067aa0ba902b7-01")},
                       {"tracestate", "vendor=opaque"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-request-id"], "client-id-7");
  EXPECT_EQ(r.headers["x-fake-llm-request-id"], "client-id-7") << "the backend got it";
  // The backend's traceparent is a child: same trace and flags, a span of the gateway's own.
  const std::string upstream = r.headers["x-fake-llm-traceparent"];
  EXPECT_THAT(upstream, ::testing::MatchesRegex(absl::StrCat("00-", trace_id, "-[0-9a-f]{16}-01")));
  EXPECT_THAT(upstream, ::testing::Not(HasSubstr("00f067aa0ba902b7")));
  EXPECT_EQ(r.headers["x-fake-llm-tracestate"], "vendor=opaque");
  // Decision got it: its log has the decision under that request id.
  CommandResult shown = Ctl({"decision", "show", "client-id-7"});
  ASSERT_EQ(shown.code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr(r.headers["x-router-decision-id"]));

  // A malformed traceparent starts a new trace instead of failing the request; an oversized
  // request id is replaced, and the replacement is what everyone sees.
  HttpResult bad = Chat(1, "hello", std::string(200, 'x'), {{"traceparent", "00-zz-yy-01"}});
  ASSERT_EQ(bad.status, 200) << bad.body;
  EXPECT_THAT(bad.headers["x-request-id"], ::testing::MatchesRegex("[0-9a-f]{32}"));
  EXPECT_EQ(bad.headers["x-fake-llm-request-id"], bad.headers["x-request-id"]);
  EXPECT_THAT(bad.headers["x-fake-llm-traceparent"],
              ::testing::MatchesRegex("00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]"));
  EXPECT_EQ(Ctl({"decision", "show", bad.headers["x-request-id"]}).code, 0);
}

TEST_F(DecisionLookupTest, TheAccessLogLineOfAStreamedRequestCarriesItsTtftAndTokens) {
  HttpResult r = Chat(1, "hello", "streamed-1", {}, /*stream=*/true);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string line;
  ASSERT_TRUE(WaitUntil([&] {
    std::ifstream in(dir_ + "/access.log");
    for (std::string l; std::getline(in, l);) {
      if (l.find("\"request_id\":\"streamed-1\"") != std::string::npos) line = l;
    }
    return !line.empty();
  })) << "no access log line for the request";
  EXPECT_THAT(line, HasSubstr("\"stream\":true"));
  EXPECT_THAT(
      line, HasSubstr(absl::StrCat("\"decision_id\":\"", r.headers["x-router-decision-id"], "\"")));
  EXPECT_THAT(line, HasSubstr("\"routed_model\":\"small\",\"endpoint\":\"small-1\""));
  EXPECT_THAT(line, HasSubstr("\"completion_tokens\":8,")) << "fake-llm's usage chunk";
  EXPECT_THAT(line, ::testing::Not(HasSubstr("\"ttft_ms\":0.000")));
  EXPECT_THAT(line, HasSubstr(absl::StrCat("\"response_bytes\":", r.body.size())));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("hello"))) << "never the prompt";
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
