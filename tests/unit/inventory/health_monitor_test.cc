#include "services/inventory/health_monitor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/proto_time.h"

namespace llmrouter::inventory {
namespace {

using llmrouter::v1::HealthState;
using ::testing::HasSubstr;

class HealthMonitorTest : public ::testing::Test {
 protected:
  HealthMonitorTest() : monitor_(clock_, Outlier()) {
    snapshot_.add_endpoints()->set_id("a");
    snapshot_.add_endpoints()->set_id("b");
    probe_.healthy_threshold = 2;
    probe_.unhealthy_threshold = 3;
  }
  static OutlierSettings Outlier() {
    OutlierSettings o;
    o.consecutive_failures = 3;
    o.error_rate = 0.5;
    o.min_requests = 10;
    o.base_ejection = absl::Seconds(10);
    o.max_ejection = absl::Seconds(40);
    o.degraded_error_rate = 0.2;
    o.ewma_alpha = 0.5;
    return o;
  }
  LiveStatus Eval(const std::string& id) { return monitor_.Evaluate(snapshot_).at(id); }
  std::optional<HealthState> Health(const std::string& id) { return Eval(id).health; }
  void Probe(const std::string& id, bool ok) { monitor_.RecordProbe(id, probe_, ok, "refused"); }
  void Outcome(const std::string& id, int status, absl::Duration latency = absl::Milliseconds(100),
               absl::Duration ttft = absl::Milliseconds(20)) {
    llmrouter::v1::Outcome o;
    o.set_endpoint_id(id);
    o.set_http_status(status);
    ToProto(latency, o.mutable_latency());
    ToProto(ttft, o.mutable_time_to_first_token());
    monitor_.RecordOutcome(o);
  }

  FakeClock clock_;
  HealthMonitor monitor_;
  llmrouter::v1::InventorySnapshot snapshot_;
  ProbeSettings probe_;
};

TEST_F(HealthMonitorTest, NothingLearnedKeepsTheConfiguredHealth) {
  EXPECT_FALSE(Health("a").has_value());
}

TEST_F(HealthMonitorTest, ProbesWalkTheStateMachine) {
  Probe("a", true);
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_HEALTHY);
  Probe("a", false);
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_DEGRADED);
  Probe("a", false);
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_DEGRADED);
  Probe("a", false);
  LiveStatus down = Eval("a");
  EXPECT_EQ(down.health, llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  EXPECT_THAT(down.detail, HasSubstr("probe: refused (3 in a row)"));
  // Staying down changes nothing, so it publishes nothing.
  Probe("a", false);
  EXPECT_EQ(Eval("a").detail, down.detail);
  // One success is not enough to come back (healthy_threshold 2), and a failure in between
  // starts the count again.
  Probe("a", true);
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  Probe("a", false);
  Probe("a", true);
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  Probe("a", true);
  LiveStatus up = Eval("a");
  EXPECT_EQ(up.health, llmrouter::v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(up.detail, "");
  EXPECT_FALSE(Health("b").has_value());  // the other endpoint is untouched
}

TEST_F(HealthMonitorTest, ScrapedLoadAndEwmasAppearInTheLoad) {
  ScrapedLoad scraped;
  scraped.requests_running = 4;
  scraped.requests_waiting = 7;
  scraped.kv_cache_usage = 0.5;
  monitor_.RecordScrape("a", scraped);
  Outcome("a", 200, absl::Milliseconds(100), absl::Milliseconds(20));
  Outcome("a", 200, absl::Milliseconds(300), absl::Milliseconds(60));
  clock_.Advance(absl::Seconds(1));
  LiveStatus live = Eval("a");
  EXPECT_EQ(live.load.requests_running(), 4);
  EXPECT_EQ(live.load.requests_waiting(), 7);
  EXPECT_EQ(live.load.kv_cache_usage(), 0.5);
  // alpha 0.5: 0.5 * 300 + 0.5 * 100
  EXPECT_NEAR(absl::ToDoubleMilliseconds(FromProto(live.load.latency_ewma())), 200, 0.01);
  EXPECT_NEAR(absl::ToDoubleMilliseconds(FromProto(live.load.ttft_ewma())), 40, 0.01);
  EXPECT_EQ(live.load.error_rate(), 0);
  EXPECT_TRUE(live.load.has_updated_at());
  // A failed scrape keeps the last values.
  monitor_.RecordScrape("a", absl::UnavailableError("connect refused"));
  EXPECT_EQ(Eval("a").load.requests_waiting(), 7);
}

TEST_F(HealthMonitorTest, InFlightFollowsLittlesLaw) {
  Eval("a");  // starts the window
  for (int i = 0; i < 20; ++i) Outcome("a", 200, absl::Milliseconds(500));
  clock_.Advance(absl::Seconds(2));
  // 20 outcomes in 2 s at 0.5 s each: 5 requests in flight on average.
  EXPECT_EQ(Eval("a").load.in_flight(), 5);
}

TEST_F(HealthMonitorTest, ConsecutiveFailuresEjectWithGrowingBackOffAndHalfOpenReadmission) {
  Outcome("a", 200);
  Outcome("a", 503);
  Outcome("a", 0);
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_HEALTHY);
  Outcome("a", 500);
  LiveStatus ejected = Eval("a");
  EXPECT_EQ(ejected.health, llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  EXPECT_THAT(ejected.detail, HasSubstr("ejected: 3 consecutive failures"));
  EXPECT_THAT(ejected.detail, HasSubstr("(ejection 1)"));
  EXPECT_EQ(monitor_.ejections(), 1);
  // Late reports of requests sent before the ejection change nothing.
  Outcome("a", 500);
  clock_.Advance(absl::Seconds(9));
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  clock_.Advance(absl::Seconds(1));
  LiveStatus trial = Eval("a");
  EXPECT_EQ(trial.health, llmrouter::v1::HEALTH_STATE_HEALTHY);
  EXPECT_THAT(trial.detail, HasSubstr("on trial"));
  // One failure on trial ejects again, for twice as long.
  Outcome("a", 502);
  EXPECT_THAT(Eval("a").detail, HasSubstr("failed again after re-admission"));
  clock_.Advance(absl::Seconds(19));
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_HEALTHY);
  // A success on trial closes the breaker.
  Outcome("a", 200);
  LiveStatus closed = Eval("a");
  EXPECT_EQ(closed.health, llmrouter::v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(closed.detail, "");
  // Soon after, the next ejection is longer still (40 s, the cap)...
  for (int i = 0; i < 3; ++i) Outcome("a", 500);
  clock_.Advance(absl::Seconds(39));
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_HEALTHY);
  Outcome("a", 200);
  // ...and after max_ejection of stability the back-off starts short again.
  clock_.Advance(absl::Seconds(40));
  Eval("a");
  for (int i = 0; i < 3; ++i) Outcome("a", 500);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(monitor_.ejections(), 4);
}

