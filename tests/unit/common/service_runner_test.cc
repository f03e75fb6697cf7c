// ServiceRunner's health reports and the shutdown signal waits.
#include "common/service_runner.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <future>

#include "absl/strings/str_cat.h"

namespace llmrouter {
namespace {

// The overall status from grpc.health.v1.Health/Check, called without the generated stubs:
// the request is an empty message and the answer's field 1 is the status (1 SERVING,
// 2 NOT_SERVING); -1 when the call fails.
int OverallHealth(int port) {
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  if (!done.get_future().get().ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : -1;
}

TEST(ServiceRunnerTest, ReportNotServingTurnsTheHealthStatusOffWhileTheServerRuns) {
  ServiceOptions options;
  options.name = "test";
  options.host = "127.0.0.1";
  ServiceRunner runner(options);
  ASSERT_TRUE(runner.StartGrpc({}, {"llmrouter.v1.Test"}).ok());
  EXPECT_EQ(OverallHealth(runner.grpc_port()), 1);
  runner.ReportNotServing();
  EXPECT_EQ(OverallHealth(runner.grpc_port()), 2);
}

TEST(ServiceRunnerTest, ReportNotServingWithoutAGrpcServerDoesNothing) {
  ServiceRunner runner(ServiceOptions{});
  runner.ReportNotServing();
  EXPECT_EQ(runner.grpc_server(), nullptr);
}

TEST(ServiceRunnerTest, TimedSignalWaitReturnsTheSignalOrZero) {
  BlockShutdownSignals();  // in this thread: the signals below stay pending for it
  EXPECT_EQ(WaitForShutdownSignal(std::chrono::milliseconds(20)), 0);
  pthread_kill(pthread_self(), SIGINT);
  EXPECT_EQ(WaitForShutdownSignal(std::chrono::seconds(10)), SIGINT);
  pthread_kill(pthread_self(), SIGTERM);
  EXPECT_EQ(WaitForShutdownSignal(), SIGTERM);
}

}  // namespace
}  // namespace llmrouter
