#include "services/decision/decision_service.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "services/decision/tenant_scope.h"
#include "services/decision/why_not.h"

namespace llmrouter::decision {

DecisionServiceImpl::DecisionServiceImpl(ActivePolicy& policy, DecisionMetrics& metrics,
                                         RouterOptions options, const Clock& clock)
    : policy_(policy), metrics_(metrics), options_(options), clock_(clock) {}

void DecisionServiceImpl::SetInventory(std::shared_ptr<const InventoryView> view) {
  metrics_.inventory_version.Set(static_cast<double>(view->version()));
  metrics_.inventory_endpoints.Set(static_cast<double>(view->endpoint_count()));
  inventory_.store(std::move(view));
}

grpc::ServerUnaryReactor* DecisionServiceImpl::RouteRequest(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::RouteRequestRequest* req,
    llmrouter::v1::RouteRequestResponse* resp) {
  absl::Status status = RouteOne(*req, resp, req->explain() && IsAdmin(*ctx));
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

bool DecisionServiceImpl::IsAdmin(const grpc::CallbackServerContext& ctx) const {
  return admin_ == nullptr || !admin_->configured() || admin_->Check(ctx).ok();
}

absl::Status DecisionServiceImpl::RouteOne(const llmrouter::v1::RouteRequestRequest& request,
                                           llmrouter::v1::RouteRequestResponse* resp,
                                           bool full_trace) {
  const auto start = std::chrono::steady_clock::now();
  std::shared_ptr<const CompiledPolicy> policy = policy_.Current();
  std::shared_ptr<const InventoryView> view = inventory_.load();
  RouteNotes notes;
  PromptSnapshot prompt;
  const bool logged = log_ != nullptr && log_->enabled();
  if (logged) {
    notes.trace = log_->SampleTrace();
    notes.prompt = &prompt;
  }
  const absl::Time now = clock_.Now();
  absl::Status status = Route(policy.get(), view.get(), request, now, options_, resp, &notes);
  if (logged) {
    // A refusal names the policy that refused it too (the answer sets it only on success): a
    // why-not replays it only under the same one.
    if (!status.ok() && policy != nullptr && resp->policy_sha256().empty()) {
      resp->set_policy_sha256(policy->content_hash());
      resp->set_policy_revision(policy->revision());
    }
    // Only the headers a rule reads are kept: others may carry credentials.
    const CompiledPolicy* rules = policy.get();
    const std::function<bool(absl::string_view)> keep_header = [rules](absl::string_view name) {
      return rules != nullptr && rules->MatchesHeader(name);
    };
    // Before the explain policy trims the trace: the log keeps it whole.
    log_->Add(now, request, status, *resp, prompt,
              status.ok() ? absl::string_view(resp->decision_id()) : NewDecisionId(), &keep_header);
    if (!request.explain()) resp->clear_trace();  // the log's sample, not asked for
  }
  if (!notes.budget_action.empty()) {
    metrics_.budget_limited.Add({{"tenant", notes.tenant}, {"action", notes.budget_action}})
        .Increment();
  }
  metrics_.route_duration.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  metrics_.CountRoute(status.code());
  if (status.ok()) {
    if (resp->has_trace() && !full_trace) ApplyExplainPolicy(*policy, request, false, resp);
    if (resp->inventory_stale()) metrics_.stale_routes.Increment();
    const ModelSpec* requested = policy->Resolve(request.model());
    if (resp->policy_rule() == "catalog" && requested &&
        resp->target().model() != requested->name) {
      metrics_.fallback_model_routes.Increment();
    }
  } else {
    spdlog::debug("route_failed request_id=\"{}\" model=\"{}\" code={} error=\"{}\"",
                  request.request_id(), request.model(), absl::StatusCodeToString(status.code()),
                  status.message());
  }
  return status;
}

bool DecisionServiceImpl::CheckAdmin(grpc::CallbackServerContext& ctx,
                                     grpc::ServerUnaryReactor* reactor) const {
  if (admin_ == nullptr || !admin_->configured()) return true;
  absl::Status s = admin_->Check(ctx);
  if (!s.ok()) reactor->Finish(ToGrpcStatus(s));
  return s.ok();
}

namespace {

absl::Status NotLogged(absl::string_view id, const DecisionLog* log) {
  if (log == nullptr || !log->enabled()) {
    return absl::NotFoundError("this replica keeps no decision log (--decision_log_bytes=0)");
  }
  return absl::NotFoundError(absl::StrCat(
      "no decision or request \"", id,
      "\" in this replica's decision log: another replica made it, or it was evicted (the log "
      "holds ",
      log->records(), " decisions)"));
}

}  // namespace

grpc::ServerUnaryReactor* DecisionServiceImpl::WhyNot(grpc::CallbackServerContext* ctx,
                                                      const llmrouter::v1::WhyNotRequest* req,
                                                      llmrouter::v1::WhyNotResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // It names rules and conditions of every tenant.
  if (!CheckAdmin(*ctx, reactor)) return reactor;
  std::shared_ptr<const CompiledPolicy> policy = policy_.Current();
  std::shared_ptr<const InventoryView> view = inventory_.load();
  absl::StatusOr<llmrouter::v1::WhyNotResponse> answer;
  if (req->decision().empty()) {
    answer = decision::WhyNot(policy.get(), view.get(), req->request(), req->model(), clock_.Now(),
                              options_);
  } else if (std::optional<LoggedDecision> logged =
                 log_ ? log_->Find(req->decision(), clock_.Now()) : std::nullopt) {
    answer = WhyNotLogged(policy.get(), view.get(), *logged, req->model(), clock_.Now(), options_);
  } else {
    answer = NotLogged(req->decision(), log_);
  }
  if (answer.ok()) *resp = *std::move(answer);
  reactor->Finish(ToGrpcStatus(answer.status()));
  return reactor;
}

grpc::ServerUnaryReactor* DecisionServiceImpl::GetDecision(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::GetDecisionRequest* req,
    llmrouter::v1::GetDecisionResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!CheckAdmin(*ctx, reactor)) return reactor;
  absl::Status status;
  if (req->id().empty()) {
    status = absl::InvalidArgumentError("id is required: a decision id or a request id");
  } else if (std::optional<LoggedDecision> logged =
                 log_ ? log_->Find(req->id(), clock_.Now()) : std::nullopt) {
    *resp->mutable_decision() = std::move(logged->record);
  } else {
    status = NotLogged(req->id(), log_);
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* DecisionServiceImpl::ReportUsage(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::ReportUsageRequest* req,
    llmrouter::v1::ReportUsageResponse* resp) {
  if (reporter_ != nullptr && reporter_->configured() && !reporter_->Check(*ctx).ok() &&
      !(admin_ != nullptr && admin_->configured() && admin_->Check(*ctx).ok())) {
    uint64_t attempts = 0;
    for (const llmrouter::v1::Outcome& o : req->outcomes()) attempts += std::max(1u, o.attempts());
    metrics_.usage_outcomes.Add({{"result", "unauthenticated"}}).Increment(attempts);
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                 "ReportUsage needs decision's reporter token (its "
                                 "--reporter_token_file) as \"authorization: Bearer <token>\""));
    return reactor;
  }
  std::shared_ptr<const CompiledPolicy> policy = policy_.Current();
  uint32_t accepted = 0, unknown = 0;
  for (const llmrouter::v1::Outcome& o : req->outcomes()) {
    const uint32_t attempts = std::max<uint32_t>(1, o.attempts());
    const ModelSpec* model = policy ? policy->Resolve(o.model()) : nullptr;
    if (model == nullptr) {
      unknown += attempts;
      continue;
    }
    accepted += attempts;
    if (usage_ != nullptr) {
      // The tokens the backend reported, priced now; without them (a stream that did not ask
      // for usage) the gateway's estimate, so that such requests still count toward limits.
      // Under the tenant as routing resolves it: a name the bundle does not know counts as
      // default's spend (and a made-up name cannot escape default's limit, nor grow the ledger).
      const bool has_tokens = o.prompt_tokens() > 0 || o.completion_tokens() > 0;
      const TenantSpec* tenant = policy->ResolveTenant(o.tenant());
      usage_->Record(tenant != nullptr ? absl::string_view(tenant->name) : "default",
                     has_tokens ? EstimateCost(*model, o.prompt_tokens(), o.completion_tokens())
                                : o.cost_usd());
    }
  }
  if (variants_ != nullptr && policy != nullptr && req->variants_size() > 0) {
    // Only the catalog's models, under a track name's length: what a caller sends cannot make
    // decision keep variants no rollout could ask about.
    const absl::Time now = clock_.Now();
    for (const llmrouter::v1::VariantStats& v : req->variants()) {
      const ModelSpec* model = policy->Resolve(v.model());
      if (model == nullptr || v.track().size() > kMaxTrackBytes) continue;
      if (model->name == v.model()) {
        variants_->Record(v, now);
      } else {
        llmrouter::v1::VariantStats named = v;
        named.set_model(model->name);
        variants_->Record(named, now);
      }
    }
  }
  resp->set_accepted(accepted);
  resp->set_unknown_model(unknown);
  metrics_.usage_outcomes.Add({{"result", "accepted"}}).Increment(accepted);
  metrics_.usage_outcomes.Add({{"result", "unknown_model"}}).Increment(unknown);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DecisionServiceImpl::ListModels(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::ListModelsRequest* req,
    llmrouter::v1::ListModelsResponse* resp) {
  std::shared_ptr<const CompiledPolicy> policy = policy_.Current();
  std::shared_ptr<const InventoryView> view = inventory_.load();
  if (policy) {
    resp->set_policy_revision(policy->revision());
    resp->set_policy_sha256(policy->content_hash());
    const TenantSpec* tenant = policy->ResolveTenant(req->tenant());
    for (size_t i = 0; i < policy->models().size(); ++i) {
      const ModelSpec& m = policy->models()[i];
      if (!policy->bundle().tenants.empty() &&
          (tenant == nullptr || !policy->TenantAllows(tenant, static_cast<int>(i)))) {
        continue;
      }
      llmrouter::v1::ModelInfo* info = resp->add_models();
      info->set_name(m.name);
      for (const std::string& a : m.aliases) info->add_aliases(a);
      info->set_owned_by(m.owned_by.empty() ? "llm-router" : m.owned_by);
      const ModelEndpoints* group = view ? view->ForModel(m.name) : nullptr;
      if (group == nullptr) continue;
      uint32_t healthy = 0;
      for (const auto& e : group->endpoints) {
        healthy += e.health() == llmrouter::v1::HEALTH_STATE_HEALTHY ? 1 : 0;
      }
      info->set_healthy_endpoints(healthy);
      info->set_total_endpoints(static_cast<uint32_t>(group->endpoints.size()));
    }
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

void DecisionServiceImpl::AnswerCall(const llmrouter::v1::RouteCall& call,
                                     llmrouter::v1::RouteResult* result) {
  result->set_id(call.id());
  absl::Status status = RouteOne(call.request(), result->mutable_response());
  if (!status.ok()) {
    result->clear_response();
    result->set_status_code(static_cast<int32_t>(status.code()));
    result->set_status_message(std::string(status.message()));
  }
}

namespace {

// One RouteStream: answers each batch of calls as it arrives, in the thread that read it, and
// sends the answers batched. While one write is in flight, answers queue into the next batch.
class RouteStreamReactor final
    : public grpc::ServerBidiReactor<llmrouter::v1::RouteStreamRequest,
                                     llmrouter::v1::RouteStreamResponse> {
 public:
  RouteStreamReactor(DecisionServiceImpl& service, prometheus::Gauge& open)
      : service_(service), open_(open) {
    open_.Increment();
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the caller half-closed (or the stream broke): finish once answers are out
      absl::MutexLock lock(&mu_);
      reading_done_ = true;
      if (!writing_) FinishOnce(grpc::Status::OK);
      return;
    }
    llmrouter::v1::RouteStreamResponse answers;
    answers.mutable_results()->Reserve(in_.calls_size());
    for (const llmrouter::v1::RouteCall& call : in_.calls()) {
      service_.AnswerCall(call, answers.add_results());
    }
    in_.Clear();
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    StartRead(&in_);  // reactions never run inline, so starting under mu_ is safe
    if (writing_) {
      for (llmrouter::v1::RouteResult& result : *answers.mutable_results()) {
        next_.add_results()->Swap(&result);
      }
      return;
    }
    writing_ = true;
    out_.Swap(&answers);
    StartWrite(&out_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    out_.Clear();
    if (ok && next_.results_size() > 0) {
      out_.Swap(&next_);
      StartWrite(&out_);
      return;
    }
    writing_ = false;
    if (!ok) {
      FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "writing answers failed"));
    } else if (reading_done_) {
      FinishOnce(grpc::Status::OK);
    }
  }

  void OnDone() override {
    open_.Decrement();
    delete this;
  }

 private:
  void FinishOnce(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  DecisionServiceImpl& service_;
  prometheus::Gauge& open_;
  llmrouter::v1::RouteStreamRequest in_;  // only the read reactions touch it
  absl::Mutex mu_;
  llmrouter::v1::RouteStreamResponse out_ ABSL_GUARDED_BY(mu_);   // being written
  llmrouter::v1::RouteStreamResponse next_ ABSL_GUARDED_BY(mu_);  // waiting for out_
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerBidiReactor<llmrouter::v1::RouteStreamRequest, llmrouter::v1::RouteStreamResponse>*
DecisionServiceImpl::RouteStream(grpc::CallbackServerContext* /*ctx*/) {
  return new RouteStreamReactor(*this, metrics_.route_streams_open);
}

}  // namespace llmrouter::decision
