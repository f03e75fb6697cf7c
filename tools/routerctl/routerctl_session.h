// The handlers of routerctl's commands: each sends one kind of RPC and prints the answer.
#ifndef LLMROUTER_TOOLS_ROUTERCTL_ROUTERCTL_SESSION_H_
#define LLMROUTER_TOOLS_ROUTERCTL_ROUTERCTL_SESSION_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "services/gateway/api_key_db.h"
#include "tools/routerctl/command_line.h"
#include "tools/routerctl/routerctl_commands.h"
#include "tools/routerctl/service_clients.h"

namespace llmrouter::routerctl {

// One invocation's state: its parsed flags, output streams and service clients. Each handler
// prints its answer (tables, or protobuf JSON with --json) and returns the exit code.
// Not thread-safe.
class RouterctlSession {
 public:
  RouterctlSession(const CommandLine& cl, ConnectionSettings settings, std::ostream& out,
                   std::ostream& err, std::string author)
      : cl_(cl),
        clients_(std::move(settings)),
        out_(out),
        err_(err),
        json_(cl.GetBool("json")),
        author_(std::move(author)) {}

  int PolicyApply(const std::vector<std::string>& args);
  int PolicyValidate(const std::vector<std::string>& args);
  int PolicyLint(const std::vector<std::string>& args);
  int PolicyTest(const std::vector<std::string>& args);
  int PolicyHistory(const std::vector<std::string>& args);
  int PolicyDiff(const std::vector<std::string>& args);
  int PolicyRollback(const std::vector<std::string>& args);
  int PolicyGet(const std::vector<std::string>& args);
  // In policy_status.cc: asks every replica behind --decision which bundle it runs.
  int PolicyStatus(const std::vector<std::string>& args);
  int Route(const std::vector<std::string>& args) { return RouteOrExplain(false); }
  int Explain(const std::vector<std::string>& args) { return RouteOrExplain(true); }
  int WhyNot(const std::vector<std::string>& args);
  // In decision_commands.cc: a past decision from the decision log of the replica that made it.
  int DecisionShow(const std::vector<std::string>& args);
  int DecisionWhyNot(const std::vector<std::string>& args);
  // In rollout_commands.cc: the rollouts decision runs, and an operator's hand on them.
  int RolloutStatus(const std::vector<std::string>& args);
  int RolloutHistory(const std::vector<std::string>& args);
  int RolloutPause(const std::vector<std::string>& args);
  int RolloutResume(const std::vector<std::string>& args);
  int RolloutPromote(const std::vector<std::string>& args);
  int RolloutAbort(const std::vector<std::string>& args);
  int InventoryList(const std::vector<std::string>& args);
  int InventoryDrain(const std::vector<std::string>& args);
  // In api_key_commands.cc: the gateway's key store, opened from --db.
  int ApiKeysCreate(const std::vector<std::string>& args);
  int ApiKeysList(const std::vector<std::string>& args);
  int ApiKeysRevoke(const std::vector<std::string>& args);
  // In classifier_commands.cc: training and scoring a prompt classifier from labeled files.
  int ClassifierTrain(const std::vector<std::string>& args);
  int ClassifierEval(const std::vector<std::string>& args);

 private:
  // Calls `method` on `stub` with a prepared context; on failure prints the error and returns
  // false.
  template <typename Stub, typename Request, typename Response>
  bool Call(Stub& stub,
            grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
            const Request& req, Response* resp) {
    const Service service = std::is_same_v<Stub, llmrouter::v1::InventoryService::Stub>
                                ? Service::kInventory
                                : Service::kDecision;
    grpc::ClientContext ctx;
    clients_.Prepare(service, &ctx);
    grpc::Status status = (stub.*method)(&ctx, req, resp);
    if (status.ok()) return true;
    err_ << clients_.DescribeError(service, status) << "\n";
    return false;
  }
  int LocalError(const absl::Status& status) {
    err_ << "routerctl: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
         << "\n";
    return kExitFailure;
  }
  int RouteOrExplain(bool explain);
  template <typename Request, typename Response>
  int RolloutAction(const std::vector<std::string>& args,
                    grpc::Status (llmrouter::v1::RolloutService::Stub::*method)(
                        grpc::ClientContext*, const Request&, Response*));
  // Asks every replica behind --decision at once (`ask` fills the response it is given); the
  // first that answers fills `out`. When none does, prints that none holds `what` (every
  // replica answered NOT_FOUND) or which replicas failed, and returns kExitFailure.
  using ReplicaCall = std::function<grpc::Status(llmrouter::v1::DecisionService::Stub&,
                                                 grpc::ClientContext*, google::protobuf::Message*)>;
  int AskReplicas(const ReplicaCall& ask, const std::string& what, google::protobuf::Message* out);
  // The model file --classifier names into `out` (unchanged without the flag); false after
  // printing why it cannot be read.
  bool ReadClassifierModel(std::string* out);
  absl::StatusOr<std::unique_ptr<gateway::ApiKeyDb>> OpenKeyDb(bool create);

  const CommandLine& cl_;
  ServiceClients clients_;
  std::ostream& out_;
  std::ostream& err_;
  const bool json_;
  const std::string author_;
};

}  // namespace llmrouter::routerctl

#endif  // LLMROUTER_TOOLS_ROUTERCTL_ROUTERCTL_SESSION_H_
