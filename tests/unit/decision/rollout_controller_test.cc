// The rollout controller on its own: promotion, rollback, pauses, an operator's actions, and
// progress that outlives the controller, judged from in-process counts at chosen times.
#include "services/decision/rollout_controller.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "services/decision/rollout_service.h"
#include "services/decision/sqlite_policy_store.h"
#include "tests/support/loopback_server.h"
#include "tests/support/wait_until.h"
#include "tests/unit/decision/policy_fixtures.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;
using ::testing::HasSubstr;

constexpr char kBundle[] = R"(
models: [{name: m}]
rollouts:
  - name: m-v2
    model: m
    steps: [{weight: 10, duration: 30s}, {weight: 50, duration: 30s}, {weight: 100, duration: 30s}]
    analysis:
      window: 30s
      min_requests: 10
      error_rate: {max: 0.1, max_increase: 0.05}
      p95_latency: {max: 5, max_ratio: 2}
)";

class RolloutControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto policy_store = SqlitePolicyStore::Open(":memory:");
    ASSERT_TRUE(policy_store.ok());
    policy_store_ = *std::move(policy_store);
    policy_ = std::make_unique<ActivePolicy>(*policy_store_);
    ASSERT_TRUE(policy_->Apply(kBundle, "test", "").ok());
    auto store = OpenSqliteRolloutStore(":memory:");
    ASSERT_TRUE(store.ok());
    store_ = *std::move(store);
    SetCanaryHealth(v1::HEALTH_STATE_HEALTHY);
    controller_ = NewController();
  }

  std::unique_ptr<RolloutController> NewController(std::function<int()> replicas = nullptr) {
    RolloutControllerOptions options;
    options.replica = "decision-0";
    options.replicas = std::move(replicas);
    options.replicas_source = "decision-headless";
    return std::make_unique<RolloutController>(
        *policy_, [this] { return view_; }, windows_, *store_, nullptr, routes_, nullptr,
        options);
  }

  void SetCanaryHealth(v1::HealthState health, bool with_canary = true) {
    v1::InventorySnapshot snapshot;
    snapshot.set_version(++version_);
    AddHealthyEndpoint(&snapshot, "m", "s1")->set_track("stable");
    if (with_canary) {
      v1::Endpoint* c = AddHealthyEndpoint(&snapshot, "m", "c1");
      c->set_track("canary");
      c->set_health(health);
    }
    view_ = std::make_shared<const InventoryView>(snapshot, now_);
  }

  // `requests` answers of `track` at the current time, `errors` of them failed, the others in
  // latency bucket `bucket`.
  void Traffic(const std::string& track, uint64_t requests, uint64_t errors, int bucket = 2) {
    windows_.Record(VariantStatsOf("m", track, requests, errors, bucket), now_);
  }

  // `step` of time, traffic on both tracks (the canary's healthy unless told), then a tick.
  void Step(absl::Duration step, uint64_t canary = 20, uint64_t canary_errors = 0) {
    now_ += step;
    Traffic("canary", canary, canary_errors);
    Traffic("stable", 100, 1);
    controller_->Tick(now_);
  }

  v1::RolloutStatus Status() {
    std::vector<v1::RolloutStatus> s = controller_->Statuses("m-v2");
    EXPECT_EQ(s.size(), 1u);
    return s.empty() ? v1::RolloutStatus() : s[0];
  }
  uint32_t RoutedWeight() {
    auto routes = routes_.Current();
    auto it = routes->find("m");
    return it == routes->end() ? 999 : it->second.canary_weight;
  }
  std::vector<std::string> EventKinds() {
    std::vector<std::string> kinds;
    absl::StatusOr<std::vector<v1::RolloutEvent>> events = controller_->Events("m-v2", 100);
    EXPECT_TRUE(events.ok());
    for (const v1::RolloutEvent& e : *events) kinds.push_back(e.kind());
    return kinds;
  }

  absl::Time now_ = kTestNow;
  uint64_t version_ = 0;
  std::unique_ptr<SqlitePolicyStore> policy_store_;
  std::unique_ptr<ActivePolicy> policy_;
  std::unique_ptr<RolloutStore> store_;
  std::shared_ptr<const InventoryView> view_;
  VariantWindows windows_{absl::Seconds(10), absl::Hours(1)};
  RolloutRoutes routes_;
  std::unique_ptr<RolloutController> controller_;
};

