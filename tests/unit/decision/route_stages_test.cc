// Each stage of a routing decision on its own (route_stages.h); router_test.cc and
// policy_engine_test.cc test them together through Route.
#include "services/decision/route_stages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/decision/router.h"
#include "services/decision/usage_ledger.h"
#include "tests/unit/decision/policy_fixtures.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kBundle[] = R"(
models:
  - name: small
    capabilities: [chat]
    price: {input_per_mtok: 0.1, output_per_mtok: 0.2}
    quality: 0.5
    fallbacks: [large]
  - name: medium
    capabilities: [chat, code]
    price: {input_per_mtok: 1, output_per_mtok: 2}
    quality: 0.7
  - name: large
    capabilities: [chat, code]
    price: {input_per_mtok: 5, output_per_mtok: 15}
    quality: 0.9
defaults:
  output_tokens: 100
tenants:
  - name: default
  - name: acme
    allowed_tiers: [standard, batch]
  - name: smallonly
    allowed_models: [small]
  - name: frugal
    spend_limit: {usd: 1, period: day, over_limit: downgrade}
  - name: broke
    spend_limit: {usd: 1, period: day, over_limit: deny}
  - name: metered
    rate_limits: {window: 30s, requests: 100}
rules:
  - name: blocked
    match: {headers: {x-env: blocked}}
    then: {deny: "blocked environment"}
  - name: split
    match: {model: [ab]}
    then:
      split: [{model: small, weight: 50}, {model: medium, weight: 50}]
      sticky: session
  - name: code
    match: {model: [code]}
    then:
      candidates: [medium, large]
      fallbacks: [small]
  - name: cheapest
    match: {model: [auto]}
    then: {candidates: [large, medium, small], strategy: cheapest}
  - name: canary
    match: {model: [small], headers: {x-test: canary}}
    then: {candidates: [small], tracks: {canary: 100}}
  - name: tracks
    match: {model: [small]}
    then:
      candidates: [small]
      tracks: {stable: 90, canary: 10}
      sticky: user
  - name: shed-batch
    match: {model: [busy]}
    then:
      candidates: [small]
      shed: {tiers: [batch], queue_above: 10}
)";

class RouteStagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_ = CompileForTest(kBundle, 3, "abc");
    ASSERT_TRUE(policy_);
  }

  // A state for `model` from `tenant`, traced.
  RouteState& State(const std::string& model, const std::string& tenant = "") {
    req_.set_model(model);
    req_.set_tenant(tenant);
    signals_ = std::make_unique<LazyPromptSignals>(policy_->analyzer(), req_.prompt());
    state_ = std::make_unique<RouteState>(*policy_, req_, &trace_, *signals_);
    return *state_;
  }
  // Runs the stages up to and including the candidates' filters.
  RouteState& Filtered(const std::string& model, const std::string& tenant = "",
                       const SpendLedger* ledger = nullptr) {
    RouteState& s = State(model, tenant);
    EXPECT_TRUE(ResolveRequester(s).ok());
    EXPECT_TRUE(ChooseRule(s).ok());
    EXPECT_TRUE(GatherCandidates(s).ok());
    EXPECT_TRUE(ApplyFilters(s, ledger, &notes_).ok());
    return s;
  }
  std::vector<std::string> Models(const RouteState& s) {
    std::vector<std::string> out;
    for (const ModelCandidate& mc : s.models)
      out.push_back(policy_->bundle().models[mc.model].name);
    return out;
  }
  static std::unique_ptr<InventoryView> View(std::vector<std::pair<std::string, int>> endpoints) {
    v1::InventorySnapshot snap;
    snap.set_version(9);
    for (const auto& [model, waiting] : endpoints) {
      v1::Endpoint* e =
          AddHealthyEndpoint(&snap, model, absl::StrCat(model, "-", snap.endpoints_size()));
      e->mutable_load()->set_requests_waiting(waiting);
    }
    return std::make_unique<InventoryView>(snap, kTestNow);
  }

  std::shared_ptr<const CompiledPolicy> policy_;
  v1::RouteRequestRequest req_;
  v1::RouteTrace trace_;
  RouteNotes notes_;
  std::unique_ptr<LazyPromptSignals> signals_;
  std::unique_ptr<RouteState> state_;
};

