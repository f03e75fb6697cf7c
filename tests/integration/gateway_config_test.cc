// Configuration the gateway follows while it runs, through the real binaries: fail-safe routes and
// backend credentials re-read from their files, and API keys that routerctl keeps in a SQLite
// store.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/gateway/api_key_store.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"
#include "tests/support/test_processes.h"

namespace llmrouter::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kModel[] = "llama-3.1-8b-instruct";

std::unique_ptr<ServiceProcess> StartFake(const std::string& dir, const std::string& name,
                                          std::vector<std::string> extra = {}) {
  return StartFakeLlm(dir, name, kModel, std::move(extra));
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

CommandResult Routerctl(const std::vector<std::string>& args) {
  return RunCommand(BuildPath("tools/routerctl/routerctl"), args);
}

TEST(GatewayConfigTest, RouterctlCreatesListsAndRevokesKeysStoringOnlyDigests) {
  const std::string db = MakeTempDir("llmrouter-apikeys") + "/keys.db";
  CommandResult created =
      Routerctl({"apikeys", "create", "--db", db, "--tenant", "acme", "--name", "ci"});
  ASSERT_EQ(created.code, 0) << created.err;
  const std::string key = created.out.substr(0, created.out.find('\n'));
  EXPECT_EQ(created.out, key + "\n");  // the key alone, for KEY=$(routerctl apikeys create ...)
  EXPECT_THAT(key, ::testing::StartsWith("sk-lr-"));
  EXPECT_THAT(created.err, HasSubstr("created API key 1 (tenant acme, name \"ci\")"));
  EXPECT_THAT(created.err, HasSubstr("only time the key is shown"));
  CommandResult json = Routerctl({"apikeys", "create", "--db", db, "--tenant", "beta", "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"id\":2,\"name\":\"\",\"tenant\":\"beta\""));
  EXPECT_THAT(json.out, HasSubstr("\"key\":\"sk-lr-"));

  CommandResult list = Routerctl({"apikeys", "list", "--db", db});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("ID  NAME  TENANT  CREATED"));
  EXPECT_THAT(list.out, HasSubstr(gateway::Sha256Hex(key).substr(0, 12)));
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr(gateway::Sha256Hex(key))));  // a prefix only
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr("sk-lr-")));
  CommandResult list_json = Routerctl({"apikeys", "list", "--db", db, "--json"});
  EXPECT_THAT(list_json.out, HasSubstr("\"sha256\":\"" + gateway::Sha256Hex(key) + "\""));
  EXPECT_THAT(list_json.out, ::testing::Not(HasSubstr("sk-lr-")));

  CommandResult revoked = Routerctl({"apikeys", "revoke", "ci", "--db", db});
  ASSERT_EQ(revoked.code, 0) << revoked.err;
  EXPECT_THAT(revoked.out, HasSubstr("revoked API key 1 (tenant acme, name \"ci\")"));
  EXPECT_THAT(Routerctl({"apikeys", "list", "--db", db, "--json"}).out, HasSubstr("revokedAt"));

  // Clear errors: exit 1 with the reason for a bad request, 2 with the usage for a bad command.
  CommandResult again = Routerctl({"apikeys", "revoke", "1", "--db", db});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err,
              HasSubstr("routerctl: FAILED_PRECONDITION: API key 1 was already revoked"));
  CommandResult by_name = Routerctl({"apikeys", "revoke", "ci", "--db", db});
  EXPECT_EQ(by_name.code, 1);
  EXPECT_THAT(by_name.err, HasSubstr("NOT_FOUND: no active API key is named \"ci\""));
  CommandResult missing = Routerctl({"apikeys", "list", "--db", db + ".typo"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("does not exist"));
  CommandResult bad_tenant = Routerctl({"apikeys", "create", "--db", db, "--tenant", "a b"});
  EXPECT_EQ(bad_tenant.code, 1);
  EXPECT_THAT(bad_tenant.err, HasSubstr("INVALID_ARGUMENT: tenant \"a b\""));
  CommandResult no_tenant = Routerctl({"apikeys", "create", "--db", db});
  EXPECT_EQ(no_tenant.code, 2);
  EXPECT_THAT(no_tenant.err, HasSubstr("'apikeys create' needs --tenant"));
}