TEST_F(RolloutControllerTest, AHealthyCanaryIsPromotedStepByStepToCompletion) {
  controller_->Tick(now_);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_PROGRESSING);
  EXPECT_EQ(Status().step(), 0u);
  EXPECT_EQ(RoutedWeight(), 10u);
  // Not before the step's duration has passed.
  Step(absl::Seconds(20));
  EXPECT_EQ(Status().step(), 0u);
  Step(absl::Seconds(15));
  EXPECT_EQ(Status().step(), 1u);
  EXPECT_EQ(RoutedWeight(), 50u);
  EXPECT_EQ(Status().canary().requests(), 40u);
  Step(absl::Seconds(35));
  EXPECT_EQ(Status().step(), 2u);
  EXPECT_EQ(RoutedWeight(), 100u);
  // At 100% the stable track has no traffic to compare with: absolute limits alone judge.
  now_ += absl::Seconds(35);
  Traffic("canary", 30, 0);
  controller_->Tick(now_);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_COMPLETED);
  EXPECT_EQ(RoutedWeight(), 100u);
  EXPECT_THAT(EventKinds(),
              ::testing::ElementsAre("completed", "promoted", "promoted", "started"));
  // Each automatic step names its figures.
  auto events = *controller_->Events("m-v2", 10);
  EXPECT_THAT(events[1].reason(), HasSubstr("canary error rate 0 over"));
  EXPECT_EQ(events[1].actor(), "decision-0");
  EXPECT_EQ(events[1].from_step(), 1u);
  EXPECT_EQ(events[1].to_step(), 2u);
  EXPECT_EQ(events[1].canary_weight(), 100u);
}

TEST_F(RolloutControllerTest, ABreachedErrorRateRollsBackAtOnceWithItsFigures) {
  controller_->Tick(now_);
  Step(absl::Seconds(5), /*canary=*/20, /*canary_errors=*/6);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_ROLLED_BACK);
  EXPECT_EQ(RoutedWeight(), 0u);
  auto events = *controller_->Events("m-v2", 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind(), "rolled_back");
  EXPECT_THAT(events[0].reason(), HasSubstr("canary error rate 0.3 above its limit 0.1"));
  EXPECT_EQ(events[0].canary().requests(), 20u);
  EXPECT_EQ(events[0].canary().errors(), 6u);
  EXPECT_EQ(events[0].stable().requests(), 100u);
  // It stays rolled back: later clean traffic does not restart it.
  Step(absl::Seconds(60));
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_ROLLED_BACK);
}

TEST_F(RolloutControllerTest, RelativeLimitsCompareTheCanaryWithStable) {
  controller_->Tick(now_);
  // 8% errors is under the absolute 10%, but 7 points above stable's 1%.
  Step(absl::Seconds(5), 100, 8);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_ROLLED_BACK);
  EXPECT_THAT(Status().reason(), HasSubstr("exceeds stable's"));
}

TEST_F(RolloutControllerTest, SlowCanaryBreachesTheLatencyLimit) {
  controller_->Tick(now_);
  now_ += absl::Seconds(5);
  Traffic("stable", 100, 0, /*bucket=*/1);
  Traffic("canary", 20, 0, /*bucket=*/6);
  controller_->Tick(now_);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_ROLLED_BACK);
  EXPECT_THAT(Status().reason(), HasSubstr("canary p95 latency"));
}

