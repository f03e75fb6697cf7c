#include "services/inventory/dns_discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/inventory/endpoint_file.h"

namespace llmrouter::inventory {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ScriptedResolver final : public AddressResolver {
 public:
  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& host) override {
    auto it = answers.find(host);
    if (it == answers.end()) return absl::NotFoundError("resolve " + host + ": unknown host");
    return it->second;
  }
  absl::flat_hash_map<std::string, std::vector<std::string>> answers;
};

std::vector<std::string> Ids(const EndpointRegistry& r) {
  std::vector<std::string> out;
  for (const auto& e : r.Snapshot()->snapshot().endpoints()) out.push_back(e.id());
  return out;
}

class DnsDiscoveryTest : public ::testing::Test {
 protected:
  DnsDiscoveryTest() {
    auto file = ParseEndpointsFileYaml(R"(
endpoints:
  - {id: fixed, model: m, address: 10.9.9.9:8000}
discovery:
  - service: vllm.serving.svc:8000
    model: m
    pool: spot
    region: eu-west-1
)");
    EXPECT_TRUE(file.ok()) << file.status();
    EXPECT_TRUE(registry_.ReplaceStatic(file->endpoints).ok());
    dns_.SetTargets(file->discovery);
  }
  FakeClock clock_;
  EndpointRegistry registry_{clock_};
  ScriptedResolver resolver_;
  DnsDiscovery dns_{registry_, resolver_, nullptr};
};

TEST_F(DnsDiscoveryTest, AddsAndRemovesEndpointsAsAddressesChange) {
  resolver_.answers["vllm.serving.svc"] = {"10.0.0.1", "10.0.0.2"};
  ASSERT_TRUE(dns_.Refresh().ok());
  EXPECT_THAT(Ids(registry_), ElementsAre("fixed", "m@10.0.0.1:8000", "m@10.0.0.2:8000"));
  const auto& e = registry_.Snapshot()->snapshot().endpoints(1);
  EXPECT_EQ(e.source(), llmrouter::v1::ENDPOINT_SOURCE_DNS);
  EXPECT_EQ(e.pool(), "spot");
  EXPECT_EQ(e.region(), "eu-west-1");
  EXPECT_EQ(e.address(), "10.0.0.1:8000");

  // Same answer: no new version.
  uint64_t v = registry_.version();
  ASSERT_TRUE(dns_.Refresh().ok());
  EXPECT_EQ(registry_.version(), v);

  // A pod goes, another comes, IPv6 included.
  resolver_.answers["vllm.serving.svc"] = {"10.0.0.2", "fd00::3"};
  ASSERT_TRUE(dns_.Refresh().ok());
  EXPECT_EQ(registry_.version(), v + 1);
  EXPECT_THAT(Ids(registry_), ElementsAre("fixed", "m@10.0.0.2:8000", "m@[fd00::3]:8000"));
}

TEST_F(DnsDiscoveryTest, AFailedLookupKeepsThePreviousAddresses) {
  resolver_.answers["vllm.serving.svc"] = {"10.0.0.1"};
  ASSERT_TRUE(dns_.Refresh().ok());
  resolver_.answers.clear();
  absl::Status s = dns_.Refresh();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("vllm.serving.svc"));
  EXPECT_THAT(Ids(registry_), ElementsAre("fixed", "m@10.0.0.1:8000"));
  // Dropping the target removes its endpoints.
  dns_.SetTargets({});
  ASSERT_TRUE(dns_.Refresh().ok());
  EXPECT_THAT(Ids(registry_), ElementsAre("fixed"));
}

TEST(SystemResolverTest, ResolvesLocalhost) {
  SystemResolver resolver;
  auto ips = resolver.Resolve("localhost");
  ASSERT_TRUE(ips.ok()) << ips.status();
  EXPECT_THAT(*ips, ::testing::Contains(::testing::AnyOf("127.0.0.1", "::1")));
  EXPECT_EQ(resolver.Resolve("no-such-host.invalid").status().code(), absl::StatusCode::kNotFound);
}

TEST(EndpointsFileTest, DiscoveryNeedsAServiceAndNoAddress) {
  auto file = ParseEndpointsFileYaml(R"(
discovery:
  - {model: m, address: 1.2.3.4:80}
  - {service: "svc-without-port", model: m}
)");
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("discovery[0]: needs \"service"));
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("discovery[1]: endpoint.address"));
}

}  // namespace
}  // namespace llmrouter::inventory