// A backend that was unreachable (its pod restarted) is back in rotation once the probes have
// passed healthy_threshold times since the ejection, not after the whole ejection: on trial,
// so that one more failure ejects it again, for longer.
TEST_F(HealthMonitorTest, PassingProbesEndAnEjectionForBeingUnreachable) {
  Probe("a", true);
  for (int i = 0; i < 3; ++i) Outcome("a", 0);
  LiveStatus ejected = Eval("a");
  EXPECT_EQ(ejected.health, llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  EXPECT_THAT(ejected.detail, HasSubstr("3 consecutive failures (unreachable)"));
  Probe("a", true);
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_UNHEALTHY) << "one probe is not enough";
  Probe("a", false);  // a failed probe starts the count again
  Probe("a", true);
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  Probe("a", true);
  LiveStatus back = Eval("a");
  EXPECT_EQ(back.health, llmrouter::v1::HEALTH_STATE_HEALTHY);
  EXPECT_THAT(back.detail, HasSubstr("on trial"));
  Outcome("a", 0);  // on trial: one failure ejects again, for twice as long
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  clock_.Advance(absl::Seconds(11));
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_UNHEALTHY) << "20 s this time";
}

// Probes do not exercise inference: an endpoint ejected for 5xx answers (or a mix of 5xx and
// unreachable) stays out for the whole ejection however well it answers its health checks.
TEST_F(HealthMonitorTest, PassingProbesDoNotEndAnEjectionForErrors) {
  Probe("a", true);
  Outcome("a", 0);
  Outcome("a", 503);
  Outcome("a", 0);
  for (int i = 0; i < 5; ++i) Probe("a", true);
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_HEALTHY);
}

TEST_F(HealthMonitorTest, ErrorRateDegradesThenEjects) {
  // One failure in three never makes 3 in a row; with alpha 0.5 the rate ends at 0.285.
  for (int i = 0; i < 10; ++i) Outcome("a", i % 3 == 2 ? 500 : 200);
  LiveStatus degraded = Eval("a");
  EXPECT_EQ(degraded.health, llmrouter::v1::HEALTH_STATE_DEGRADED);
  EXPECT_THAT(degraded.detail, HasSubstr("error rate"));
  EXPECT_NEAR(degraded.load.error_rate(), 0.285, 0.001);
  Outcome("a", 500);  // 0.64 >= 0.5 with 11 outcomes
  LiveStatus ejected = Eval("a");
  EXPECT_EQ(ejected.health, llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  EXPECT_THAT(ejected.detail, HasSubstr("ejected: error rate"));
}

TEST_F(HealthMonitorTest, ClientsThatLeaveSayNothingAboutTheBackend) {
  // 32 clients of a load generator that stops mid-request: no answer arrived (status 0), but
  // because they left, not because the backend failed.
  for (int i = 0; i < 32; ++i) {
    llmrouter::v1::Outcome o;
    o.set_endpoint_id("a");
    o.set_error("client_gone");
    monitor_.RecordOutcome(o);
  }
  LiveStatus live = Eval("a");
  EXPECT_FALSE(live.health.has_value()) << live.detail;
  EXPECT_EQ(live.load.error_rate(), 0);
  // The same without the client's leave would eject it.
  for (int i = 0; i < 3; ++i) Outcome("a", 0);
  EXPECT_EQ(Health("a"), llmrouter::v1::HEALTH_STATE_UNHEALTHY);
}

TEST_F(HealthMonitorTest, ForgetsEndpointsThatLeave) {
  for (int i = 0; i < 3; ++i) Outcome("b", 500);
  EXPECT_EQ(Health("b"), llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  llmrouter::v1::InventorySnapshot only_a;
  only_a.add_endpoints()->set_id("a");
  monitor_.Evaluate(only_a);
  EXPECT_FALSE(Health("b").has_value());  // came back: a fresh start
}

}  // namespace
}  // namespace llmrouter::inventory