TEST_F(RolloutControllerTest, TooLittleTrafficPausesUntilThereIsEnough) {
  controller_->Tick(now_);
  Step(absl::Seconds(35), /*canary=*/3);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_PAUSED);
  EXPECT_FALSE(Status().operator_paused());
  EXPECT_THAT(Status().reason(), HasSubstr("not enough traffic to judge: the canary had 3 of 10"));
  EXPECT_EQ(RoutedWeight(), 10u);  // held at its step
  Step(absl::Seconds(1), /*canary=*/3);
  EXPECT_EQ(EventKinds().size(), 2u);  // paused once, not at every tick
  Step(absl::Seconds(1), /*canary=*/20);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_PROGRESSING);
  EXPECT_EQ(Status().step(), 1u);
}

TEST_F(RolloutControllerTest, ACanaryWhoseEndpointsAreEjectedIsABreachNotAPause) {
  controller_->Tick(now_);
  SetCanaryHealth(v1::HEALTH_STATE_UNHEALTHY);
  now_ += absl::Seconds(1);
  controller_->Tick(now_);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_ROLLED_BACK);
  EXPECT_THAT(Status().reason(), HasSubstr("every canary endpoint (1) is ejected or unhealthy"));
}

TEST_F(RolloutControllerTest, NoCanaryEndpointPausesUntilOneIsRegistered) {
  SetCanaryHealth(v1::HEALTH_STATE_HEALTHY, /*with_canary=*/false);
  controller_->Tick(now_);
  now_ += absl::Seconds(1);
  controller_->Tick(now_);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_PAUSED);
  EXPECT_THAT(Status().reason(), HasSubstr("no endpoint of \"m\" is on track \"canary\""));
  // The canary is back: its step starts again, on what it serves from now.
  SetCanaryHealth(v1::HEALTH_STATE_HEALTHY);
  Step(absl::Seconds(1));
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_PROGRESSING);
  EXPECT_EQ(EventKinds().front(), "resumed");
  Step(absl::Seconds(35));
  EXPECT_EQ(Status().step(), 1u);
}

TEST_F(RolloutControllerTest, ADrainedCanaryPausesInsteadOfRollingBack) {
  controller_->Tick(now_);
  SetCanaryHealth(v1::HEALTH_STATE_DRAINING);
  Step(absl::Seconds(1));
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_PAUSED);
  EXPECT_THAT(Status().reason(), HasSubstr("every canary endpoint (1) is draining"));
}

TEST_F(RolloutControllerTest, AStepIsJudgedOnlyOnWhatItSawItself) {
  controller_->Tick(now_);
  // Errors while at step 1, then the operator restarts it: they do not count against the new
  // start, although they are in the same 10 s slot and within the window.
  now_ += absl::Seconds(31);
  Traffic("canary", 20, 20);
  ASSERT_TRUE(controller_->Act("m-v2", RolloutController::Action::kPause, "", now_).ok());
  ASSERT_TRUE(controller_->Act("m-v2", RolloutController::Action::kResume, "", now_).ok());
  now_ += absl::Seconds(2);
  controller_->Tick(now_);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_PROGRESSING);
  EXPECT_EQ(Status().canary().requests(), 0u);
  // From the next slot on, the step's own traffic is judged.
  now_ += absl::Seconds(10);
  Traffic("canary", 20, 0);
  controller_->Tick(now_);
  EXPECT_EQ(Status().canary().requests(), 20u);
}

