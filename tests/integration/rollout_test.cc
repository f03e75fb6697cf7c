// Rollouts end to end (issue 14): a stable and a canary fake-llm of the same model, inventory,
// decision running the rollout its bundle declares, and the real gateway under steady traffic
// whose outcomes and per-track counts flow back. Promotion to 100%, automatic rollback on errors
// and on latency, an operator's pause, promote and abort through routerctl, bad declarations
// refused at apply, and two decision replicas sharing Redis with the lease holder killed
// mid-rollout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_processes.h"
#include "tests/support/wait_until.h"

namespace llmrouter::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kAdminToken[] = "rollout-admin-token";

// Requests through the gateway from a few threads until stopped, paced so that a 2-core machine
// under a sanitizer keeps up; counts every answer by status and by the endpoint that served it.
class Traffic {
 public:
  Traffic(int gateway_port, int threads = 2) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, gateway_port, t] {
        for (int i = 0; !stop_.load(); ++i) {
          HttpResult r = HttpCall(
              gateway_port, "POST", "/v1/chat/completions",
              absl::StrCat(R"({"model":"m","user":"u-)", t, "-", i,
                           R"(","messages":[{"role":"user","content":"Hello"}]})"));
          {
            std::lock_guard<std::mutex> lock(mu_);
            ++by_status_[r.status];
            if (r.status == 200) ++by_endpoint_[r.header("x-router-endpoint")];
            if (r.status != 200) failures_.push_back(r.body.substr(0, 300));
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(15));
        }
      });
    }
  }
  ~Traffic() { Stop(); }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int served_by(const std::string& endpoint) {
    std::lock_guard<std::mutex> lock(mu_);
    return by_endpoint_[endpoint];
  }
  int total() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [status, count] : by_status_) n += count;
    return n;
  }
  std::vector<std::string> failures() {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::map<int, int> by_status_;
  std::map<std::string, int> by_endpoint_;
  std::vector<std::string> failures_;
};

class RolloutTest : public ::testing::Test {
 protected:
  // Stable backend a and canary backend b of model m (b with `canary_flags`), and inventory.
  void StartBackends(std::vector<std::string> canary_flags = {}) {
    a_ = StartFakeLlm(dir_, "fake-stable", "m");
    b_ = StartFakeLlm(dir_, "fake-canary", "m", std::move(canary_flags));
    ASSERT_TRUE(a_ && b_);
    std::ofstream(dir_ + "/endpoints.yaml")
        << absl::StrCat("endpoints:\n  - {id: a, model: m, track: stable, address: \"127.0.0.1:",
                        a_->port("http_port"),
                        "\"}\n  - {id: b, model: m, track: canary, address: \"127.0.0.1:",
                        b_->port("http_port"), "\"}\n");
    inventory_ = StartInventory(dir_, dir_ + "/endpoints.yaml");
    ASSERT_TRUE(inventory_);
    std::ofstream(dir_ + "/admin.token") << kAdminToken;
  }

  // A decision replica named `name` running the bundle `policy`, plus `extra` flags.
  std::unique_ptr<ServiceProcess> StartDecisionReplica(const std::string& name,
                                                       const std::string& policy,
                                                       std::vector<std::string> extra = {}) {
    std::ofstream(dir_ + "/policy.yaml") << policy;
    std::vector<std::string> args = {
        "--grpc_port=0",
        "--metrics_port=0",
        "--host=127.0.0.1",
        "--db=" + dir_ + "/" + name + ".db",
        "--policy_file=" + dir_ + "/policy.yaml",
        absl::StrCat("--inventory_target=127.0.0.1:", inventory_->port("grpc_port")),
        "--admin_token_file=" + dir_ + "/admin.token",
        "--variant_slot_ms=1000",
        "--rollout_interval_ms=200"};
    args.insert(args.end(), extra.begin(), extra.end());
    return StartService(dir_, name, "services/decision/decision", std::move(args));
  }

