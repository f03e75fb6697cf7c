// DecisionClient over gRPC's callback API: no thread waits on a decision.
#ifndef LLMROUTER_SERVICES_GATEWAY_GRPC_DECISION_CLIENT_H_
#define LLMROUTER_SERVICES_GATEWAY_GRPC_DECISION_CLIENT_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "llmrouter/v1/decision.grpc.pb.h"
#include "services/gateway/decision_client.h"

namespace llmrouter::gateway {

// A GrpcDecisionClient is safe for concurrent use. Callbacks run on gRPC's threads. The channel
// balances over every address `target` resolves to (round_robin), so `dns:///decision:50051`
// spreads requests over a headless Service's replicas. Destroy it only once every call has
// completed (GatewayServer::Stop waits for that).
class GrpcDecisionClient : public DecisionClient {
 public:
  explicit GrpcDecisionClient(std::shared_ptr<grpc::Channel> channel);
  // Creates an insecure channel to `target` with round_robin load balancing. gRPC's own
  // retries stay off unless `grpc_retries`: the gateway answers a failed decision itself
  // (fail-safe table, 503), and the retry filter copies every call to be able to replay it.
  static std::unique_ptr<GrpcDecisionClient> Create(const std::string& target,
                                                    bool grpc_retries = false);

  void Route(v1::RouteRequestRequest request, Deadline deadline, RouteCallback done) override;
  void ListModels(v1::ListModelsRequest request, Deadline deadline,
                  ListModelsCallback done) override;
  // True while the channel is connected (READY); asks an idle channel to connect.
  bool Reachable() override;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::DecisionService::Stub> stub_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_GRPC_DECISION_CLIENT_H_