TEST_F(RolloutControllerTest, AnOperatorPausesResumesPromotesAndAborts) {
  EXPECT_EQ(controller_->Act("nope", RolloutController::Action::kPause, "", now_).status().code(),
            absl::StatusCode::kNotFound);
  controller_->Tick(now_);
  auto paused = controller_->Act("m-v2", RolloutController::Action::kPause, "looking", now_);
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_TRUE(paused->operator_paused());
  // Held although the window is clean and the step's time is up.
  Step(absl::Seconds(40));
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_PAUSED);
  EXPECT_EQ(Status().step(), 0u);
  ASSERT_TRUE(controller_->Act("m-v2", RolloutController::Action::kResume, "", now_).ok());
  auto promoted = controller_->Act("m-v2", RolloutController::Action::kPromote, "", now_);
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(promoted->step(), 1u);
  EXPECT_EQ(RoutedWeight(), 50u);  // routing follows at once
  auto aborted = controller_->Act("m-v2", RolloutController::Action::kAbort, "bad vibes", now_);
  ASSERT_TRUE(aborted.ok());
  EXPECT_EQ(aborted->state(), v1::ROLLOUT_STATE_ABORTED);
  EXPECT_EQ(RoutedWeight(), 0u);
  EXPECT_EQ(controller_->Act("m-v2", RolloutController::Action::kPause, "", now_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto events = *controller_->Events("m-v2", 1);
  EXPECT_EQ(events[0].actor(), "operator");
  EXPECT_THAT(events[0].reason(), HasSubstr("aborted by an operator: bad vibes"));
  // Resuming an aborted rollout starts it again from its first step.
  auto again = controller_->Act("m-v2", RolloutController::Action::kResume, "", now_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->step(), 0u);
  EXPECT_EQ(again->state(), v1::ROLLOUT_STATE_PROGRESSING);
}

TEST_F(RolloutControllerTest, ProgressOutlivesTheControllerAndNewStepsStartOver) {
  controller_->Tick(now_);
  Step(absl::Seconds(35));
  ASSERT_EQ(Status().step(), 1u);
  // A restarted decision (or a re-import of the same bundle) continues where it was.
  controller_ = NewController();
  ASSERT_TRUE(policy_->Apply(kBundle, "gitops", "re-import").ok());
  controller_->Tick(now_);
  EXPECT_EQ(Status().step(), 1u);
  // A tightened limit applies from now on, without starting over.
  std::string tightened = kBundle;
  tightened.replace(tightened.find("min_requests: 10"), 16, "min_requests: 12");
  ASSERT_TRUE(policy_->Apply(tightened, "test", "").ok());
  controller_->Tick(now_);
  EXPECT_EQ(Status().step(), 1u);
  // Other steps start over.
  std::string changed = tightened;
  changed.replace(changed.find("weight: 50"), 10, "weight: 40");
  ASSERT_TRUE(policy_->Apply(changed, "test", "").ok());
  controller_->Tick(now_);
  EXPECT_EQ(Status().step(), 0u);
  EXPECT_EQ(EventKinds().front(), "started");
  EXPECT_THAT(Status().reason(), HasSubstr("declaration changed"));
}

TEST_F(RolloutControllerTest, ARolloutNoLongerDeclaredIsForgottenAndStartsAfreshWhenBack) {
  controller_->Tick(now_);
  Step(absl::Seconds(35));
  ASSERT_EQ(Status().step(), 1u);
  ASSERT_TRUE(controller_->Act("m-v2", RolloutController::Action::kAbort, "", now_).ok());
  ASSERT_TRUE(policy_->Apply("models: [{name: m}]\n", "test", "").ok());
  controller_->Tick(now_);
  EXPECT_TRUE(controller_->Statuses("").empty());
  EXPECT_TRUE(routes_.Current()->empty());
  // Kept a while (another replica's bundle may still declare it), then forgotten.
  EXPECT_EQ(store_->Load()->size(), 1u);
  now_ += RolloutController::kForgetAfter;
  controller_->Tick(now_);
  EXPECT_TRUE(store_->Load()->empty());
  // The same declaration again is a new rollout (a new canary build), not the aborted one.
  ASSERT_TRUE(policy_->Apply(kBundle, "test", "").ok());
  controller_->Tick(now_);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_PROGRESSING);
  EXPECT_EQ(Status().step(), 0u);
  EXPECT_EQ(RoutedWeight(), 10u);
}

TEST_F(RolloutControllerTest, AnActionOnAnOutdatedViewIsRefused) {
  controller_->Tick(now_);
  const uint64_t seen = Status().version();
  Step(absl::Seconds(35));  // promoted by the analysis meanwhile
  ASSERT_EQ(Status().step(), 1u);
  auto promoted = controller_->Act("m-v2", RolloutController::Action::kPromote, "", now_, seen);
  EXPECT_EQ(promoted.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Status().step(), 1u);
  EXPECT_TRUE(
      controller_->Act("m-v2", RolloutController::Action::kPromote, "", now_, Status().version())
          .ok());
}

