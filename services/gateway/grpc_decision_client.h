// DecisionClient over gRPC: routing calls ride a few long-lived RouteStream calls, driven by one
// completion-queue thread; no thread waits on a decision. The gateway's fallback when the route
// link cannot carry a call, and its only way to decision without the link.
#ifndef LLMROUTER_SERVICES_GATEWAY_GRPC_DECISION_CLIENT_H_
#define LLMROUTER_SERVICES_GATEWAY_GRPC_DECISION_CLIENT_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "llmrouter/v1/decision.grpc.pb.h"
#include "services/gateway/completion_loop.h"
#include "services/gateway/decision_client.h"
#include "services/gateway/route_stream_pool.h"

namespace llmrouter::gateway {

struct GrpcDecisionClientOptions {
  // gRPC's own retries stay off unless set: the gateway answers a failed decision itself
  // (fail-safe table, 503), and the retry filter copies every call to be able to replay it.
  bool grpc_retries = false;
  // Routing decisions travel over RouteStream calls (batched under load).
  RouteStreamPoolOptions stream;
};

// A GrpcDecisionClient is safe for concurrent use. Callbacks run on its completion-queue
// thread. The channel balances over every address `target` resolves to (round_robin), so
// `dns:///decision:50051` spreads streams over a headless Service's replicas. Destroy it only
// once every call has completed (GatewayServer::Stop waits for that).
class GrpcDecisionClient : public DecisionClient {
 public:
  GrpcDecisionClient(std::shared_ptr<grpc::Channel> channel,
                     const GrpcDecisionClientOptions& options);
  ~GrpcDecisionClient() override;
  // Creates a channel to `target` (TLS when the --tls_* flags ask for it) with round_robin
  // load balancing.
  static std::unique_ptr<GrpcDecisionClient> Create(const std::string& target,
                                                    const GrpcDecisionClientOptions& options);

  void Route(v1::RouteRequestRequest request, Deadline deadline, RouteCallback done) override;
  void ListModels(v1::ListModelsRequest request, Deadline deadline,
                  ListModelsCallback done) override;
  // True while the channel is connected (READY); asks an idle channel to connect.
  bool Reachable() override;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::DecisionService::Stub> stub_;
  CompletionLoop loop_;
  std::unique_ptr<RouteStreamPool> streams_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_GRPC_DECISION_CLIENT_H_
