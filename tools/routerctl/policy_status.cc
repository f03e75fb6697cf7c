// `routerctl policy status`: which bundle every decision replica behind a name runs.
#include <future>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/openai_error.h"
#include "tools/routerctl/output_format.h"
#include "common/replica_targets.h"
#include "tools/routerctl/routerctl_session.h"

namespace llmrouter::routerctl {

namespace v1 = llmrouter::v1;

namespace {

std::string StatusJson(const std::vector<ReplicaPolicy>& replicas, bool agree) {
  std::string out = "{\"replicas\":[";
  for (size_t i = 0; i < replicas.size(); ++i) {
    const ReplicaPolicy& r = replicas[i];
    out.append(i == 0 ? "{\"address\":" : ",{\"address\":");
    AppendJsonString(&out, r.address);
    if (r.answered) {
      std::string revision = ToJson(r.revision);
      while (!revision.empty() && revision.back() == '\n') revision.pop_back();
      absl::StrAppend(&out, ",\"active\":", revision, "}");
    } else {
      out.append(",\"error\":");
      AppendJsonString(&out, r.error);
      out.append("}");
    }
  }
  absl::StrAppend(&out, "],\"agree\":", agree ? "true" : "false", "}\n");
  return out;
}

}  // namespace

int RouterctlSession::PolicyStatus(const std::vector<std::string>& args) {
  auto replicas = ReplicasToAsk(clients_.decision_target());
  if (!replicas.ok()) return LocalError(replicas.status());
  // Every replica at once, so that one that does not answer costs one timeout, not one each.
  std::vector<std::future<ReplicaPolicy>> asked;
  for (const ReplicaTarget& replica : *replicas) {
    asked.push_back(std::async(std::launch::async, [this, replica] {
      ReplicaPolicy r;
      r.address = replica.address;
      auto stub = clients_.PolicyFor(replica);
      grpc::ClientContext ctx;
      clients_.Prepare(Service::kDecision, &ctx);
      v1::GetRevisionResponse resp;
      grpc::Status status = stub->GetRevision(&ctx, v1::GetRevisionRequest(), &resp);
      if (status.ok()) {
        r.answered = true;
        r.revision = std::move(*resp.mutable_revision());
        r.revision.clear_bundle();
      } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        // A replica without an active policy answers, with no hash.
        r.answered = true;
      } else {
        r.error = absl::StrCat(StatusCodeName(status.error_code()), ": ", status.error_message());
      }
      return r;
    }));
  }
  std::vector<ReplicaPolicy> answers;
  for (auto& f : asked) answers.push_back(f.get());
  bool agree = true;
  for (const ReplicaPolicy& r : answers) {
    agree =
        agree && r.answered && r.revision.content_hash() == answers.front().revision.content_hash();
  }
  out_ << (json_ ? StatusJson(answers, agree)
                 : FormatPolicyStatus(clients_.decision_target(), answers));
  return agree ? kExitOk : kExitFailure;
}

}  // namespace llmrouter::routerctl
