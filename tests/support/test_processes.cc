#include "tests/support/test_processes.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace llmrouter::testing {

std::unique_ptr<ServiceProcess> StartService(const std::string& dir, const std::string& name,
                                             const std::string& binary,
                                             std::vector<std::string> args) {
  auto p = ServiceProcess::Start(name, BuildPath(binary), std::move(args), dir);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? std::move(*p) : nullptr;
}

std::unique_ptr<ServiceProcess> StartFakeLlm(const std::string& dir, const std::string& name,
                                             const std::string& model,
                                             std::vector<std::string> extra) {
  std::vector<std::string> args = {"--port=0", absl::StrCat("--model=", model),
                                   absl::StrCat("--name=", name), "--completion_tokens=8"};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartService(dir, name, "tools/fake-llm/fake-llm", std::move(args));
}

std::unique_ptr<ServiceProcess> StartInventory(const std::string& dir,
                                               const std::string& endpoints_file,
                                               std::vector<std::string> extra) {
  std::vector<std::string> args = {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1",
                                   "--endpoints_file=" + endpoints_file};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartService(dir, "inventory", "services/inventory/inventory", std::move(args));
}

std::unique_ptr<ServiceProcess> StartDecision(const std::string& dir,
                                              const std::string& policy_file,
                                              const ServiceProcess& inventory,
                                              std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "--grpc_port=0",
      "--metrics_port=0",
      "--host=127.0.0.1",
      "--db=" + dir + "/decision.db",
      "--policy_file=" + policy_file,
      absl::StrCat("--inventory_target=127.0.0.1:", inventory.port("grpc_port")),
      "--route_link_port=0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartService(dir, "decision", "services/decision/decision", std::move(args));
}

std::unique_ptr<ServiceProcess> StartGateway(const std::string& dir, const ServiceProcess& decision,
                                             std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
      absl::StrCat("--decision_target=127.0.0.1:", decision.port("grpc_port"))};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartService(dir, "gateway", "services/gateway/gateway", std::move(args));
}

std::unique_ptr<ServiceProcess> StartGatewayWithoutDecision(const std::string& dir,
                                                            std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "--http_port=0",
      "--metrics_port=0",
      "--host=127.0.0.1",
      absl::StrCat("--decision_target=127.0.0.1:", ClosedLoopbackPort()),
      "--decision_timeout_ms=100",
      "--inventory_target="};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartService(dir, "gateway", "services/gateway/gateway", std::move(args));
}

}  // namespace llmrouter::testing
