#include "services/gateway/grpc_decision_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/async_unary_call.h>
#include <grpcpp/support/channel_arguments.h>

#include <limits>

#include "common/grpc_status.h"
#include "common/grpc_tuning.h"
#include "common/tls_credentials.h"

namespace llmrouter::gateway {

namespace {

// One unary call on the completion loop; it frees itself once its callback has run.
template <typename Response, typename Callback>
class UnaryCall final : public CompletionLoop::Tag {
 public:
  template <typename Request, typename Prepare>
  static void Start(const Request& request, DecisionClient::Deadline deadline, Callback done,
                    grpc::CompletionQueue* cq, Prepare prepare) {
    auto* call = new UnaryCall(std::move(done));
    call->context_.set_deadline(deadline);
    call->reader_ = prepare(&call->context_, request, cq);
    call->reader_->StartCall();
    call->reader_->Finish(&call->response_, &call->status_, call);
  }

  void Done(bool /*ok*/) override {
    if (status_.ok()) {
      done_(std::move(response_));
    } else {
      done_(FromGrpcStatus(status_));
    }
    delete this;
  }

 private:
  explicit UnaryCall(Callback done) : done_(std::move(done)) {}
  ~UnaryCall() = default;

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader_;
  Response response_;
  grpc::Status status_;
  Callback done_;
};

}  // namespace

GrpcDecisionClient::GrpcDecisionClient(std::shared_ptr<grpc::Channel> channel,
                                       const GrpcDecisionClientOptions& options)
    : channel_(std::move(channel)),
      stub_(v1::DecisionService::NewStub(channel_)),
      loop_([this](CompletionLoop::Clock::time_point now) { return streams_->ExpireDue(now); }),
      streams_(std::make_unique<RouteStreamPool>(*stub_, loop_, options.stream)) {
  // Connected from the start: with the route link carrying the calls, nothing else would
  // connect it, and a fallback call would pay for the connection (and its TLS handshake)
  // inside its deadline, and readiness would see an idle channel.
  channel_->GetState(/*try_to_connect=*/true);
  loop_.Start();
}

GrpcDecisionClient::~GrpcDecisionClient() {
  // Streams end first, while the loop still delivers their completions; then the loop stops.
  streams_->Shutdown();
  loop_.Stop();
}

std::unique_ptr<GrpcDecisionClient> GrpcDecisionClient::Create(
    const std::string& target, const GrpcDecisionClientOptions& options) {
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, options.grpc_retries ? 1 : 0);
  // The fallback stays connected while the route link carries every call.
  args.SetInt(GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS, std::numeric_limits<int>::max());
  ApplyGrpcTuning(args);
  return std::make_unique<GrpcDecisionClient>(
      grpc::CreateCustomChannel(target, llmrouter::ChannelCredentialsFromFlags(), args), options);
}

void GrpcDecisionClient::Route(v1::RouteRequestRequest request, Deadline deadline,
                               RouteCallback done) {
  streams_->Route(std::move(request), deadline, std::move(done));
}

void GrpcDecisionClient::ListModels(v1::ListModelsRequest request, Deadline deadline,
                                    ListModelsCallback done) {
  UnaryCall<v1::ListModelsResponse, ListModelsCallback>::Start(
      request, deadline, std::move(done), loop_.cq(),
      [this](grpc::ClientContext* context, const v1::ListModelsRequest& req,
             grpc::CompletionQueue* cq) {
        return stub_->PrepareAsyncListModels(context, req, cq);
      });
}

bool GrpcDecisionClient::Reachable() {
  return channel_->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY;
}

}  // namespace llmrouter::gateway