TEST_F(RouteStagesTest, ResolveRequesterNamesTheTenantAndLowersATierItMayNotAskFor) {
  RouteState& s = State("small", "acme");
  req_.set_priority(v1::PRIORITY_TIER_INTERACTIVE);
  ASSERT_TRUE(ResolveRequester(s).ok());
  EXPECT_EQ(s.tenant_name, "acme");
  EXPECT_EQ(s.tier.tier, "standard");
  ASSERT_EQ(trace_.notes_size(), 1);
  EXPECT_THAT(trace_.notes(0), HasSubstr("tier lowered from interactive to standard"));

  RouteState& unknown = State("small", "ghost");
  // An unknown tenant counts as default when the bundle has one.
  ASSERT_TRUE(ResolveRequester(unknown).ok());
  EXPECT_EQ(unknown.tenant_name, "default");
}

TEST_F(RouteStagesTest, ChooseRuleTakesTheFirstMatchAndTracesEveryRuleTried) {
  RouteState& s = State("code");
  ASSERT_TRUE(ResolveRequester(s).ok());
  ASSERT_TRUE(ChooseRule(s).ok());
  EXPECT_EQ(s.rule_name(), "code");
  ASSERT_EQ(trace_.rules_size(), 3);
  EXPECT_FALSE(trace_.rules(0).matched());
  EXPECT_THAT(trace_.rules(0).failed_condition(), HasSubstr("x-env"));
  EXPECT_TRUE(trace_.rules(2).matched());

  RouteState& denied = State("small");
  (*req_.mutable_headers())["x-env"] = "blocked";
  ASSERT_TRUE(ResolveRequester(denied).ok());
  absl::Status st = ChooseRule(denied);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(st.message(), HasSubstr("denied by rule \"blocked\": blocked environment"));
  EXPECT_EQ(trace_.candidates(trace_.candidates_size() - 1).stage(), v1::CANDIDATE_STAGE_DENIED);
  req_.mutable_headers()->clear();
}

TEST_F(RouteStagesTest, GatherCandidatesPutsTheRulesModelsThenTheFallbackChainWithoutRepeats) {
  RouteState& code = State("code");
  ASSERT_TRUE(ResolveRequester(code).ok() && ChooseRule(code).ok());
  ASSERT_TRUE(GatherCandidates(code).ok());
  EXPECT_THAT(Models(code), ElementsAre("medium", "large", "small"));
  EXPECT_TRUE(code.models[2].fallback);

  // No rule: the requested model and the catalog's chain for it.
  RouteState& plain = State("small");
  ASSERT_TRUE(ResolveRequester(plain).ok() && ChooseRule(plain).ok());
  ASSERT_TRUE(GatherCandidates(plain).ok());
  EXPECT_THAT(Models(plain), ElementsAre("small", "large"));

  // A split: the drawn entry first, the same for the same session.
  req_.set_session_key("conversation-7");
  RouteState& split = State("ab");
  ASSERT_TRUE(ResolveRequester(split).ok() && ChooseRule(split).ok());
  ASSERT_TRUE(GatherCandidates(split).ok());
  const std::string drawn = Models(split)[0];
  EXPECT_GE(split.drawn, 0);
  for (int i = 0; i < 5; ++i) {
    RouteState& again = State("ab");
    ASSERT_TRUE(ResolveRequester(again).ok() && ChooseRule(again).ok());
    ASSERT_TRUE(GatherCandidates(again).ok());
    EXPECT_EQ(Models(again)[0], drawn);
  }
  req_.clear_session_key();

  RouteState& unknown = State("gpt-9");
  ASSERT_TRUE(ResolveRequester(unknown).ok() && ChooseRule(unknown).ok());
  absl::Status st = GatherCandidates(unknown);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(st.message(), HasSubstr("known models: small, medium, large"));
}

