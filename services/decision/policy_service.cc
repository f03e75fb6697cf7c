#include "services/decision/policy_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/line_diff.h"
#include "services/decision/bundle_tester.h"
#include "services/decision/policy_lint.h"
#include "services/decision/rollout_controller.h"

namespace llmrouter::decision {
namespace {

constexpr uint32_t kDefaultPageSize = 50;
constexpr uint32_t kMaxPageSize = 500;
constexpr size_t kMaxBundleBytes = 4 << 20;

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

std::string AuthorOf(grpc::CallbackServerContext* ctx, const std::string& given) {
  return given.empty() ? ctx->peer() : given;
}

absl::Status CheckSize(const std::string& bundle) {
  if (bundle.empty()) return absl::InvalidArgumentError("bundle is empty");
  if (bundle.size() > kMaxBundleBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle of ", bundle.size(), " bytes exceeds ", kMaxBundleBytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PolicyServiceImpl::CheckWrite(const grpc::CallbackServerContext& ctx) const {
  if (!options_.exclusive_policy_file.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("policies come from ", options_.exclusive_policy_file,
                     " (GitOps mode): change that file (e.g. its ConfigMap) instead"));
  }
  return options_.admin.Check(ctx);
}

absl::Status PolicyServiceImpl::CheckRolloutTracks(const std::string& text) const {
  std::shared_ptr<const InventoryView> view = options_.inventory ? options_.inventory() : nullptr;
  if (view == nullptr) return absl::OkStatus();  // nothing to check against yet
  PolicyBundle bundle;
  if (!ParsePolicyBundle(text, &bundle).empty()) return absl::OkStatus();  // Apply says why
  std::vector<BundleProblem> problems = RolloutTrackProblems(bundle, *view);
  return problems.empty() ? absl::OkStatus() : BundleProblemsError(problems);
}

void PolicyServiceImpl::UpdateRevisionGauge() {
  auto current = policy_.Current();
  metrics_.ShowPolicy(current ? current->revision() : 0,
                     current ? current->content_hash() : std::string());
}

grpc::ServerUnaryReactor* PolicyServiceImpl::ApplyBundle(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::ApplyBundleRequest* req,
    llmrouter::v1::ApplyBundleResponse* resp) {
  absl::Status status = CheckWrite(*ctx);
  if (status.ok()) status = CheckSize(req->bundle());
  if (status.ok()) status = CheckRolloutTracks(req->bundle());
  if (status.ok()) {
    auto result = policy_.Apply(req->bundle(), AuthorOf(ctx, req->author()), req->comment(),
                                req->classifier_model());
    status = result.status();
    if (result.ok()) {
      *resp->mutable_revision() = std::move(result->revision);
      resp->mutable_revision()->clear_bundle();
      resp->set_unchanged(result->unchanged);
    }
  }
  metrics_.policy_changes
      .Add({{"op", "apply"},
            {"result", status.ok() ? (resp->unchanged() ? "unchanged" : "applied") : "rejected"}})
      .Increment();
  UpdateRevisionGauge();
  return Done(ctx, status);
}

grpc::ServerUnaryReactor* PolicyServiceImpl::GetRevision(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::GetRevisionRequest* req,
    llmrouter::v1::GetRevisionResponse* resp) {
  auto revision = store_.Get(req->revision());
  if (revision.ok()) *resp->mutable_revision() = *std::move(revision);
  return Done(ctx, revision.status());
}

grpc::ServerUnaryReactor* PolicyServiceImpl::ListRevisions(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::ListRevisionsRequest* req,
    llmrouter::v1::ListRevisionsResponse* resp) {
  uint32_t size =
      req->page_size() == 0 ? kDefaultPageSize : std::min(req->page_size(), kMaxPageSize);
  uint64_t before = 0;
  if (!req->page_token().empty() && !absl::SimpleAtoi(req->page_token(), &before)) {
    return Done(ctx, absl::InvalidArgumentError("page_token is not one this service issued"));
  }
  auto revisions = store_.List(before, static_cast<int>(size) + 1);
  if (!revisions.ok()) return Done(ctx, revisions.status());
  for (size_t i = 0; i < revisions->size() && i < size; ++i) {
    *resp->add_revisions() = std::move((*revisions)[i]);
  }
  if (revisions->size() > size) {
    resp->set_next_page_token(absl::StrCat(resp->revisions(size - 1).revision()));
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* PolicyServiceImpl::Rollback(grpc::CallbackServerContext* ctx,
                                                      const llmrouter::v1::RollbackRequest* req,
                                                      llmrouter::v1::RollbackResponse* resp) {
  if (absl::Status s = CheckWrite(*ctx); !s.ok()) {
    metrics_.policy_changes.Add({{"op", "rollback"}, {"result", "rejected"}}).Increment();
    return Done(ctx, s);
  }
  auto revision = policy_.Rollback(req->revision(), AuthorOf(ctx, req->author()), req->comment());
  if (revision.ok()) {
    *resp->mutable_revision() = *std::move(revision);
    resp->mutable_revision()->clear_bundle();
  }
  metrics_.policy_changes
      .Add({{"op", "rollback"}, {"result", revision.ok() ? "applied" : "rejected"}})
      .Increment();
  UpdateRevisionGauge();
  return Done(ctx, revision.status());
}

grpc::ServerUnaryReactor* PolicyServiceImpl::ValidateBundle(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::ValidateBundleRequest* req,
    llmrouter::v1::ValidateBundleResponse* resp) {
  if (absl::Status s = CheckSize(req->bundle()); !s.ok()) return Done(ctx, s);
  // Loading a model sent with the bundle costs like a test: it needs the admin token too.
  if (!req->classifier_model().empty() && options_.admin.configured()) {
    if (absl::Status s = options_.admin.Check(*ctx); !s.ok()) return Done(ctx, s);
  }
  PolicyBundle bundle;
  std::vector<BundleProblem> problems = ParsePolicyBundle(req->bundle(), &bundle);
  if (std::shared_ptr<const InventoryView> view = options_.inventory ? options_.inventory() : nullptr;
      view != nullptr && problems.empty()) {
    problems = RolloutTrackProblems(bundle, *view);
  }
  for (const BundleProblem& p : problems) {
    auto* out = resp->add_problems();
    out->set_path(p.path);
    out->set_message(p.message);
  }
  if (resp->problems_size() == 0 && bundle.classifier) {
    // The classifier it names must be found and its intents must cover the rules'.
    auto candidate = policy_.CompileCandidate(req->bundle(), req->classifier_model());
    if (!candidate.ok()) {
      auto* out = resp->add_problems();
      out->set_message(std::string(candidate.status().message()));
    }
  }
  resp->set_valid(resp->problems_size() == 0);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* PolicyServiceImpl::LintBundle(grpc::CallbackServerContext* ctx,
                                                        const llmrouter::v1::LintBundleRequest* req,
                                                        llmrouter::v1::LintBundleResponse* resp) {
  if (absl::Status s = CheckSize(req->bundle()); !s.ok()) return Done(ctx, s);
  for (auto& f : LintPolicyBundle(req->bundle())) *resp->add_findings() = std::move(f);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* PolicyServiceImpl::TestBundle(grpc::CallbackServerContext* ctx,
                                                        const llmrouter::v1::TestBundleRequest* req,
                                                        llmrouter::v1::TestBundleResponse* resp) {
  // It runs arbitrary requests through an arbitrary bundle: as costly as a write, so it needs
  // the admin token when one is configured (also in GitOps mode, where writes are refused).
  if (options_.admin.configured()) {
    if (absl::Status s = options_.admin.Check(*ctx); !s.ok()) return Done(ctx, s);
  }
  if (absl::Status s = CheckSize(req->bundle()); !s.ok()) return Done(ctx, s);
  constexpr int kMaxRequests = 100000;
  if (req->requests_size() > kMaxRequests) {
    return Done(ctx, absl::InvalidArgumentError(
                         absl::StrCat("at most ", kMaxRequests, " requests per test")));
  }
  std::shared_ptr<const CompiledPolicy> active = policy_.Current();
  std::shared_ptr<const InventoryView> view = options_.inventory ? options_.inventory() : nullptr;
  std::vector<llmrouter::v1::RouteRequestRequest> requests(req->requests().begin(),
                                                           req->requests().end());
  auto candidate = policy_.CompileCandidate(req->bundle(), req->classifier_model());
  if (!candidate.ok()) return Done(ctx, candidate.status());
  *resp = TestCandidateBundle(*std::move(candidate), active.get(), view.get(), requests);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* PolicyServiceImpl::DiffRevisions(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::DiffRevisionsRequest* req,
    llmrouter::v1::DiffRevisionsResponse* resp) {
  if (req->from_revision() == 0) {
    return Done(ctx, absl::InvalidArgumentError("from_revision is required"));
  }
  auto from = store_.Get(req->from_revision());
  if (!from.ok()) return Done(ctx, from.status());
  auto to = store_.Get(req->to_revision());
  if (!to.ok()) return Done(ctx, to.status());
  resp->set_diff(LineDiff(from->bundle(), to->bundle()));
  return Done(ctx, absl::OkStatus());
}

}  // namespace llmrouter::decision