  // `outcomes`: the gateway reports outcomes to inventory, which may then eject a failing
  // canary on its own.
  void Start(const std::string& policy, bool outcomes = true) {
    decision_ = StartDecisionReplica("decision", policy);
    ASSERT_TRUE(decision_);
    StartGatewayFor(absl::StrCat("127.0.0.1:", decision_->port("grpc_port")), outcomes);
  }

  void StartGatewayFor(const std::string& decision_target, bool outcomes = true) {
    gateway_ = StartService(
        dir_, "gateway", "services/gateway/gateway",
        {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
         "--decision_target=" + decision_target,
         outcomes ? absl::StrCat("--inventory_target=127.0.0.1:", inventory_->port("grpc_port"))
                  : std::string("--inventory_target=")});
    ASSERT_TRUE(gateway_);
    ASSERT_TRUE(WaitUntil([&] { return Chat().status == 200; }));
  }

  HttpResult Chat() {
    return HttpCall(gateway_->port("http_port"), "POST", "/v1/chat/completions",
                    R"({"model":"m","messages":[{"role":"user","content":"Hello"}]})");
  }

  CommandResult Routerctl(const ServiceProcess& decision, std::vector<std::string> args) {
    args.insert(args.begin(), {absl::StrCat("--decision=127.0.0.1:", decision.port("grpc_port")),
                               "--token_file=" + dir_ + "/admin.token"});
    return RunCommand(BuildPath("tools/routerctl/routerctl"), args);
  }
  // The rollout's state as routerctl prints it in JSON, e.g. "ROLLOUT_STATE_COMPLETED".
  std::string State(const ServiceProcess& decision) {
    CommandResult r = Routerctl(decision, {"--json", "rollout", "status", "m-v2"});
    const size_t at = r.out.find("\"state\": \"");
    if (at == std::string::npos) return r.out + r.err;
    return r.out.substr(at + 10, r.out.find('"', at + 10) - at - 10);
  }
  // The events that move a rollout, oldest last: pauses for want of traffic (a slow start on a
  // loaded machine) and the resumptions after them are left out.
  std::vector<std::string> HistoryKinds(const ServiceProcess& decision) {
    CommandResult r = Routerctl(decision, {"rollout", "history", "m-v2", "--limit", "100"});
    std::vector<std::string> kinds;
    for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      std::vector<absl::string_view> cells = absl::StrSplit(line, "  ", absl::SkipEmpty());
      if (cells.size() < 2 || cells[0] == "TIME") continue;
      const absl::string_view kind = absl::StripAsciiWhitespace(cells[1]);
      const bool traffic_pause = absl::StrContains(line, "not enough traffic") ||
                                 (kind == "resumed" && !absl::StrContains(line, "operator"));
      if (!traffic_pause) kinds.emplace_back(kind);
    }
    return kinds;
  }

  const std::string dir_ = MakeTempDir("llmrouter-rollout");
  std::unique_ptr<ServiceProcess> a_, b_, inventory_, decision_, gateway_;
};

std::string Bundle(const std::string& steps, const std::string& analysis) {
  return absl::StrCat(R"(
models: [{name: m}]
rollouts:
  - name: m-v2
    model: m
    steps: )",
                      steps, "\n    analysis: ", analysis, "\n");
}

