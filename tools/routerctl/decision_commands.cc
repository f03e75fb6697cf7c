// `routerctl decision show|why-not ID`: a past decision, from the decision log of whichever
// replica behind --decision made it (every replica is asked at once).
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/routerctl/output_format.h"
#include "common/replica_targets.h"
#include "tools/routerctl/routerctl_session.h"

namespace llmrouter::routerctl {

namespace v1 = llmrouter::v1;

namespace {

std::string Replicas(size_t n) { return absl::StrCat(n, n == 1 ? " replica" : " replicas"); }

}  // namespace

int RouterctlSession::AskReplicas(const ReplicaCall& ask, const std::string& what,
                                  google::protobuf::Message* out) {
  auto replicas = ReplicasToAsk(clients_.decision_target());
  if (!replicas.ok()) return LocalError(replicas.status());
  // Every replica at once, so that one that does not answer costs one timeout, not one each.
  std::vector<std::unique_ptr<google::protobuf::Message>> responses;
  std::vector<std::future<grpc::Status>> asked;
  for (const ReplicaTarget& replica : *replicas) {
    responses.emplace_back(out->New());
    asked.push_back(
        std::async(std::launch::async, [this, &ask, replica, response = responses.back().get()] {
          auto stub = clients_.DecisionFor(replica);
          grpc::ClientContext ctx;
          clients_.Prepare(Service::kDecision, &ctx);
          return ask(*stub, &ctx, response);
        }));
  }
  std::vector<grpc::Status> answers;
  for (auto& f : asked) answers.push_back(f.get());
  std::vector<std::string> failures;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].ok()) {
      out->CopyFrom(*responses[i]);
      return kExitOk;
    }
    if (answers[i].error_code() != grpc::StatusCode::NOT_FOUND) {
      failures.push_back(absl::StrCat((*replicas)[i].address, ": ",
                                      StatusCodeName(answers[i].error_code()), ": ",
                                      answers[i].error_message()));
    }
  }
  if (failures.empty()) {
    err_ << "routerctl: NOT_FOUND: no decision replica behind " << clients_.decision_target()
         << " (" << Replicas(replicas->size()) << " asked) holds " << what
         << ": a wrong id, or evicted from its decision log (--decision_log_bytes, "
            "--decision_log_max_age_s)\n";
  } else {
    err_ << "routerctl: " << what << " not found; " << Replicas(failures.size())
         << " did not answer:\n  " << absl::StrJoin(failures, "\n  ") << "\n";
  }
  return kExitFailure;
}

int RouterctlSession::DecisionShow(const std::vector<std::string>& args) {
  v1::GetDecisionRequest req;
  req.set_id(args[0]);
  v1::GetDecisionResponse resp;
  const int rc = AskReplicas(
      [&req](v1::DecisionService::Stub& stub, grpc::ClientContext* ctx,
             google::protobuf::Message* out) {
        return stub.GetDecision(ctx, req, static_cast<v1::GetDecisionResponse*>(out));
      },
      absl::StrCat("decision \"", args[0], "\""), &resp);
  if (rc != kExitOk) return rc;
  out_ << (json_ ? ToJson(resp.decision()) : FormatDecisionRecord(resp.decision()));
  return kExitOk;
}

int RouterctlSession::DecisionWhyNot(const std::vector<std::string>& args) {
  v1::WhyNotRequest req;
  req.set_decision(args[0]);
  req.set_model(args[1]);
  v1::WhyNotResponse resp;
  const int rc = AskReplicas(
      [&req](v1::DecisionService::Stub& stub, grpc::ClientContext* ctx,
             google::protobuf::Message* out) {
        return stub.WhyNot(ctx, req, static_cast<v1::WhyNotResponse*>(out));
      },
      absl::StrCat("decision \"", args[0], "\""), &resp);
  if (rc != kExitOk) return rc;
  out_ << (json_ ? ToJson(resp) : FormatWhyNot(args[1], resp));
  return kExitOk;
}

}  // namespace llmrouter::routerctl