TEST_F(RouteStagesTest, ApplyFiltersRulesOutByTenantConstraintAndBudget) {
  RouteState& s = Filtered("code", "smallonly");
  EXPECT_EQ(s.models[0].stage, v1::CANDIDATE_STAGE_TENANT_NOT_ALLOWED);
  EXPECT_THAT(s.models[0].detail, HasSubstr("tenant \"smallonly\" may not use it"));
  EXPECT_EQ(s.models[2].stage, kKept);
  EXPECT_EQ(s.output_tokens, 100u);
  EXPECT_GT(s.models[1].cost, s.models[0].cost);

  req_.mutable_constraints()->add_required_capabilities("code");
  RouteState& capable = Filtered("small");
  EXPECT_EQ(capable.models[0].stage, v1::CANDIDATE_STAGE_CAPABILITY_MISSING);
  EXPECT_EQ(capable.models[1].stage, kKept);
  req_.clear_constraints();

  req_.mutable_constraints()->set_max_cost_usd(0.0001);
  RouteState& capped = Filtered("code");
  EXPECT_EQ(capped.models[1].stage, v1::CANDIDATE_STAGE_OVER_COST_CAP);
  req_.clear_constraints();

  UsageLedger ledger;
  ledger.Record("frugal", 2.0);
  ledger.Record("broke", 2.0);
  RouteState& downgraded = Filtered("auto", "frugal", &ledger);
  for (const ModelCandidate& mc : downgraded.models) {
    EXPECT_EQ(mc.stage, policy_->bundle().models[mc.model].name == "small"
                            ? kKept
                            : v1::CANDIDATE_STAGE_OVER_BUDGET);
  }
  EXPECT_EQ(notes_.budget_action, "downgrade");
  RouteState& broke = State("auto", "broke");
  ASSERT_TRUE(ResolveRequester(broke).ok() && ChooseRule(broke).ok() &&
              GatherCandidates(broke).ok());
  absl::Status st = ApplyFilters(broke, &ledger, &notes_);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(st.message(), HasSubstr("over its spending limit"));
}

TEST_F(RouteStagesTest, RankCandidatesOrdersTheRulesOwnByStrategyAndLeavesTheChainLast) {
  RouteState& s = Filtered("auto");
  RankCandidates(s);
  EXPECT_THAT(Models(s), ElementsAre("small", "medium", "large"));
  EXPECT_GT(s.models[0].score, s.models[1].score);
  RouteState& ordered = Filtered("code");
  RankCandidates(ordered);
  EXPECT_THAT(Models(ordered), ElementsAre("medium", "large", "small"));
}

TEST_F(RouteStagesTest, PickEndpointsGoesModelByModelAndSaysWhyNothingCanServe) {
  auto view = View({{"large", 0}, {"small", 0}, {"small", 0}});
  RouteState& s = Filtered("code");
  RankCandidates(s);
  RouteTargets targets;
  ASSERT_TRUE(PickEndpoints(s, *view, SelectionFor(s, kTestNow), &targets).ok());
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].first->model(), "large");
  EXPECT_EQ(targets[1].first->model(), "small");
  // medium has no endpoint: traced, and skipped.
  EXPECT_EQ(trace_.candidates(0).stage(), v1::CANDIDATE_STAGE_NO_ENDPOINT);

  auto empty = View({});
  RouteState& none = Filtered("code");
  RouteTargets nothing;
  absl::Status st = PickEndpoints(none, *empty, SelectionFor(none, kTestNow), &nothing);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("no endpoint serves model \"medium\" or its fallbacks"));

  req_.mutable_constraints()->set_max_cost_usd(1e-9);
  RouteState& priced_out = Filtered("code");
  st = PickEndpoints(priced_out, *view, SelectionFor(priced_out, kTestNow), &nothing);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("no model may serve this request under rule \"code\""));
  req_.clear_constraints();
}

TEST_F(RouteStagesTest, RefuseWhenShedRefusesAShedTierOnlyWhenEverythingIsSaturated) {
  auto saturated = View({{"small", 50}, {"small", 20}});
  auto one_free = View({{"small", 50}, {"small", 0}});
  req_.set_priority(v1::PRIORITY_TIER_BATCH);
  for (const auto* view : {saturated.get(), one_free.get()}) {
    RouteState& s = Filtered("busy");
    RouteTargets targets;
    ASSERT_TRUE(PickEndpoints(s, *view, SelectionFor(s, kTestNow), &targets).ok());
    absl::Status st = RefuseWhenShed(s, targets, &notes_);
    if (view == saturated.get()) {
      EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
      EXPECT_THAT(st.message(), HasSubstr("batch requests are shed: all 2 usable endpoints"));
      EXPECT_TRUE(notes_.shed);
    } else {
      EXPECT_TRUE(st.ok()) << st;
    }
  }
  req_.set_priority(v1::PRIORITY_TIER_STANDARD);
  RouteState& standard = Filtered("busy");
  RouteTargets targets;
  ASSERT_TRUE(PickEndpoints(standard, *saturated, SelectionFor(standard, kTestNow), &targets).ok());
  EXPECT_TRUE(RefuseWhenShed(standard, targets, nullptr).ok()) << "standard is not shed";
}

