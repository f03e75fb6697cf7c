#include "services/inventory/endpoint_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace llmrouter::inventory {
namespace {

using ::testing::HasSubstr;

TEST(EndpointFileTest, ParsesEveryField) {
  auto eps = ParseEndpointsYaml(R"(
endpoints:
  - id: a
    model: m1
    address: 10.0.0.1:8000
    region: eu-west-1
    zone: eu-west-1a
    pool: spot
    track: canary
    version: v2
    weight: 3
    health: draining
    labels: {gpu: a100}
  - model: m2
    address: 10.0.0.2:8000
)");
  ASSERT_TRUE(eps.ok()) << eps.status();
  ASSERT_EQ(eps->size(), 2u);
  const auto& a = (*eps)[0];
  EXPECT_EQ(a.id(), "a");
  EXPECT_EQ(a.region(), "eu-west-1");
  EXPECT_EQ(a.zone(), "eu-west-1a");
  EXPECT_EQ(a.pool(), "spot");
  EXPECT_EQ(a.track(), "canary");
  EXPECT_EQ(a.version(), "v2");
  EXPECT_EQ(a.weight(), 3u);
  EXPECT_EQ(a.health(), llmrouter::v1::HEALTH_STATE_DRAINING);
  EXPECT_EQ(a.labels().at("gpu"), "a100");
  EXPECT_EQ((*eps)[1].id(), "m2@10.0.0.2:8000");
}

TEST(EndpointFileTest, ReportsEveryProblemWithItsLocation) {
  auto eps = ParseEndpointsYaml(R"(
endpoints:
  - model: m1
    address: nope
  - model: m1
    address: h:1
    weight: -2
    colour: blue
  - id: x
    model: m
    address: h:2
  - id: x
    model: m
    address: h:3
    health: sleepy
)");
  ASSERT_FALSE(eps.ok());
  std::string msg(eps.status().message());
  EXPECT_THAT(msg, HasSubstr("endpoints[0]: endpoint.address \"nope\" is not host:port"));
  EXPECT_THAT(msg, HasSubstr("endpoints[1].weight: must be a non-negative integer"));
  EXPECT_THAT(msg, HasSubstr("endpoints[1].colour: unknown field"));
  EXPECT_THAT(msg, HasSubstr("endpoints[3].id: duplicate id \"x\""));
  EXPECT_THAT(msg, HasSubstr("endpoints[3].health: \"sleepy\""));
}

TEST(EndpointFileTest, RejectsInvalidYamlAndWrongShape) {
  EXPECT_THAT(std::string(ParseEndpointsYaml("endpoints: [").status().message()),
              HasSubstr("not valid YAML"));
  EXPECT_THAT(std::string(ParseEndpointsYaml("foo: 1").status().message()),
              HasSubstr("top-level \"endpoints\" list"));
  EXPECT_TRUE(ParseEndpointsYaml("").ok());
}

TEST(EndpointFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadEndpointsFile("/nonexistent/endpoints.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(EndpointFileTest, ReadsPerEndpointHealthCheck) {
  auto eps = ParseEndpointsYaml(R"(
endpoints:
  - model: m1
    address: 10.0.0.1:8000
    health_check: {path: /ping, interval: 2s, unhealthy_threshold: 1, metrics_path: /stats}
  - model: m1
    address: 10.0.0.2:8000
    health_check: {timeout: never}
)");
  ASSERT_FALSE(eps.ok());
  EXPECT_THAT(std::string(eps.status().message()),
              HasSubstr("endpoints[1].health_check.timeout: must be a positive duration"));
  eps = ParseEndpointsYaml(R"(
endpoints:
  - model: m1
    address: 10.0.0.1:8000
    health_check: {path: /ping, interval: 2s, unhealthy_threshold: 1, metrics_path: /stats}
)");
  ASSERT_TRUE(eps.ok()) << eps.status();
  const auto& check = (*eps)[0].health_check();
  EXPECT_EQ(check.path(), "/ping");
  EXPECT_EQ(check.interval().seconds(), 2);
  EXPECT_EQ(check.unhealthy_threshold(), 1u);
  EXPECT_EQ(check.metrics_path(), "/stats");
}

}  // namespace
}  // namespace llmrouter::inventory
