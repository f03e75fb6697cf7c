#include "services/decision/router.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"

namespace llmrouter::decision {
namespace {

using llmrouter::v1::CandidateStage;
using llmrouter::v1::Endpoint;
using llmrouter::v1::HealthState;

void FillTarget(const Endpoint& e, const ModelSpec& model, llmrouter::v1::Target* t) {
  t->set_endpoint_id(e.id());
  t->set_address(e.address());
  t->set_scheme(e.scheme());
  t->set_model(model.name);
  t->set_upstream_model(e.model());
  t->set_region(e.region());
  t->set_pool(e.pool());
  t->set_track(e.track());
}

void AddCandidate(llmrouter::v1::RouteTrace* trace, absl::string_view model,
                  absl::string_view endpoint_id, CandidateStage stage, std::string detail) {
  if (trace == nullptr) return;
  auto* c = trace->add_candidates();
  c->set_model(std::string(model));
  c->set_endpoint_id(std::string(endpoint_id));
  c->set_stage(stage);
  c->set_detail(std::move(detail));
}

// Usable endpoints of one model, healthy ones first in round-robin order, then degraded ones.
// Counts what it eliminated.
std::vector<const Endpoint*> OrderEndpoints(const ModelEndpoints& group, const ModelSpec& model,
                                            llmrouter::v1::RouteTrace* trace, int* unusable) {
  std::vector<const Endpoint*> healthy, degraded;
  const size_t n = group.endpoints.size();
  const uint64_t start = group.next.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < n; ++i) {
    const Endpoint& e = group.endpoints[(start + i) % n];
    switch (e.health()) {
      case llmrouter::v1::HEALTH_STATE_HEALTHY:
        healthy.push_back(&e);
        break;
      case llmrouter::v1::HEALTH_STATE_DEGRADED:
        degraded.push_back(&e);
        break;
      case llmrouter::v1::HEALTH_STATE_DRAINING:
        ++*unusable;
        AddCandidate(trace, model.name, e.id(), llmrouter::v1::CANDIDATE_STAGE_DRAINING,
                     "endpoint is draining");
        break;
      default:
        ++*unusable;
        AddCandidate(trace, model.name, e.id(), llmrouter::v1::CANDIDATE_STAGE_UNHEALTHY,
                     absl::StrCat("endpoint health is ", HealthState_Name(e.health())));
    }
  }
  healthy.insert(healthy.end(), degraded.begin(), degraded.end());
  return healthy;
}

}  // namespace

std::string NewDecisionId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(buf, 16);
}

uint32_t EstimatePromptTokens(const llmrouter::v1::Prompt& prompt) {
  if (prompt.estimated_tokens() > 0) return prompt.estimated_tokens();
  return static_cast<uint32_t>((prompt.excerpt().size() + 3) / 4);
}

absl::Status Route(const CompiledPolicy* policy, const InventoryView* view,
                   const llmrouter::v1::RouteRequestRequest& request, absl::Time now,
                   const RouterOptions& options, llmrouter::v1::RouteRequestResponse* response) {
  if (policy == nullptr) {
    return absl::UnavailableError(
        "no policy revision is active; apply a bundle with PolicyService/ApplyBundle");
  }
  if (request.model().empty()) return absl::InvalidArgumentError("model is required");
  const ModelSpec* requested = policy->Resolve(request.model());
  if (requested == nullptr) {
    std::vector<absl::string_view> names;
    for (const ModelSpec& m : policy->models()) names.push_back(m.name);
    return absl::NotFoundError(
        absl::StrCat("model \"", request.model(), "\" is not in the policy catalog (revision ",
                     policy->revision(), "); known models: ", absl::StrJoin(names, ", ")));
  }
  if (view == nullptr) {
    return absl::UnavailableError(
        "no inventory snapshot has been received yet; is the inventory service reachable?");
  }
  llmrouter::v1::RouteTrace* trace = request.explain() ? response->mutable_trace() : nullptr;
  const absl::Duration age = now - view->received_at();
  const bool stale = age > options.stale_after;
  if (trace && stale) {
    trace->add_notes(absl::StrCat("inventory view is stale: version ", view->version(),
                                  " received ", absl::FormatDuration(age), " ago"));
  }

  std::vector<std::pair<const Endpoint*, const ModelSpec*>> ordered;
  int total = 0, unusable = 0;
  for (const ModelSpec* model : policy->CandidateModels(*requested)) {
    const ModelEndpoints* group = view->ForModel(model->name);
    if (group == nullptr || group->endpoints.empty()) {
      AddCandidate(trace, model->name, "", llmrouter::v1::CANDIDATE_STAGE_NO_ENDPOINT,
                   absl::StrCat("no endpoint serves \"", model->name, "\" in inventory version ",
                                view->version()));
      continue;
    }
    total += static_cast<int>(group->endpoints.size());
    for (const Endpoint* e : OrderEndpoints(*group, *model, trace, &unusable)) {
      ordered.emplace_back(e, model);
    }
  }
  if (ordered.empty()) {
    if (total == 0) {
      return absl::UnavailableError(absl::StrCat("no endpoint serves model \"", requested->name,
                                                 "\" or its fallbacks (inventory version ",
                                                 view->version(), ")"));
    }
    return absl::UnavailableError(absl::StrCat("all ", total, " endpoints of model \"",
                                               requested->name,
                                               "\" and its fallbacks are unhealthy or draining"));
  }

  response->set_decision_id(NewDecisionId());
  FillTarget(*ordered[0].first, *ordered[0].second, response->mutable_target());
  AddCandidate(trace, ordered[0].second->name, ordered[0].first->id(),
               llmrouter::v1::CANDIDATE_STAGE_SELECTED,
               ordered[0].second == requested ? "next in round-robin order"
                                              : "requested model has no usable endpoint; "
                                                "first usable fallback model");
  for (size_t i = 1; i < ordered.size(); ++i) {
    if (static_cast<int>(i) > options.max_fallbacks) break;
    FillTarget(*ordered[i].first, *ordered[i].second, response->add_fallbacks());
    AddCandidate(trace, ordered[i].second->name, ordered[i].first->id(),
                 llmrouter::v1::CANDIDATE_STAGE_FALLBACK, absl::StrCat("fallback ", i));
  }
  response->set_policy_revision(policy->revision());
  response->set_policy_rule("catalog");
  response->mutable_analysis()->set_estimated_tokens(EstimatePromptTokens(request.prompt()));
  ToProto(age, response->mutable_inventory_age());
  response->set_inventory_stale(stale);
  return absl::OkStatus();
}

}  // namespace llmrouter::decision