TEST_F(RouteStagesTest, FillAnswerGivesTheChoiceTheFallbacksUpToTheLimitAndTheTenantsLimits) {
  auto view = View({{"small", 0}, {"large", 0}, {"large", 0}});
  RouteState& s = Filtered("small", "metered");
  RankCandidates(s);
  const SelectionInput selection = SelectionFor(s, kTestNow);
  RouteTargets targets;
  ASSERT_TRUE(PickEndpoints(s, *view, selection, &targets).ok());
  v1::RouteRequestResponse resp;
  FillAnswer(s, *view, selection, targets, kTestNow, /*max_fallbacks=*/1, &resp);
  EXPECT_EQ(resp.target().model(), "small");
  ASSERT_EQ(resp.fallbacks_size(), 1);
  EXPECT_EQ(resp.fallbacks(0).model(), "large");
  EXPECT_EQ(resp.policy_rule(), "tracks");
  EXPECT_EQ(resp.policy_revision(), 3u);
  EXPECT_EQ(resp.policy_sha256(), "abc");
  EXPECT_EQ(resp.decision_id().size(), 16u);
  EXPECT_EQ(resp.rate_limits().tenant(), "metered");
  EXPECT_EQ(resp.rate_limits().tenant_limits().requests(), 100u);
  EXPECT_EQ(trace_.candidates(trace_.candidates_size() - 2).stage(), v1::CANDIDATE_STAGE_SELECTED);
}

// One model served by stable and canary endpoints: "small-s1", "small-s2" (stable, the
// second registered without a track) and "small-c1" (canary).
std::unique_ptr<InventoryView> TrackView(v1::HealthState canary = v1::HEALTH_STATE_HEALTHY) {
  v1::InventorySnapshot snap;
  snap.set_version(4);
  AddHealthyEndpoint(&snap, "small", "small-s1")->set_track("stable");
  AddHealthyEndpoint(&snap, "small", "small-s2");
  v1::Endpoint* c = AddHealthyEndpoint(&snap, "small", "small-c1");
  c->set_track("canary");
  c->set_health(canary);
  return std::make_unique<InventoryView>(snap, kTestNow);
}

TEST_F(RouteStagesTest, TracksDrawOneTrackPerUserAndKeepTheOthersAsFallbacks) {
  auto view = TrackView();
  std::map<std::string, int> first_track;
  for (int u = 0; u < 400; ++u) {
    req_.set_user_key(absl::StrCat("user-", u));
    std::string drawn;
    for (int again = 0; again < 3; ++again) {
      RouteState& s = Filtered("small");
      RouteTargets targets;
      ASSERT_TRUE(PickEndpoints(s, *view, SelectionFor(s, kTestNow), &targets).ok());
      ASSERT_EQ(targets.size(), 3u) << "the other track stays, as fallbacks";
      const std::string track =
          targets[0].first->track().empty() ? "stable" : targets[0].first->track();
      EXPECT_EQ(s.drawn_track, track);
      if (again == 0) drawn = track;
      EXPECT_EQ(track, drawn) << "a user keeps its track";
      if (track == "canary") {
        EXPECT_NE(targets[1].first->track(), "canary");
      } else {
        EXPECT_EQ(targets[2].first->track(), "canary");
      }
    }
    ++first_track[drawn];
  }
  // 10% of 400 users: a binomial draw, far from 0 and from half.
  EXPECT_GT(first_track["canary"], 15);
  EXPECT_LT(first_track["canary"], 70);
  req_.clear_user_key();
}

TEST_F(RouteStagesTest, TheTraceSaysWhichTrackWasDrawnAndWhyTheOthersWereNot) {
  auto view = TrackView();
  req_.set_user_key("someone");
  RouteState& s = Filtered("small");
  RouteTargets targets;
  ASSERT_TRUE(PickEndpoints(s, *view, SelectionFor(s, kTestNow), &targets).ok());
  ASSERT_GE(trace_.notes_size(), 1);
  EXPECT_THAT(trace_.notes(trace_.notes_size() - 1),
              HasSubstr(absl::StrCat("track \"", s.drawn_track, "\" drawn for \"small\"")));
  EXPECT_THAT(trace_.notes(trace_.notes_size() - 1), HasSubstr("sticky by user"));
  int not_drawn = 0;
  for (const v1::CandidateEvaluation& c : trace_.candidates()) {
    if (c.stage() != v1::CANDIDATE_STAGE_TRACK_NOT_DRAWN) continue;
    ++not_drawn;
    EXPECT_THAT(c.detail(), HasSubstr("not drawn; kept as fallback"));
  }
  EXPECT_EQ(not_drawn, s.drawn_track == "canary" ? 2 : 1);
  req_.clear_user_key();
}

