// The gRPC stubs routerctl calls, created on first use, and the per-call context: deadline and
// the admin bearer token.
#ifndef LLMROUTER_TOOLS_ROUTERCTL_SERVICE_CLIENTS_H_
#define LLMROUTER_TOOLS_ROUTERCTL_SERVICE_CLIENTS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "llmrouter/v1/decision.grpc.pb.h"
#include "llmrouter/v1/inventory.grpc.pb.h"
#include "llmrouter/v1/policy.grpc.pb.h"
#include "llmrouter/v1/rollout.grpc.pb.h"
#include "common/replica_targets.h"
#include "tools/routerctl/routerctl_commands.h"

namespace llmrouter::routerctl {

// Which service a call went to, to name it in errors.
enum class Service { kDecision, kInventory };

// Not thread-safe: one invocation, one thread.
class ServiceClients {
 public:
  explicit ServiceClients(ConnectionSettings settings) : settings_(std::move(settings)) {}

  llmrouter::v1::PolicyService::Stub& policy();
  llmrouter::v1::DecisionService::Stub& decision();
  llmrouter::v1::InventoryService::Stub& inventory();
  llmrouter::v1::RolloutService::Stub& rollout();

  // A PolicyService (DecisionService) stub on a channel of its own to one replica behind
  // --decision; with TLS its certificate is checked against the name the replica was resolved
  // from.
  std::unique_ptr<llmrouter::v1::PolicyService::Stub> PolicyFor(const ReplicaTarget& replica) const;
  std::unique_ptr<llmrouter::v1::DecisionService::Stub> DecisionFor(
      const ReplicaTarget& replica) const;
  const std::string& decision_target() const { return settings_.decision_target; }

  // Sets the deadline and, when that service's token is configured,
  // `authorization: Bearer <token>`.
  void Prepare(Service service, grpc::ClientContext* ctx) const;

  // "routerctl: <CODE NAME>: <message>", adding which target could not be reached when the
  // channel to it is down (so an operator sees a wrong --decision at once).
  std::string DescribeError(Service service, const grpc::Status& status);

 private:
  std::shared_ptr<grpc::Channel> Channel(Service service);
  std::shared_ptr<grpc::Channel> ReplicaChannel(const ReplicaTarget& replica) const;

  ConnectionSettings settings_;
  std::shared_ptr<grpc::Channel> decision_channel_;
  std::shared_ptr<grpc::Channel> inventory_channel_;
  std::unique_ptr<llmrouter::v1::PolicyService::Stub> policy_;
  std::unique_ptr<llmrouter::v1::DecisionService::Stub> decision_;
  std::unique_ptr<llmrouter::v1::InventoryService::Stub> inventory_;
  std::unique_ptr<llmrouter::v1::RolloutService::Stub> rollout_;
};

// "INVALID_ARGUMENT" for grpc::StatusCode::INVALID_ARGUMENT.
std::string StatusCodeName(grpc::StatusCode code);

}  // namespace llmrouter::routerctl

#endif  // LLMROUTER_TOOLS_ROUTERCTL_SERVICE_CLIENTS_H_
