// Conversion between absl::Status and grpc::Status, used only at RPC edges.
#ifndef LLMROUTER_COMMON_GRPC_STATUS_H_
#define LLMROUTER_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace llmrouter {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_GRPC_STATUS_H_