TEST_F(RouteStagesTest, ATrackWithoutAUsableEndpointHandsItsShareToTheOthers) {
  auto view = TrackView(v1::HEALTH_STATE_UNHEALTHY);
  for (int u = 0; u < 100; ++u) {
    req_.set_user_key(absl::StrCat("user-", u));
    RouteState& s = Filtered("small");
    RouteTargets targets;
    ASSERT_TRUE(PickEndpoints(s, *view, SelectionFor(s, kTestNow), &targets).ok());
    EXPECT_EQ(s.drawn_track, "stable");
    ASSERT_EQ(targets.size(), 2u);
  }
  bool said = false;
  for (const std::string& note : trace_.notes()) {
    said = said || absl::StrContains(note, "track \"canary\" of \"small\" has no usable endpoint");
  }
  EXPECT_TRUE(said);
  req_.clear_user_key();
}

TEST_F(RouteStagesTest, AHeaderCanPinATrackWithAHundredPercentRule) {
  auto view = TrackView();
  (*req_.mutable_headers())["x-test"] = "canary";
  for (int u = 0; u < 20; ++u) {
    req_.set_user_key(absl::StrCat("user-", u));
    RouteState& s = Filtered("small");
    RouteTargets targets;
    ASSERT_TRUE(PickEndpoints(s, *view, SelectionFor(s, kTestNow), &targets).ok());
    EXPECT_EQ(s.rule_name(), "canary");
    EXPECT_EQ(targets[0].first->id(), "small-c1");
  }
  req_.mutable_headers()->clear();
  req_.clear_user_key();
}

TEST_F(RouteStagesTest, ARunningRolloutsWeightOverridesTheRulesTracks) {
  policy_ = CompileForTest(
      (std::string(kBundle) +
       "rollouts:\n  - {name: small-v2, model: small, sticky: user, steps: [{weight: 50, "
       "duration: 1m}, {weight: 100, duration: 1m}], analysis: {error_rate: {max: 0.1}}}\n")
          .c_str(),
      4, "def");
  ASSERT_TRUE(policy_);
  auto view = TrackView();
  // Declared, but nothing published yet (decision just started): the canary gets nothing.
  for (int u = 0; u < 20; ++u) {
    req_.set_user_key(absl::StrCat("user-", u));
    RouteState& s = Filtered("small");
    RouteTargets targets;
    ASSERT_TRUE(PickEndpoints(s, *view, SelectionFor(s, kTestNow), &targets).ok());
    EXPECT_EQ(s.drawn_track, "stable");
  }
  EXPECT_THAT(trace_.notes(trace_.notes_size() - 1),
              HasSubstr("rollout \"small-v2\" not started yet"));
  RolloutRouteMap rollouts;
  rollouts["small"] = RolloutRoute{"small-v2", "stable", "canary", 100, "user", "completed", 2, 3};
  for (int u = 0; u < 20; ++u) {
    req_.set_user_key(absl::StrCat("user-", u));
    RouteState& s = Filtered("small");
    s.rollouts = &rollouts;
    RouteTargets targets;
    ASSERT_TRUE(PickEndpoints(s, *view, SelectionFor(s, kTestNow), &targets).ok());
    EXPECT_EQ(targets[0].first->id(), "small-c1") << "the rule alone gives the canary 10%";
    ASSERT_EQ(targets.size(), 3u) << "stable stays, as fallbacks";
  }
  EXPECT_THAT(trace_.notes(trace_.notes_size() - 1),
              HasSubstr("rollout \"small-v2\" step 3 of 3 (completed)"));
  // Rolled back: weight 0, every request on stable...
  rollouts["small"].canary_weight = 0;
  // ...except for a tester whose header rule pins the canary.
  (*req_.mutable_headers())["x-test"] = "canary";
  {
    RouteState& s = Filtered("small");
    s.rollouts = &rollouts;
    RouteTargets targets;
    ASSERT_TRUE(PickEndpoints(s, *view, SelectionFor(s, kTestNow), &targets).ok());
    EXPECT_EQ(targets[0].first->id(), "small-c1");
  }
  req_.mutable_headers()->clear();
  for (int u = 0; u < 20; ++u) {
    req_.set_user_key(absl::StrCat("user-", u));
    RouteState& s = Filtered("small");
    s.rollouts = &rollouts;
    RouteTargets targets;
    ASSERT_TRUE(PickEndpoints(s, *view, SelectionFor(s, kTestNow), &targets).ok());
    EXPECT_EQ(s.drawn_track, "stable");
  }
  req_.clear_user_key();
}

}  // namespace
}  // namespace llmrouter::decision
