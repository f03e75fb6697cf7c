// Configuration the gateway follows while it runs, through the real binaries: fail-safe routes and
// backend credentials re-read from their files, and API keys from a key file or a SQLite store.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"

namespace llmrouter::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kModel[] = "llama-3.1-8b-instruct";

std::unique_ptr<ServiceProcess> Start(const std::string& dir, const std::string& name,
                                      const std::string& bin, std::vector<std::string> args) {
  auto p = ServiceProcess::Start(name, BuildPath(bin), std::move(args), dir);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? std::move(*p) : nullptr;
}

std::unique_ptr<ServiceProcess> StartFake(const std::string& dir, const std::string& name,
                                          std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--port=0", absl::StrCat("--model=", kModel),
                                   absl::StrCat("--name=", name), "--completion_tokens=4"};
  args.insert(args.end(), extra.begin(), extra.end());
  return Start(dir, name, "tools/fake-llm/fake-llm", args);
}

// A gateway whose decision is down (its port refuses connections): it routes by the fail-safe
// table alone.
std::unique_ptr<ServiceProcess> StartGatewayWithoutDecision(const std::string& dir,
                                                            std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "--http_port=0",
      "--metrics_port=0",
      "--host=127.0.0.1",
      absl::StrCat("--decision_target=127.0.0.1:", ClosedLoopbackPort()),
      "--decision_timeout_ms=100",
      "--inventory_target="};
  args.insert(args.end(), extra.begin(), extra.end());
  return Start(dir, "gateway", "services/gateway/gateway", args);
}

// Replaces a file the way a ConfigMap or Secret update does: a new file renamed over the old.
void Replace(const std::string& path, const std::string& text) {
  std::ofstream(path + ".next") << text;
  ASSERT_EQ(std::rename((path + ".next").c_str(), path.c_str()), 0);
}

// Polls `done` every 50 ms for up to `limit`; the gateway looks at its files every second.
bool Eventually(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

HttpResult Chat(int port, const std::map<std::string, std::string>& headers = {}) {
  return HttpCall(port, "POST", "/v1/chat/completions",
                  absl::StrCat(R"({"model":")", kModel,
                               R"(","messages":[{"role":"user","content":"Say hi"}]})"),
                  headers);
}

std::string Metrics(const ServiceProcess& p) {
  return HttpCall(p.port("metrics_port"), "GET", "/metrics").body;
}

TEST(GatewayConfigTest, FailSafeFileEditedWhileDecisionIsDownMovesTheRoute) {
  std::string dir = MakeTempDir("llmrouter-gw-failsafe-reload");
  auto a = StartFake(dir, "fake-a");
  auto b = StartFake(dir, "fake-b");
  ASSERT_TRUE(a && b);
  const std::string routes = dir + "/failsafe.txt";
  std::ofstream(routes) << kModel << "=127.0.0.1:" << a->port("http_port") << "\n";
  auto gateway = StartGatewayWithoutDecision(dir, {"--failsafe_file=" + routes});
  ASSERT_TRUE(gateway);
  const int port = gateway->port("http_port");
  HttpResult first = Chat(port);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-router-decision-id"), "failsafe");
  EXPECT_EQ(first.header("x-fake-llm-backend"), "fake-a");

  Replace(routes, absl::StrCat("# moved\n", kModel, "=127.0.0.1:", b->port("http_port"), "\n"));
  EXPECT_TRUE(Eventually([&] { return Chat(port).header("x-fake-llm-backend") == "fake-b"; }));
  EXPECT_THAT(Metrics(*gateway),
              HasSubstr("llmrouter_gateway_config_reloads_total{config=\"failsafe_routes\","
                        "result=\"applied\"} 1"));

  // A broken edit is rejected, counted, and the routes in use stay.
  Replace(routes, absl::StrCat(kModel, "=no-port-here\n"));
  EXPECT_TRUE(Eventually([&] {
    return Metrics(*gateway).find("config=\"failsafe_routes\",result=\"rejected\"} 1") !=
           std::string::npos;
  }));
  HttpResult kept = Chat(port);
  EXPECT_EQ(kept.status, 200) << kept.body;
  EXPECT_EQ(kept.header("x-fake-llm-backend"), "fake-b");
  EXPECT_THAT(gateway->ReadLog(), HasSubstr("config_reload_failed config=failsafe_routes"));
}

TEST(GatewayConfigTest, RewrittenCredentialFileChangesWhatTheBackendIsSent) {
  std::string dir = MakeTempDir("llmrouter-gw-creds-reload");
  auto provider = StartFake(dir, "hosted", {"--api_key=rotated-secret"});
  ASSERT_TRUE(provider);
  const std::string address = absl::StrCat("127.0.0.1:", provider->port("http_port"));
  const std::string secret = dir + "/provider-key";
  std::ofstream(secret) << "expired-secret\n";
  auto gateway = StartGatewayWithoutDecision(
      dir, {absl::StrCat("--failsafe_routes=", kModel, "=", address),
            absl::StrCat("--upstream_credentials=", address, "=file:", secret)});
  ASSERT_TRUE(gateway);
  const int port = gateway->port("http_port");
  // The provider refuses the old secret; the client's own key never reaches it either way.
  HttpResult refused = Chat(port, {{"authorization", "Bearer rotated-secret"}});
  EXPECT_EQ(refused.status, 401);
  EXPECT_THAT(refused.body, HasSubstr("invalid_api_key"));

  Replace(secret, "rotated-secret\n");
  EXPECT_TRUE(Eventually([&] { return Chat(port).status == 200; }));
  EXPECT_EQ(Chat(port).header("x-fake-llm-backend"), "hosted");

  // An emptied file (a Secret caught mid-update) keeps the credential in use.
  Replace(secret, "");
  EXPECT_TRUE(Eventually([&] {
    return Metrics(*gateway).find("config=\"upstream_credentials\",result=\"rejected\"} 1") !=
           std::string::npos;
  }));
  EXPECT_EQ(Chat(port).status, 200);
}

}  // namespace
}  // namespace llmrouter::testing
