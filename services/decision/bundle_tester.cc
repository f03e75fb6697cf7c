#include "services/decision/bundle_tester.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/decision/router.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;

std::unique_ptr<InventoryView> SyntheticView(const PolicyBundle& bundle) {
  v1::InventorySnapshot s;
  for (const ModelSpec& m : bundle.models) {
    v1::Endpoint* e = s.add_endpoints();
    e->set_id(absl::StrCat(m.name, "@policy-test"));
    e->set_model(m.name);
    e->set_address("policy-test:0");
    e->set_scheme("http");
    e->set_health(v1::HEALTH_STATE_HEALTHY);
  }
  return std::make_unique<InventoryView>(s, absl::Now());
}

struct Routed {
  std::string model, rule, error;
  double cost = 0;
};

Routed RouteOne(const CompiledPolicy* policy, const InventoryView* view,
                const v1::RouteRequestRequest& req) {
  Routed out;
  if (policy == nullptr) {
    out.error = "no active revision";
    return out;
  }
  v1::RouteRequestResponse resp;
  absl::Status s = Route(policy, view, req, view->received_at(), RouterOptions{}, &resp);
  if (!s.ok()) {
    out.error = absl::StrCat(absl::StatusCodeToString(s.code()), ": ", s.message());
    return out;
  }
  out.model = resp.target().model();
  out.rule = resp.policy_rule();
  out.cost = resp.estimated_cost_usd();
  return out;
}

void AddShares(const std::map<std::string, std::pair<uint32_t, double>>& shares,
               google::protobuf::RepeatedPtrField<v1::ModelShare>* out) {
  for (const auto& [model, share] : shares) {
    v1::ModelShare* s = out->Add();
    s->set_model(model);
    s->set_requests(share.first);
    s->set_estimated_cost_usd(share.second);
  }
}

}  // namespace

v1::RouteRequestRequest ToRouteRequest(const BundleTestRequest& t) {
  v1::RouteRequestRequest r;
  r.set_model(t.model);
  r.set_tenant(t.tenant);
  if (t.tier == "interactive") r.set_priority(v1::PRIORITY_TIER_INTERACTIVE);
  if (t.tier == "standard") r.set_priority(v1::PRIORITY_TIER_STANDARD);
  if (t.tier == "batch") r.set_priority(v1::PRIORITY_TIER_BATCH);
  r.set_region(t.region);
  r.set_session_key(t.session);
  r.set_user_key(t.user);
  for (const auto& [k, v] : t.headers) (*r.mutable_headers())[k] = v;
  r.mutable_prompt()->set_excerpt(t.prompt);
  r.mutable_prompt()->set_max_output_tokens(t.max_tokens);
  return r;
}

std::vector<v1::BundleTestResult> RunBundleTests(const CompiledPolicy& policy) {
  std::unique_ptr<InventoryView> view = SyntheticView(policy.bundle());
  std::vector<v1::BundleTestResult> out;
  for (const BundleTest& t : policy.bundle().tests) {
    v1::BundleTestResult r;
    r.set_name(t.name);
    r.set_expected_model(t.expect_model);
    r.set_expected_rule(t.expect_rule);
    Routed got = RouteOne(&policy, view.get(), ToRouteRequest(t.request));
    r.set_actual_model(got.model);
    r.set_actual_rule(got.rule);
    const ModelSpec* expected = policy.Resolve(t.expect_model);
    if (t.expect_deny) {
      r.set_passed(!got.error.empty() && got.error.rfind("PERMISSION_DENIED", 0) == 0);
      if (!r.passed())
        r.set_detail(got.error.empty() ? "was routed, expected a denial" : got.error);
    } else if (!got.error.empty()) {
      r.set_passed(false);
      r.set_detail(got.error);
    } else {
      bool model_ok = expected != nullptr && got.model == expected->name;
      bool rule_ok = t.expect_rule.empty() || got.rule == t.expect_rule;
      r.set_passed(model_ok && rule_ok);
      if (!r.passed()) {
        r.set_detail(absl::StrCat("routed to ", got.model, " by rule ", got.rule, "; expected ",
                                  t.expect_model, t.expect_rule.empty() ? "" : " by rule ",
                                  t.expect_rule));
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<v1::TestBundleResponse> TestCandidateBundle(
    const std::string& yaml, const CompiledPolicy* active, const InventoryView* view,
    const std::vector<v1::RouteRequestRequest>& requests) {
  absl::StatusOr<PolicyBundle> bundle = ParsePolicyBundleOrError(yaml);
  if (!bundle.ok()) return bundle.status();
  return TestCandidateBundle(CompiledPolicy::Compile(*std::move(bundle), /*revision=*/0,
                                                     "candidate"),
                             active, view, requests);
}

v1::TestBundleResponse TestCandidateBundle(std::shared_ptr<const CompiledPolicy> candidate,
                                           const CompiledPolicy* active, const InventoryView* view,
                                           const std::vector<v1::RouteRequestRequest>& requests) {
  v1::TestBundleResponse resp;
  for (v1::BundleTestResult& r : RunBundleTests(*candidate)) *resp.add_tests() = std::move(r);
  std::unique_ptr<InventoryView> synthetic;
  if (view == nullptr) {
    synthetic = SyntheticView(candidate->bundle());
    view = synthetic.get();
  }
  if (active) resp.set_active_revision(active->revision());
  std::map<std::string, std::pair<uint32_t, double>> before, after;
  for (size_t i = 0; i < requests.size(); ++i) {
    Routed a = RouteOne(active, view, requests[i]);
    Routed b = RouteOne(candidate.get(), view, requests[i]);
    v1::RouteComparison* c = resp.add_comparisons();
    c->set_index(static_cast<uint32_t>(i));
    c->set_active_model(a.model);
    c->set_active_rule(a.rule);
    c->set_active_error(a.error);
    c->set_active_cost_usd(a.cost);
    c->set_candidate_model(b.model);
    c->set_candidate_rule(b.rule);
    c->set_candidate_error(b.error);
    c->set_candidate_cost_usd(b.cost);
    c->set_changed(a.model != b.model || a.rule != b.rule || a.error.empty() != b.error.empty());
    if (c->changed()) resp.set_changed(resp.changed() + 1);
    auto& sa = before[a.error.empty() ? a.model : "(error)"];
    ++sa.first;
    sa.second += a.cost;
    auto& sb = after[b.error.empty() ? b.model : "(error)"];
    ++sb.first;
    sb.second += b.cost;
  }
  AddShares(before, resp.mutable_active_distribution());
  AddShares(after, resp.mutable_candidate_distribution());
  return resp;
}

}  // namespace llmrouter::decision