TEST(GatewayConfigTest, KeysFromRouterctlNameTheTenantUntilTheyAreRevoked) {
  std::string dir = MakeTempDir("llmrouter-gw-apikeys");
  auto fake = StartFake(dir, "fake-a");
  ASSERT_TRUE(fake);
  std::ofstream(dir + "/endpoints.yaml")
      << absl::StrCat("endpoints:\n  - {id: a, model: ", kModel,
                      ", address: \"127.0.0.1:", fake->port("http_port"), "\"}\n");
  // Only acme's requests match the rule, so the rule in the answer shows the tenant decision saw.
  std::ofstream(dir + "/policy.yaml") << absl::StrCat(
      "models:\n  - name: ", kModel, "\n    price: {input_per_mtok: 100, output_per_mtok: 200}",
      "\ntenants:\n  - name: acme\n  - name: beta\n"
      "rules:\n  - name: acme-rule\n    match: {tenant: [acme]}\n    then: {candidates: [",
      kModel, "]}\n");
  auto inventory = StartInventory(dir, dir + "/endpoints.yaml");
  ASSERT_TRUE(inventory);
  auto decision = StartDecision(dir, dir + "/policy.yaml", *inventory);
  ASSERT_TRUE(decision);
  const std::string db = dir + "/keys.db";
  auto create = [&](const std::string& tenant) {
    CommandResult r = Routerctl({"apikeys", "create", "--db", db, "--tenant", tenant});
    EXPECT_EQ(r.code, 0) << r.err;
    return absl::StrCat("Bearer ", r.out.substr(0, r.out.find('\n')));
  };
  const std::string acme = create("acme");
  const std::string beta = create("beta");
  auto gateway =
      StartService(dir, "gateway", "services/gateway/gateway",
                   {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1", "--api_keys_db=" + db,
                    absl::StrCat("--decision_target=127.0.0.1:", decision->port("grpc_port")),
                    absl::StrCat("--inventory_target=127.0.0.1:", inventory->port("grpc_port"))});
  ASSERT_TRUE(gateway);
  const int port = gateway->port("http_port");
  // Decision routes once its first inventory snapshot has arrived.
  ASSERT_TRUE(Eventually([&] { return Chat(port, {{"authorization", acme}}).status == 200; }));
  HttpResult as_acme = Chat(port, {{"authorization", acme}, {"x-router-tenant", "beta"}});
  EXPECT_EQ(as_acme.header("x-router-policy-rule"), "acme-rule");
  HttpResult as_beta = Chat(port, {{"authorization", beta}, {"x-router-tenant", "acme"}});
  EXPECT_EQ(as_beta.status, 200) << as_beta.body;
  EXPECT_NE(as_beta.header("x-router-policy-rule"), "acme-rule");
  EXPECT_EQ(Chat(port).status, 401);

  // A key created while the gateway runs works within a poll or two.
  const std::string late = create("beta");
  EXPECT_TRUE(Eventually([&] { return Chat(port, {{"authorization", late}}).status == 200; }));

  // A revoked key gets 401 in the OpenAI error shape; the others keep working.
  CommandResult revoked = Routerctl({"apikeys", "revoke", "1", "--db", db});
  ASSERT_EQ(revoked.code, 0) << revoked.err;
  HttpResult refused;
  EXPECT_TRUE(Eventually(
      [&] {
        refused = Chat(port, {{"authorization", acme}});
        return refused.status == 401;
      },
      std::chrono::seconds(5)));
  EXPECT_THAT(refused.body, HasSubstr("\"error\":{"));
  EXPECT_THAT(refused.body, HasSubstr("\"type\":\"authentication_error\""));
  EXPECT_THAT(refused.body, HasSubstr("\"code\":\"invalid_api_key\""));
  EXPECT_EQ(refused.header("www-authenticate"), "Bearer");
  EXPECT_EQ(Chat(port, {{"authorization", beta}}).status, 200);
  EXPECT_THAT(Metrics(*gateway),
              HasSubstr("llmrouter_gateway_config_reloads_total{config=\"api_keys\","
                        "result=\"applied\"}"));
  // The outcomes carried decision's cost estimate to inventory.
  EXPECT_TRUE(Eventually([&] {
    return Metrics(*inventory)
               .find(absl::StrCat("llmrouter_inventory_reported_cost_usd_total{model=\"", kModel,
                                  "\"}")) != std::string::npos;
  }));
}

}  // namespace
}  // namespace llmrouter::testing
