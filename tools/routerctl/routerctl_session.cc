#include "tools/routerctl/routerctl_session.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tools/routerctl/output_format.h"
#include "tools/routerctl/route_request_builder.h"
#include "tools/routerctl/text_file.h"

namespace llmrouter::routerctl {
namespace {

namespace v1 = llmrouter::v1;

constexpr uint64_t kDefaultHistoryLimit = 20;
constexpr uint32_t kMaxPageSize = 500;

}  // namespace

bool RouterctlSession::ReadClassifierModel(std::string* out) {
  const auto path = cl_.Get("classifier");
  if (!path) return true;
  auto model = ReadTextFile(*path);
  if (!model.ok()) {
    LocalError(model.status());
    return false;
  }
  *out = *std::move(model);
  return true;
}

int RouterctlSession::PolicyApply(const std::vector<std::string>& args) {
  auto bundle = ReadTextFile(args[0]);
  if (!bundle.ok()) return LocalError(bundle.status());
  v1::ApplyBundleRequest req;
  req.set_bundle(*std::move(bundle));
  if (!ReadClassifierModel(req.mutable_classifier_model())) return kExitFailure;
  req.set_author(cl_.Get("author").value_or(author_));
  req.set_comment(cl_.Get("comment").value_or(""));
  v1::ApplyBundleResponse resp;
  if (!Call(clients_.policy(), &v1::PolicyService::Stub::ApplyBundle, req, &resp))
    return kExitFailure;
  if (json_) {
    out_ << ToJson(resp);
  } else if (resp.unchanged()) {
    out_ << "unchanged: " << args[0] << " is already the active "
         << FormatRevisionSummary(resp.revision()) << "\n";
  } else {
    out_ << "applied " << args[0] << ": active " << FormatRevisionSummary(resp.revision()) << "\n";
  }
  return kExitOk;
}

int RouterctlSession::PolicyValidate(const std::vector<std::string>& args) {
  auto bundle = ReadTextFile(args[0]);
  if (!bundle.ok()) return LocalError(bundle.status());
  v1::ValidateBundleRequest req;
  req.set_bundle(*std::move(bundle));
  if (!ReadClassifierModel(req.mutable_classifier_model())) return kExitFailure;
  v1::ValidateBundleResponse resp;
  if (!Call(clients_.policy(), &v1::PolicyService::Stub::ValidateBundle, req, &resp))
    return kExitFailure;
  out_ << (json_ ? ToJson(resp) : FormatValidation(args[0], resp));
  return resp.valid() ? kExitOk : kExitFailure;
}

int RouterctlSession::PolicyLint(const std::vector<std::string>& args) {
  auto bundle = ReadTextFile(args[0]);
  if (!bundle.ok()) return LocalError(bundle.status());
  v1::LintBundleRequest req;
  req.set_bundle(*std::move(bundle));
  v1::LintBundleResponse resp;
  if (!Call(clients_.policy(), &v1::PolicyService::Stub::LintBundle, req, &resp))
    return kExitFailure;
  out_ << (json_ ? ToJson(resp) : FormatLint(args[0], resp));
  for (const v1::LintFinding& f : resp.findings()) {
    if (f.severity() == v1::LINT_SEVERITY_ERROR) return kExitFailure;
  }
  return kExitOk;
}

int RouterctlSession::PolicyTest(const std::vector<std::string>& args) {
  auto bundle = ReadTextFile(args[0]);
  if (!bundle.ok()) return LocalError(bundle.status());
  v1::TestBundleRequest req;
  req.set_bundle(*std::move(bundle));
  if (!ReadClassifierModel(req.mutable_classifier_model())) return kExitFailure;
  std::vector<int> lines;
  if (auto path = cl_.Get("requests")) {
    auto text = ReadTextFile(*path);
    if (!text.ok()) return LocalError(text.status());
    auto requests = ParseRequestsJsonl(*text, *path);
    if (!requests.ok()) return LocalError(requests.status());
    for (NumberedRequest& r : *requests) {
      lines.push_back(r.line);
      *req.add_requests() = std::move(r.request);
    }
  }
  v1::TestBundleResponse resp;
  if (!Call(clients_.policy(), &v1::PolicyService::Stub::TestBundle, req, &resp))
    return kExitFailure;
  out_ << (json_ ? ToJson(resp) : FormatTestReport(resp, lines));
  for (const v1::BundleTestResult& t : resp.tests()) {
    if (!t.passed()) return kExitFailure;
  }
  return kExitOk;
}

int RouterctlSession::PolicyHistory(const std::vector<std::string>& args) {
  auto limit = cl_.GetUint("limit");
  if (!limit.ok()) return LocalError(limit.status());
  const uint64_t wanted = limit->value_or(kDefaultHistoryLimit);
  v1::ListRevisionsResponse all;
  std::string token;
  do {
    v1::ListRevisionsRequest req;
    uint64_t left = wanted == 0 ? kMaxPageSize : wanted - all.revisions_size();
    req.set_page_size(static_cast<uint32_t>(std::min<uint64_t>(left, kMaxPageSize)));
    req.set_page_token(token);
    v1::ListRevisionsResponse page;
    if (!Call(clients_.policy(), &v1::PolicyService::Stub::ListRevisions, req, &page))
      return kExitFailure;
    for (v1::PolicyRevision& r : *page.mutable_revisions()) *all.add_revisions() = std::move(r);
    token = page.next_page_token();
  } while (!token.empty() && (wanted == 0 || static_cast<uint64_t>(all.revisions_size()) < wanted));
  all.set_next_page_token(token);
  if (json_) {
    out_ << ToJson(all);
  } else {
    out_ << FormatRevisionTable({all.revisions().begin(), all.revisions().end()});
    if (!token.empty()) out_ << "(older revisions: --limit=0 lists all)\n";
  }
  return kExitOk;
}

int RouterctlSession::PolicyDiff(const std::vector<std::string>& args) {
  v1::DiffRevisionsRequest req;
  auto from = ParsePositiveInteger("revision A", args[0]);
  if (!from.ok()) return LocalError(from.status());
  req.set_from_revision(*from);
  if (args.size() > 1) {
    auto to = ParsePositiveInteger("revision B", args[1]);
    if (!to.ok()) return LocalError(to.status());
    req.set_to_revision(*to);
  }
  v1::DiffRevisionsResponse resp;
  if (!Call(clients_.policy(), &v1::PolicyService::Stub::DiffRevisions, req, &resp))
    return kExitFailure;
  if (json_) {
    out_ << ToJson(resp);
  } else if (resp.diff().empty()) {
    out_ << "no differences\n";
  } else {
    out_ << resp.diff();
    if (resp.diff().back() != '\n') out_ << "\n";
  }
  return kExitOk;
}

int RouterctlSession::PolicyRollback(const std::vector<std::string>& args) {
  auto revision = ParsePositiveInteger("revision", args[0]);
  if (!revision.ok()) return LocalError(revision.status());
  v1::RollbackRequest req;
  req.set_revision(*revision);
  req.set_author(cl_.Get("author").value_or(author_));
  req.set_comment(cl_.Get("comment").value_or(""));
  v1::RollbackResponse resp;
  if (!Call(clients_.policy(), &v1::PolicyService::Stub::Rollback, req, &resp)) return kExitFailure;
  out_ << (json_ ? ToJson(resp)
                 : absl::StrCat("rolled back to revision ", *revision, ": active ",
                                FormatRevisionSummary(resp.revision()), "\n"));
  return kExitOk;
}

int RouterctlSession::PolicyGet(const std::vector<std::string>& args) {
  v1::GetRevisionRequest req;
  if (!args.empty()) {
    auto revision = ParsePositiveInteger("revision", args[0]);
    if (!revision.ok()) return LocalError(revision.status());
    req.set_revision(*revision);
  }
  v1::GetRevisionResponse resp;
  if (!Call(clients_.policy(), &v1::PolicyService::Stub::GetRevision, req, &resp))
    return kExitFailure;
  if (json_) {
    out_ << ToJson(resp);
  } else {
    const std::string& bundle = resp.revision().bundle();
    out_ << bundle;
    if (!bundle.empty() && bundle.back() != '\n') out_ << "\n";
  }
  return kExitOk;
}

int RouterctlSession::RouteOrExplain(bool explain) {
  auto req = BuildRouteRequest(cl_);
  if (!req.ok()) return LocalError(req.status());
  req->set_explain(explain);
  v1::RouteRequestResponse resp;
  if (!Call(clients_.decision(), &v1::DecisionService::Stub::RouteRequest, *req, &resp))
    return kExitFailure;
  out_ << (json_ ? ToJson(resp) : FormatRoute(resp));
  return kExitOk;
}

int RouterctlSession::WhyNot(const std::vector<std::string>& args) {
  auto route = BuildRouteRequest(cl_);
  if (!route.ok()) return LocalError(route.status());
  v1::WhyNotRequest req;
  *req.mutable_request() = *std::move(route);
  req.set_model(args[0]);
  v1::WhyNotResponse resp;
  if (!Call(clients_.decision(), &v1::DecisionService::Stub::WhyNot, req, &resp))
    return kExitFailure;
  out_ << (json_ ? ToJson(resp) : FormatWhyNot(args[0], resp));
  return kExitOk;
}

int RouterctlSession::InventoryList(const std::vector<std::string>& args) {
  v1::ListEndpointsRequest req;
  req.set_model(cl_.Get("model").value_or(""));
  v1::ListEndpointsResponse resp;
  if (!Call(clients_.inventory(), &v1::InventoryService::Stub::ListEndpoints, req, &resp))
    return kExitFailure;
  out_ << (json_ ? ToJson(resp) : FormatEndpoints(resp));
  return kExitOk;
}

int RouterctlSession::InventoryDrain(const std::vector<std::string>& args) {
  v1::DrainEndpointRequest req;
  req.set_id(args[0]);
  req.set_resume(cl_.GetBool("resume"));
  v1::DrainEndpointResponse resp;
  if (!Call(clients_.inventory(), &v1::InventoryService::Stub::DrainEndpoint, req, &resp))
    return kExitFailure;
  if (json_) {
    out_ << ToJson(resp);
  } else {
    out_ << (req.resume() ? "resumed " : "draining ") << resp.endpoint().id() << ": now "
         << HealthName(resp.endpoint().health()) << " (inventory version "
         << resp.inventory_version() << ")\n";
  }
  return kExitOk;
}

}  // namespace llmrouter::routerctl