TEST_F(RolloutTest, AHealthyCanaryIsPromotedThroughEveryStepAndStableDrains) {
  StartBackends();
  Start(Bundle("[{weight: 20, duration: 2s}, {weight: 50, duration: 2s}, {weight: 100, "
               "duration: 2s}]",
               "{window: 3s, min_requests: 5, error_rate: {max: 0.2}, p95_latency: {max: 5}}"));
  Traffic traffic(gateway_->port("http_port"));
  ASSERT_TRUE(WaitUntil([&] { return State(*decision_) == "ROLLOUT_STATE_COMPLETED"; },
                        std::chrono::seconds(60)))
      << State(*decision_);
  EXPECT_THAT(HistoryKinds(*decision_),
              ::testing::ElementsAre("completed", "promoted", "promoted", "started"));
  EXPECT_GT(traffic.served_by("b"), 0);
  // Stable drains: every new request goes to the canary (after those already under way).
  const int total_done = traffic.total();
  ASSERT_TRUE(WaitUntil([&] { return traffic.total() >= total_done + 10; }));
  const int stable_before = traffic.served_by("a");
  const int total_before = traffic.total();
  ASSERT_TRUE(WaitUntil([&] { return traffic.total() >= total_before + 40; }));
  EXPECT_EQ(traffic.served_by("a"), stable_before);
  traffic.Stop();
  EXPECT_THAT(traffic.failures(), ::testing::IsEmpty());
  // The status shows the figures that decided, and the metrics the step and state.
  CommandResult status = Routerctl(*decision_, {"rollout", "status"});
  EXPECT_THAT(status.out, HasSubstr("completed"));
  EXPECT_THAT(status.out, HasSubstr("canary weight  100%"));
  const int metrics = decision_->port("metrics_port");
  EXPECT_EQ(ScrapeMetric(metrics, "llmrouter_decision_rollout_step{rollout=\"m-v2\"}"), 3);
  EXPECT_EQ(ScrapeMetric(metrics,
                         "llmrouter_decision_rollout_state{rollout=\"m-v2\",state=\"completed\"}"),
            1);
}

TEST_F(RolloutTest, AFailingCanaryIsRolledBackWithinAWindowAndClientsSeeNoFailure) {
  StartBackends({"--error_rate=0.3"});
  // Inventory gets no outcomes, so it cannot eject the canary: the analysis alone rolls it back.
  Start(Bundle("[{weight: 20, duration: 30s}, {weight: 100, duration: 30s}]",
               "{window: 10s, min_requests: 10, error_rate: {max: 0.1}}"),
        /*outcomes=*/false);
  Traffic traffic(gateway_->port("http_port"));
  ASSERT_TRUE(WaitUntil([&] { return State(*decision_) == "ROLLOUT_STATE_ROLLED_BACK"; },
                        std::chrono::seconds(40)))
      << State(*decision_);
  traffic.Stop();
  // Failures before the first byte fell back to stable: no client saw one.
  EXPECT_THAT(traffic.failures(), ::testing::IsEmpty());
  CommandResult history = Routerctl(*decision_, {"--json", "rollout", "history", "m-v2"});
  EXPECT_THAT(history.out, HasSubstr("\"kind\": \"rolled_back\""));
  // On the canary's error rate, within one analysis window of the start.
  CommandResult status = Routerctl(*decision_, {"rollout", "status", "m-v2"});
  EXPECT_THAT(status.out, HasSubstr("canary weight  0%"));
  EXPECT_THAT(status.out, HasSubstr("canary error rate"));
  EXPECT_THAT(status.out, HasSubstr("above its limit 0.1"));
  EXPECT_EQ(ScrapeMetric(decision_->port("metrics_port"),
                         "llmrouter_decision_rollout_state{rollout=\"m-v2\",state=\"rolled_back\"}"),
            1);
  const std::string events = Routerctl(*decision_, {"rollout", "history", "m-v2"}).out;
  EXPECT_THAT(events, HasSubstr("rolled_back"));
  // Every request goes to stable now.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Chat().header("x-router-endpoint"), "a");
}

TEST_F(RolloutTest, ASlowCanaryBreachesItsLatencyLimitAndIsRolledBack) {
  StartBackends({"--latency_ms=700"});
  Start(Bundle("[{weight: 30, duration: 30s}, {weight: 100, duration: 30s}]",
               "{window: 10s, min_requests: 5, p95_latency: {max: 0.5}}"));
  Traffic traffic(gateway_->port("http_port"), 4);
  ASSERT_TRUE(WaitUntil([&] { return State(*decision_) == "ROLLOUT_STATE_ROLLED_BACK"; },
                        std::chrono::seconds(40)))
      << State(*decision_);
  traffic.Stop();
  EXPECT_THAT(traffic.failures(), ::testing::IsEmpty());
  EXPECT_THAT(Routerctl(*decision_, {"rollout", "status", "m-v2"}).out,
              HasSubstr("canary p95 latency"));
}

