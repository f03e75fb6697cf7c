// The project's binaries started the way integration tests use them, each on loopback with free
// ports. A binary that does not start fails the test (a gtest expectation) and gives null.
#ifndef LLMROUTER_TESTS_SUPPORT_TEST_PROCESSES_H_
#define LLMROUTER_TESTS_SUPPORT_TEST_PROCESSES_H_

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process_harness.h"

namespace llmrouter::testing {

// `binary` relative to the build tree, e.g. "services/gateway/gateway"; logs go to `dir`.
std::unique_ptr<ServiceProcess> StartService(const std::string& dir, const std::string& name,
                                             const std::string& binary,
                                             std::vector<std::string> args);

// A fake-llm serving `model` as backend `name`, answering 8 completion tokens, plus `extra` flags.
std::unique_ptr<ServiceProcess> StartFakeLlm(const std::string& dir, const std::string& name,
                                             const std::string& model,
                                             std::vector<std::string> extra = {});

// An inventory whose endpoints come from the file `endpoints_file`, plus `extra` flags.
std::unique_ptr<ServiceProcess> StartInventory(const std::string& dir,
                                               const std::string& endpoints_file,
                                               std::vector<std::string> extra = {});

// A decision with its own database in `dir`, the policy bundle `policy_file`, watching
// `inventory`, plus `extra` flags.
std::unique_ptr<ServiceProcess> StartDecision(const std::string& dir,
                                              const std::string& policy_file,
                                              const ServiceProcess& inventory,
                                              std::vector<std::string> extra = {});

// A gateway that routes through `decision` over gRPC, plus `extra` flags (e.g.
// "--inventory_target=" to report no outcomes).
std::unique_ptr<ServiceProcess> StartGateway(const std::string& dir, const ServiceProcess& decision,
                                             std::vector<std::string> extra);

// A gateway whose decision target refuses connections (decision is down), so that it routes by
// its fail-safe table alone, and that reports no outcomes; plus `extra` flags.
std::unique_ptr<ServiceProcess> StartGatewayWithoutDecision(const std::string& dir,
                                                            std::vector<std::string> extra);

}  // namespace llmrouter::testing

#endif  // LLMROUTER_TESTS_SUPPORT_TEST_PROCESSES_H_