TEST_F(RolloutControllerTest, SeveralReplicasWithoutASharedStoreAreRefused) {
  int replicas = 2;
  controller_ = NewController([&replicas] { return replicas; });
  controller_->Tick(now_);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_REFUSED);
  EXPECT_THAT(Status().reason(), HasSubstr("2 decision replicas run (decision-headless)"));
  EXPECT_EQ(RoutedWeight(), 0u);
  EXPECT_EQ(controller_->Act("m-v2", RolloutController::Action::kPromote, "", now_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(EventKinds().empty());
  // A name that does not resolve: nothing is started, and nothing done, until the count is
  // known.
  replicas = -1;
  controller_->Tick(now_);
  EXPECT_THAT(Status().reason(), HasSubstr("waiting to count the decision replicas"));
  EXPECT_EQ(controller_->Act("m-v2", RolloutController::Action::kAbort, "", now_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(EventKinds().empty());
  // Alone: it runs. A second replica (e.g. a rolling update's surge) refuses, but a rollout with
  // progress keeps routing by its step.
  replicas = 1;
  controller_->Tick(now_);
  Step(absl::Seconds(35));
  ASSERT_EQ(Status().step(), 1u);
  replicas = 2;
  controller_->Tick(now_);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_REFUSED);
  EXPECT_EQ(RoutedWeight(), 50u);
}

TEST_F(RolloutControllerTest, NothingIsJudgedWithoutAnInventoryView) {
  controller_->Tick(now_);
  view_ = nullptr;  // decision starting: no view yet
  Step(absl::Seconds(35));
  EXPECT_EQ(Status().step(), 0u);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_PROGRESSING);
}

TEST_F(RolloutControllerTest, WithSharedCountsUnreadableNothingIsJudged) {
  // Shared counts on a Redis that is not there: the local counts (one replica's share) are not
  // judged instead.
  RedisOptions nowhere;
  nowhere.address = "127.0.0.1:1";
  SharedVariantCounts shared(nowhere, "decision-0", absl::Seconds(10), absl::Hours(1));
  RolloutControllerOptions options;
  options.replica = "decision-0";
  controller_ = std::make_unique<RolloutController>(
      *policy_, [this] { return view_; }, windows_, *store_, &shared, routes_, nullptr, options);
  controller_->Tick(now_);
  Step(absl::Seconds(35), /*canary=*/20, /*canary_errors=*/20);
  EXPECT_EQ(Status().state(), v1::ROLLOUT_STATE_PROGRESSING);
  EXPECT_EQ(Status().step(), 0u);
}

// A store whose event reads hang until released, as a hung Redis's would (up to its timeouts).
class StuckEventsStore final : public RolloutStore {
 public:
  explicit StuckEventsStore(RolloutStore& inner) : inner_(inner) {}
  absl::StatusOr<std::vector<v1::RolloutStatus>> Load() override { return inner_.Load(); }
  absl::StatusOr<bool> Save(const v1::RolloutStatus& status, uint64_t expected_version,
                            const v1::RolloutEvent* event) override {
    return inner_.Save(status, expected_version, event);
  }
  absl::Status Forget(const std::string& name) override { return inner_.Forget(name); }
  absl::StatusOr<std::vector<v1::RolloutEvent>> Events(const std::string& name,
                                                       std::size_t limit) override {
    entered_.fetch_add(1);
    release_.WaitForNotification();
    return inner_.Events(name, limit);
  }
  absl::StatusOr<bool> HoldLease(const std::string& me, absl::Duration ttl) override {
    return inner_.HoldLease(me, ttl);
  }
  void ReleaseLease(const std::string& me) override { inner_.ReleaseLease(me); }
  absl::StatusOr<std::string> LeaseHolder() override { return inner_.LeaseHolder(); }
  bool shared() const override { return inner_.shared(); }

  std::atomic<int> entered_{0};
  absl::Notification release_;

 private:
  RolloutStore& inner_;
};

TEST_F(RolloutControllerTest, AStuckStoreHoldsNoneOfTheServersCallbackThreads) {
  StuckEventsStore stuck(*store_);
  RolloutControllerOptions options;
  options.replica = "decision-0";
  RolloutController controller(*policy_, [this] { return view_; }, windows_, stuck, nullptr,
                               routes_, nullptr, options);
  controller.Tick(now_);
  const AdminAuth admin = AdminAuth::WithToken("t0ken");
  RolloutServiceImpl service(controller, admin);
  testing::LoopbackServer served = testing::ServeOnLoopback(service);
  ASSERT_TRUE(served.server);
  auto stub = v1::RolloutService::NewStub(served.channel);
  auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(10); };
  auto history = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    v1::ListRolloutEventsRequest req;
    req.set_name("m-v2");
    v1::ListRolloutEventsResponse resp;
    return stub->ListRolloutEvents(&ctx, req, &resp);
  };
  // More reads and an action than the server has callback threads (2 on a 2-core machine):
  // the store's calls wait in line on the rollout service's own thread, one at a time.
  std::vector<std::thread> callers;
  std::vector<grpc::Status> results(5);
  for (int i = 0; i < 4; ++i) callers.emplace_back([&, i] { results[i] = history(); });
  std::atomic<bool> paused_done{false};
  callers.emplace_back([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    ctx.AddMetadata("authorization", "Bearer t0ken");
    v1::PauseRolloutRequest pause;
    pause.set_name("m-v2");
    v1::PauseRolloutResponse paused;
    results[4] = stub->PauseRollout(&ctx, pause, &paused);
    paused_done = true;
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return stuck.entered_.load() == 1; }));
  // Meanwhile calls that need no store are answered at once.
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline());
  v1::GetRolloutsResponse rollouts;
  EXPECT_TRUE(stub->GetRollouts(&ctx, v1::GetRolloutsRequest(), &rollouts).ok());
  EXPECT_EQ(rollouts.rollouts_size(), 1);
  EXPECT_EQ(stuck.entered_.load(), 1) << "one history read at a time";
  // An operator's action has a line of its own: it is not held behind the stuck reads.
  EXPECT_TRUE(testing::WaitUntil([&] { return paused_done.load(); }));
  stuck.release_.Notify();
  for (std::thread& t : callers) t.join();
  for (const grpc::Status& r : results) EXPECT_TRUE(r.ok()) << r.error_message();
  served.server->Shutdown();
}