TEST_F(RolloutTest, AnOperatorPausesPromotesAndAbortsWithRouterctl) {
  StartBackends();
  Start(Bundle("[{weight: 20, duration: 1h}, {weight: 60, duration: 1h}, {weight: 100, "
               "duration: 1h}]",
               "{window: 1m, min_requests: 5, error_rate: {max: 0.2}}"));
  ASSERT_TRUE(WaitUntil([&] { return State(*decision_) == "ROLLOUT_STATE_PROGRESSING"; }));
  // Without the admin token an action is refused.
  CommandResult anonymous = RunCommand(
      BuildPath("tools/routerctl/routerctl"),
      {absl::StrCat("--decision=127.0.0.1:", decision_->port("grpc_port")), "rollout", "abort",
       "m-v2"});
  EXPECT_EQ(anonymous.code, 1);
  EXPECT_THAT(anonymous.err, HasSubstr("UNAUTHENTICATED"));

  CommandResult paused = Routerctl(*decision_, {"rollout", "pause", "m-v2", "--reason", "look"});
  ASSERT_EQ(paused.code, 0) << paused.err;
  EXPECT_THAT(paused.out, HasSubstr("paused (by an operator)"));
  EXPECT_EQ(State(*decision_), "ROLLOUT_STATE_PAUSED");
  // An action on what an operator saw before the pause (version 1: started) is refused.
  CommandResult stale =
      Routerctl(*decision_, {"rollout", "promote", "m-v2", "--expected_version", "1"});
  EXPECT_EQ(stale.code, 1);
  EXPECT_THAT(stale.err, HasSubstr("ABORTED"));
  EXPECT_THAT(stale.err, HasSubstr("changed since version 1"));
  CommandResult promoted = Routerctl(*decision_, {"rollout", "promote", "m-v2"});
  ASSERT_EQ(promoted.code, 0) << promoted.err;
  EXPECT_THAT(promoted.out, HasSubstr("step           2 of 3"));
  EXPECT_THAT(promoted.out, HasSubstr("canary weight  60%"));
  CommandResult aborted = Routerctl(*decision_, {"rollout", "abort", "m-v2", "--reason", "bad"});
  ASSERT_EQ(aborted.code, 0) << aborted.err;
  EXPECT_EQ(State(*decision_), "ROLLOUT_STATE_ABORTED");
  // Routing follows: every request on stable.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Chat().header("x-router-endpoint"), "a");
  CommandResult again = Routerctl(*decision_, {"rollout", "abort", "m-v2"});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(HistoryKinds(*decision_),
              ::testing::ElementsAre("aborted", "promoted", "paused", "started"));
  EXPECT_THAT(Routerctl(*decision_, {"rollout", "history", "m-v2"}).out,
              HasSubstr("aborted by an operator: bad"));
  // The progress outlives a restart of decision (its SQLite file).
  decision_.reset();
  decision_ = StartDecisionReplica(
      "decision", Bundle("[{weight: 20, duration: 1h}, {weight: 60, duration: 1h}, {weight: 100, "
                         "duration: 1h}]",
                         "{window: 1m, min_requests: 5, error_rate: {max: 0.2}}"));
  ASSERT_TRUE(decision_);
  ASSERT_TRUE(WaitUntil([&] { return State(*decision_) == "ROLLOUT_STATE_ABORTED"; }));
}

