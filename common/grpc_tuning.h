// HTTP/2 flow-control settings for the project's gRPC servers and its long-lived streams (the
// gateway's decision channel, decision's inventory watch). One-shot clients (outcome reports
// once a second, routerctl) keep gRPC's defaults: a probe per call costs them nothing.
#ifndef LLMROUTER_COMMON_GRPC_TUNING_H_
#define LLMROUTER_COMMON_GRPC_TUNING_H_

#include <grpcpp/server_builder.h>
#include <grpcpp/support/channel_arguments.h>

namespace llmrouter {

// Inside a cluster round trips are short, so a fixed, generous flow-control window replaces
// gRPC's bandwidth-delay probe, whose pings (and window updates) otherwise follow almost every
// small message: on the routing path they cost a write and a wake-up on both sides per request.
inline constexpr int kGrpcLookaheadBytes = 4 << 20;

inline void ApplyGrpcTuning(grpc::ChannelArguments& args) {
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kGrpcLookaheadBytes);
}

inline void ApplyGrpcTuning(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kGrpcLookaheadBytes);
}

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_GRPC_TUNING_H_
