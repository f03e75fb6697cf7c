#include "tests/support/loopback_server.h"

#include <string>

namespace llmrouter::testing {

LoopbackServer ServeOnLoopback(grpc::Service& service) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  LoopbackServer out;
  out.server = builder.BuildAndStart();
  if (out.server == nullptr || port == 0) return LoopbackServer{};
  out.channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  return out;
}

}  // namespace llmrouter::testing