TEST_F(RolloutTest, ABadRolloutIsRefusedAtApplyWithItsLocation) {
  StartBackends();
  Start("models: [{name: m}]\n");
  std::ofstream(dir_ + "/no-track.yaml") << R"(
models: [{name: m}]
rollouts:
  - name: m-v2
    model: m
    tracks: {stable: stable, canary: green}
    steps: [{weight: 100, duration: 1m}]
    analysis: {error_rate: {max: 0.1}}
)";
  CommandResult r = Routerctl(*decision_, {"policy", "apply", dir_ + "/no-track.yaml"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("rollouts[0].tracks.canary: no endpoint of \"m\" is on track "
                               "\"green\""));
  std::ofstream(dir_ + "/bad-steps.yaml") << R"(
models: [{name: m}]
rollouts:
  - name: m-v2
    model: m
    steps: [{weight: 50, duration: 1m}, {weight: 100}]
    analysis: {error_rate: {max: 0.1}}
)";
  r = Routerctl(*decision_, {"policy", "apply", dir_ + "/bad-steps.yaml"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("rollouts[0].steps[1].duration: is required"));
  std::ofstream(dir_ + "/bad-split.yaml") << R"(
models: [{name: m}]
rules:
  - {name: split, match: {model: [m]}, then: {candidates: [m], tracks: {stable: 90, canary: 5}}}
)";
  r = Routerctl(*decision_, {"policy", "apply", dir_ + "/bad-split.yaml"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("rules[0].then.tracks"));
  EXPECT_THAT(Routerctl(*decision_, {"rollout", "status"}).out,
              HasSubstr("declares no rollout"));
}

TEST_F(RolloutTest, TwoReplicasShareOneRolloutAndTheLeaseOutlivesItsHolder) {
  RedisServer redis(dir_);
  StartBackends();
  const std::string policy =
      Bundle("[{weight: 20, duration: 3s}, {weight: 40, duration: 4s}, {weight: 60, duration: 4s},"
             " {weight: 100, duration: 3s}]",
             "{window: 3s, min_requests: 3, error_rate: {max: 0.2}}");
  std::vector<std::string> shared = {"--redis=" + redis.address(),
                                     "--rollout_lease_ttl_ms=1000"};
  std::unique_ptr<ServiceProcess> replicas[2] = {StartDecisionReplica("decision-0", policy, shared),
                                                 StartDecisionReplica("decision-1", policy, shared)};
  ASSERT_TRUE(replicas[0] && replicas[1]);
  StartGatewayFor(absl::StrCat("ipv4:127.0.0.1:", replicas[0]->port("grpc_port"),
                               ",127.0.0.1:", replicas[1]->port("grpc_port")));
  Traffic traffic(gateway_->port("http_port"));
  auto lease_held = [&](int i) {
    return ScrapeMetric(replicas[i]->port("metrics_port"), "llmrouter_decision_rollout_lease_held");
  };
  auto weight = [&](int i) {
    return ScrapeMetric(replicas[i]->port("metrics_port"),
                        "llmrouter_decision_rollout_canary_weight{rollout=\"m-v2\"}");
  };
  // Exactly one replica judges; both route by the same step, mid-rollout.
  ASSERT_TRUE(WaitUntil([&] { return lease_held(0) + lease_held(1) == 1; }));
  ASSERT_TRUE(WaitUntil(
      [&] {
        const double w = weight(0);
        return (w == 40 || w == 60) && weight(1) == w;
      },
      std::chrono::seconds(40)));
  const int holder = lease_held(0) == 1 ? 0 : 1;
  const int survivor = 1 - holder;
  // Kill the holder mid-rollout: the survivor takes the lease and carries on.
  replicas[holder]->Signal(SIGKILL);
  replicas[holder]->Wait(5000);
  ASSERT_TRUE(WaitUntil([&] { return lease_held(survivor) == 1; }));
  ASSERT_TRUE(WaitUntil([&] { return State(*replicas[survivor]) == "ROLLOUT_STATE_COMPLETED"; },
                        std::chrono::seconds(60)))
      << State(*replicas[survivor]);
  traffic.Stop();
  // Every step once, in order: none taken twice, none skipped.
  CommandResult history =
      Routerctl(*replicas[survivor], {"--json", "rollout", "history", "m-v2", "--limit", "100"});
  EXPECT_THAT(history.out, HasSubstr("\"kind\": \"completed\""));
  EXPECT_THAT(HistoryKinds(*replicas[survivor]),
              ::testing::ElementsAre("completed", "promoted", "promoted", "promoted", "started"));
  CommandResult text = Routerctl(*replicas[survivor], {"rollout", "history", "m-v2"});
  for (const char* step : {"1->2", "2->3", "3->4"}) EXPECT_THAT(text.out, HasSubstr(step));
}

}  // namespace
}  // namespace llmrouter::testing