TEST(RolloutStoreTest, AWriteBasedOnAnOutdatedVersionIsRefused) {
  auto store = OpenSqliteRolloutStore(":memory:");
  ASSERT_TRUE(store.ok());
  v1::RolloutStatus s;
  s.set_name("r");
  s.set_version(1);
  v1::RolloutEvent e;
  e.set_kind("started");
  EXPECT_TRUE(*(*store)->Save(s, 0, &e));
  s.set_version(2);
  EXPECT_TRUE(*(*store)->Save(s, 1, &e));
  // A second writer that read version 1 loses.
  EXPECT_FALSE(*(*store)->Save(s, 1, &e));
  EXPECT_EQ((*store)->Load()->at(0).version(), 2u);
  EXPECT_EQ((*store)->Events("r", 10)->size(), 2u);
}

TEST(RolloutTrackProblemsTest, ATrackNoEndpointHasIsLocated) {
  auto bundle = ParsePolicyBundleOrError(kBundle);
  ASSERT_TRUE(bundle.ok());
  v1::InventorySnapshot snapshot;
  snapshot.set_version(7);
  AddHealthyEndpoint(&snapshot, "m", "s1");  // no track: stable
  InventoryView view(snapshot, kTestNow);
  std::vector<BundleProblem> problems = RolloutTrackProblems(*bundle, view);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "rollouts[0].tracks.canary");
  EXPECT_THAT(problems[0].message, HasSubstr("no endpoint of \"m\" is on track \"canary\""));
}

}  // namespace
}  // namespace llmrouter::decision
