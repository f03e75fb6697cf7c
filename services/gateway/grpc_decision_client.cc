#include "services/gateway/grpc_decision_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "common/grpc_status.h"
#include "common/grpc_tuning.h"
#include "common/tls_credentials.h"

namespace llmrouter::gateway {

namespace {

// Everything one unary call needs until its callback has run.
template <typename Request, typename Response, typename Callback>
struct UnaryCall {
  grpc::ClientContext context;
  Request request;
  Response response;
  Callback done;
};

template <typename Request, typename Response, typename Callback, typename Start>
void StartUnary(Request request, DecisionClient::Deadline deadline, Callback done, Start start) {
  auto* call =
      new UnaryCall<Request, Response, Callback>{{}, std::move(request), {}, std::move(done)};
  call->context.set_deadline(deadline);
  start(&call->context, &call->request, &call->response, [call](grpc::Status status) {
    std::unique_ptr<UnaryCall<Request, Response, Callback>> owned(call);
    if (status.ok()) {
      owned->done(std::move(owned->response));
    } else {
      owned->done(FromGrpcStatus(status));
    }
  });
}

}  // namespace

GrpcDecisionClient::GrpcDecisionClient(std::shared_ptr<grpc::Channel> channel,
                                       const GrpcDecisionClientOptions& options)
    : channel_(std::move(channel)), stub_(v1::DecisionService::NewStub(channel_)) {
  if (options.streams) streams_ = std::make_unique<RouteStreamPool>(channel_, options.stream);
}

std::unique_ptr<GrpcDecisionClient> GrpcDecisionClient::Create(
    const std::string& target, const GrpcDecisionClientOptions& options) {
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, options.grpc_retries ? 1 : 0);
  ApplyGrpcTuning(args);
  return std::make_unique<GrpcDecisionClient>(
      grpc::CreateCustomChannel(target, llmrouter::ChannelCredentialsFromFlags(), args), options);
}

void GrpcDecisionClient::Route(v1::RouteRequestRequest request, Deadline deadline,
                               RouteCallback done) {
  if (streams_) {
    streams_->Route(std::move(request), deadline, std::move(done));
    return;
  }
  StartUnary<v1::RouteRequestRequest, v1::RouteRequestResponse>(
      std::move(request), deadline, std::move(done),
      [this](grpc::ClientContext* context, const v1::RouteRequestRequest* req,
             v1::RouteRequestResponse* resp, std::function<void(grpc::Status)> on_done) {
        stub_->async()->RouteRequest(context, req, resp, std::move(on_done));
      });
}

void GrpcDecisionClient::ListModels(v1::ListModelsRequest request, Deadline deadline,
                                    ListModelsCallback done) {
  StartUnary<v1::ListModelsRequest, v1::ListModelsResponse>(
      std::move(request), deadline, std::move(done),
      [this](grpc::ClientContext* context, const v1::ListModelsRequest* req,
             v1::ListModelsResponse* resp, std::function<void(grpc::Status)> on_done) {
        stub_->async()->ListModels(context, req, resp, std::move(on_done));
      });
}

bool GrpcDecisionClient::Reachable() {
  return channel_->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY;
}

}  // namespace llmrouter::gateway
