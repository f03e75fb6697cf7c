// The gateway's configuration that follows its files: fail-safe routes, backend credentials, and
// the reloader that swaps them in and counts what it rejected.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "services/gateway/config_reloader.h"
#include "services/gateway/fail_safe_table.h"
#include "services/gateway/upstream_credentials.h"
#include "tests/support/metric_value.h"
#include "tests/support/process_harness.h"

namespace llmrouter::gateway {
namespace {

using ::llmrouter::testing::MetricValue;
using ::testing::HasSubstr;

// Replaces the file the way a Kubernetes Secret or ConfigMap update does: a new file renamed over
// the old one.
void Replace(const std::string& path, const std::string& text) {
  std::ofstream(path + ".next") << text;
  ASSERT_EQ(std::rename((path + ".next").c_str(), path.c_str()), 0);
}

std::string TargetOf(const Reloadable<FailSafeTable>& table, const std::string& model) {
  absl::StatusOr<v1::RouteRequestResponse> route = table.Get()->Route(model);
  return route.ok() ? route->target().address() : std::string(route.status().message());
}

TEST(FailSafeFollowTest, FileEditsReplaceTheFileRoutesAndABadEditKeepsThem) {
  std::string path = testing::MakeTempDir("llmrouter-failsafe") + "/routes";
  std::ofstream(path) << "m1=10.0.0.1:8000\n";
  auto table = FailSafeTable::Follow("m0=10.0.0.9:8000", path);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(TargetOf(**table, "m1"), "10.0.0.1:8000");
  EXPECT_EQ(TargetOf(**table, "m0"), "10.0.0.9:8000");  // the flag's routes stay alongside
  EXPECT_EQ((*table)->ReloadIfChanged().value_or(true), false);

  Replace(path, "m1=10.0.0.2:8000\nm2=10.0.0.3:8000\n");
  EXPECT_EQ((*table)->ReloadIfChanged().value_or(false), true);
  EXPECT_EQ(TargetOf(**table, "m1"), "10.0.0.2:8000");
  EXPECT_EQ(TargetOf(**table, "m2"), "10.0.0.3:8000");
  EXPECT_EQ(TargetOf(**table, "m0"), "10.0.0.9:8000");

  Replace(path, "m1=no-port\n");
  absl::StatusOr<bool> bad = (*table)->ReloadIfChanged();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(path + ": "));
  EXPECT_EQ(TargetOf(**table, "m1"), "10.0.0.2:8000");
}

TEST(FailSafeFollowTest, WithoutAFileOnlyTheFlagRoutesAndNoReloads) {
  auto table = FailSafeTable::Follow("m0=10.0.0.9:8000", "");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->Get()->size(), 1u);
  EXPECT_EQ((*table)->ReloadIfChanged().value_or(true), false);
  EXPECT_EQ(FailSafeTable::Follow("", "/nonexistent/routes").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(UpstreamCredentialsFollowTest, ARotatedSecretFileIsSentFromThenOn) {
  std::string dir = testing::MakeTempDir("llmrouter-creds");
  std::ofstream(dir + "/key") << "first-secret\n";
  setenv("LLMROUTER_TEST_FOLLOW_KEY", "env-secret", 1);
  auto creds = UpstreamCredentials::Follow(
      absl::StrCat("a:1=file:", dir, "/key,b:2=env:LLMROUTER_TEST_FOLLOW_KEY"));
  ASSERT_TRUE(creds.ok()) << creds.status();
  EXPECT_EQ((*creds)->Get()->files(), std::vector<std::string>{dir + "/key"});
  std::shared_ptr<const UpstreamCredentials> before = (*creds)->Get();
  EXPECT_EQ(before->AuthorizationFor("a:1"), "Bearer first-secret");

  Replace(dir + "/key", "second-secret");
  EXPECT_EQ((*creds)->ReloadIfChanged().value_or(false), true);
  EXPECT_EQ((*creds)->Get()->AuthorizationFor("a:1"), "Bearer second-secret");
  EXPECT_EQ((*creds)->Get()->AuthorizationFor("b:2"), "Bearer env-secret");
  EXPECT_EQ(before->AuthorizationFor("a:1"), "Bearer first-secret");  // held values stay valid

  Replace(dir + "/key", "  \n");  // caught half-written, or emptied by mistake
  absl::StatusOr<bool> empty = (*creds)->ReloadIfChanged();
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("upstream credential for a:1"));
  EXPECT_EQ((*creds)->Get()->AuthorizationFor("a:1"), "Bearer second-secret");
}

TEST(ConfigReloaderTest, CountsAppliedAndRejectedReloadsByConfig) {
  prometheus::Registry registry;
  GatewayMetrics metrics(registry);
  ConfigReloader reloader(metrics, absl::Seconds(1));
  int calls = 0;
  reloader.Add("failsafe_routes", [&calls]() -> absl::StatusOr<bool> {
    ++calls;
    if (calls == 2) return absl::InvalidArgumentError("bad edit");
    return calls == 1;
  });
  for (int i = 0; i < 3; ++i) reloader.ReloadChanged();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(MetricValue(registry, "llmrouter_gateway_config_reloads_total",
                        {{"config", "failsafe_routes"}, {"result", "applied"}}),
            1);
  EXPECT_EQ(MetricValue(registry, "llmrouter_gateway_config_reloads_total",
                        {{"config", "failsafe_routes"}, {"result", "rejected"}}),
            1);
}

}  // namespace
}  // namespace llmrouter::gateway
