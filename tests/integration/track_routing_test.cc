// Canary and blue/green by endpoint track, end to end (issue 14): one model served by endpoints
// of two tracks, a rule that splits its traffic between them, and the real gateway, which gives
// decision the OpenAI "user" field as the key that keeps a user on one track.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"
#include "tests/support/test_processes.h"
#include "tests/support/wait_until.h"

namespace llmrouter::testing {
namespace {

using ::testing::HasSubstr;

class TrackRoutingTest : public ::testing::Test {
 protected:
  // Backend a on `track_a`, b on `track_b`, both serving model m, and inventory.
  void StartBackends(const std::string& track_a, const std::string& track_b) {
    a_ = StartFakeLlm(dir_, "fake-a", "m");
    b_ = StartFakeLlm(dir_, "fake-b", "m");
    ASSERT_TRUE(a_ && b_);
    std::ofstream(dir_ + "/endpoints.yaml")
        << absl::StrCat("endpoints:\n  - {id: a, model: m, track: ", track_a,
                        ", address: \"127.0.0.1:", a_->port("http_port"),
                        "\"}\n  - {id: b, model: m, track: ", track_b,
                        ", address: \"127.0.0.1:", b_->port("http_port"), "\"}\n");
    inventory_ = StartInventory(dir_, dir_ + "/endpoints.yaml");
    ASSERT_TRUE(inventory_);
  }

  void Start(const std::string& policy) {
    std::ofstream(dir_ + "/policy.yaml") << policy;
    decision_ = StartDecision(dir_, dir_ + "/policy.yaml", *inventory_);
    ASSERT_TRUE(decision_);
    gateway_ = StartGateway(dir_, *decision_, {"--inventory_target="});
    ASSERT_TRUE(gateway_);
    ASSERT_TRUE(WaitUntil([&] { return Chat("warm-up").status == 200; }));
  }

  HttpResult Chat(const std::string& user, const std::map<std::string, std::string>& headers = {}) {
    return HttpCall(gateway_->port("http_port"), "POST", "/v1/chat/completions",
                    absl::StrCat(R"({"model":"m","user":")", user,
                                 R"(","messages":[{"role":"user","content":"Hello"}]})"),
                    headers);
  }

  const std::string dir_ = MakeTempDir("llmrouter-tracks");
  std::unique_ptr<ServiceProcess> a_, b_, inventory_, decision_, gateway_;
};

TEST_F(TrackRoutingTest, ACanaryGetsItsShareAndEveryUserStaysOnOneTrack) {
  StartBackends("stable", "canary");
  Start(R"(
models: [{name: m}]
rules:
  - name: pin-canary
    match: {model: [m], headers: {x-canary: "1"}}
    then: {candidates: [m], tracks: {canary: 100}}
  - name: canary
    match: {model: [m]}
    then: {candidates: [m], tracks: {stable: 80, canary: 20}, sticky: user}
)");
  std::map<std::string, int> served;
  for (int u = 0; u < 100; ++u) {
    const std::string user = absl::StrCat("user-", u);
    std::set<std::string> endpoints;
    for (int i = 0; i < 3; ++i) {
      HttpResult r = Chat(user);
      ASSERT_EQ(r.status, 200) << r.body;
      endpoints.insert(r.header("x-router-endpoint"));
    }
    EXPECT_EQ(endpoints.size(), 1u) << user << " moved between tracks";
    ++served[*endpoints.begin()];
  }
  // 20% of 100 users on the canary: a binomial draw, well away from 0 and from half.
  EXPECT_GT(served["b"], 5);
  EXPECT_LT(served["b"], 40);
  EXPECT_EQ(served["a"] + served["b"], 100);
  // The gateway counts each variant's attempts, by model, endpoint and track.
  const int metrics = gateway_->port("metrics_port");
  auto attempts = [&](const std::string& endpoint, const std::string& track) {
    return ScrapeMetric(metrics, absl::StrCat("llmrouter_gateway_upstream_requests_total{"
                                              "code_class=\"2xx\",endpoint=\"",
                                              endpoint, "\",model=\"m\",track=\"", track, "\"}"));
  };
  EXPECT_EQ(attempts("b", "canary"), 3 * served["b"]);
  EXPECT_GE(attempts("a", "stable"), 3 * served["a"]);  // and the warm-up
  EXPECT_GT(ScrapeMetric(metrics,
                         "llmrouter_gateway_upstream_duration_seconds_count{endpoint=\"b\","
                         "model=\"m\",track=\"canary\"}"),
            0);

  // A tester pins the canary with a header the first rule matches.
  for (int u = 0; u < 10; ++u) {
    HttpResult pinned = Chat(absl::StrCat("tester-", u), {{"x-canary", "1"}});
    EXPECT_EQ(pinned.header("x-router-endpoint"), "b");
    EXPECT_EQ(pinned.header("x-router-policy-rule"), "pin-canary");
  }
  // The explanation says which track was drawn.
  HttpResult explained = Chat("user-1", {{"x-router-explain", "1"}});
  EXPECT_THAT(explained.header("x-router-explain"), HasSubstr("drawn for \\\"m\\\""));
  EXPECT_THAT(explained.header("x-router-explain"), HasSubstr("sticky by user"));
}

TEST_F(TrackRoutingTest, BlueGreenSwitchesEveryRequestInOneRevision) {
  StartBackends("blue", "green");
  Start(R"(
models: [{name: m}]
rules:
  - {name: live, match: {model: [m]}, then: {candidates: [m], tracks: {blue: 100, green: 0}}}
)");
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(Chat(absl::StrCat("u", i)).header("x-router-endpoint"), "a");
  // One edit of the bundle (decision re-applies its file): green takes every request.
  std::ofstream(dir_ + "/policy.yaml") << R"(
models: [{name: m}]
rules:
  - {name: live, match: {model: [m]}, then: {candidates: [m], tracks: {blue: 0, green: 100}}}
)";
  ASSERT_TRUE(WaitUntil([&] { return Chat("switch").header("x-router-endpoint") == "b"; }));
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(Chat(absl::StrCat("u", i)).header("x-router-endpoint"), "b");
}

}  // namespace
}  // namespace llmrouter::testing
