// A gRPC service served in the test's own process on a free loopback port, for unit tests of
// service implementations through a real stub.
#ifndef LLMROUTER_TESTS_SUPPORT_LOOPBACK_SERVER_H_
#define LLMROUTER_TESTS_SUPPORT_LOOPBACK_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>

namespace llmrouter::testing {

struct LoopbackServer {
  std::unique_ptr<grpc::Server> server;  // null when it could not start
  std::shared_ptr<grpc::Channel> channel;
};

// Serves `service` (which must outlive the server) without TLS.
LoopbackServer ServeOnLoopback(grpc::Service& service);

}  // namespace llmrouter::testing

#endif  // LLMROUTER_TESTS_SUPPORT_LOOPBACK_SERVER_H_
