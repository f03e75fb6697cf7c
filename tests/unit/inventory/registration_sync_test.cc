// Inventory's registration sync while Redis is unreachable: changes wait, and only the last one
// per endpoint field waits.
#include "services/inventory/registration_sync.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "absl/strings/str_cat.h"
#include "tests/support/process_harness.h"

namespace llmrouter::inventory {
namespace {

TEST(RegistrationSyncTest, ChangesWaitingForRedisKeepTheLastPerEndpointNotOnePerHeartbeat) {
  EndpointRegistry registry;
  prometheus::Registry metrics;
  RedisOptions redis;
  redis.address = absl::StrCat("127.0.0.1:", testing::ClosedLoopbackPort());
  RegistrationSync sync(redis, std::chrono::milliseconds(5), registry, metrics);
  llmrouter::v1::Endpoint a;
  a.set_id("a");
  a.set_model("m");
  a.set_address("127.0.0.1:1");
  llmrouter::v1::Endpoint b = a;
  b.set_id("b");
  // An hour of heartbeats from two endpoints (re-registrations with a TTL), drains and resumes.
  for (int i = 0; i < 720; ++i) {
    sync.Registered(a, absl::Seconds(30));
    sync.Registered(b, absl::Seconds(30));
    sync.Drained("a", i % 2 == 0);
  }
  sync.Deregistered("b");
  // a's registration and its drain, b's deregistration, and perhaps one change being written.
  EXPECT_LE(sync.pending(), 4u);
  EXPECT_GE(sync.pending(), 3u);
}

}  // namespace
}  // namespace llmrouter::inventory
