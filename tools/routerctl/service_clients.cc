#include "tools/routerctl/service_clients.h"

#include <chrono>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/tls_credentials.h"

namespace llmrouter::routerctl {

namespace v1 = llmrouter::v1;

std::string StatusCodeName(grpc::StatusCode code) {
  // gRPC and Abseil share the canonical code numbers and names.
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

std::shared_ptr<grpc::Channel> ServiceClients::Channel(Service service) {
  std::shared_ptr<grpc::Channel>& channel =
      service == Service::kDecision ? decision_channel_ : inventory_channel_;
  if (!channel) {
    channel = grpc::CreateChannel(
        service == Service::kDecision ? settings_.decision_target : settings_.inventory_target,
        ChannelCredentials(settings_.tls));
  }
  return channel;
}

v1::PolicyService::Stub& ServiceClients::policy() {
  if (!policy_) policy_ = v1::PolicyService::NewStub(Channel(Service::kDecision));
  return *policy_;
}

v1::RolloutService::Stub& ServiceClients::rollout() {
  if (!rollout_) rollout_ = v1::RolloutService::NewStub(Channel(Service::kDecision));
  return *rollout_;
}

v1::DecisionService::Stub& ServiceClients::decision() {
  if (!decision_) decision_ = v1::DecisionService::NewStub(Channel(Service::kDecision));
  return *decision_;
}

v1::InventoryService::Stub& ServiceClients::inventory() {
  if (!inventory_) inventory_ = v1::InventoryService::NewStub(Channel(Service::kInventory));
  return *inventory_;
}

std::shared_ptr<grpc::Channel> ServiceClients::ReplicaChannel(const ReplicaTarget& replica) const {
  grpc::ChannelArguments args;
  if (settings_.tls.enabled() && !replica.host.empty()) {
    args.SetSslTargetNameOverride(replica.host);
  }
  // A channel of its own: replicas must not share a subchannel through gRPC's global pool.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(replica.target, ChannelCredentials(settings_.tls), args);
}

std::unique_ptr<v1::PolicyService::Stub> ServiceClients::PolicyFor(
    const ReplicaTarget& replica) const {
  return v1::PolicyService::NewStub(ReplicaChannel(replica));
}

std::unique_ptr<v1::DecisionService::Stub> ServiceClients::DecisionFor(
    const ReplicaTarget& replica) const {
  return v1::DecisionService::NewStub(ReplicaChannel(replica));
}

void ServiceClients::Prepare(Service service, grpc::ClientContext* ctx) const {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(settings_.timeout_ms));
  const std::string& token =
      service == Service::kDecision ? settings_.admin_token : settings_.inventory_token;
  if (!token.empty()) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
}

std::string ServiceClients::DescribeError(Service service, const grpc::Status& status) {
  std::string out = absl::StrCat("routerctl: ", StatusCodeName(status.error_code()));
  if (!status.error_message().empty()) absl::StrAppend(&out, ": ", status.error_message());
  const std::string& target =
      service == Service::kDecision ? settings_.decision_target : settings_.inventory_target;
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    absl::StrAppend(&out, " (", target, " does not serve this call; is it older than routerctl?)");
    return out;
  }
  const bool connection_code = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                               status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
  if (connection_code && Channel(service)->GetState(false) != GRPC_CHANNEL_READY) {
    absl::StrAppend(&out, " (", service == Service::kDecision ? "decision" : "inventory", " at ",
                    target, " is not reachable)");
  }
  return out;
}

}  // namespace llmrouter::routerctl
