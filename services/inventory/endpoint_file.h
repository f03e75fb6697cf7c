// Reads static endpoints from a YAML file:
//   endpoints:
//     - model: llama-3.1-8b-instruct
//       address: 127.0.0.1:8001
//       region: eu-west-1
//       pool: dedicated
//       labels: {gpu: a100}
#ifndef LLMROUTER_SERVICES_INVENTORY_ENDPOINT_FILE_H_
#define LLMROUTER_SERVICES_INVENTORY_ENDPOINT_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "llmrouter/v1/inventory.pb.h"

namespace llmrouter::inventory {

// The whole file: static endpoints, and DNS discovery targets
//   discovery:
//     - service: vllm-llama.serving.svc.cluster.local:8000   # resolved periodically
//       model: llama-3.1-8b-instruct                          # + any endpoint field but address
struct EndpointsFile {
  std::vector<llmrouter::v1::Endpoint> endpoints;
  // Templates whose address is "<dns name>:<port>".
  std::vector<llmrouter::v1::Endpoint> discovery;
};

absl::StatusOr<EndpointsFile> ParseEndpointsFileYaml(const std::string& text);
absl::StatusOr<EndpointsFile> LoadEndpointsFileWithDiscovery(const std::string& path);

// Parses the YAML text. InvalidArgument lists every problem with its location
// ("endpoints[2].weight: must be a non-negative integer").
absl::StatusOr<std::vector<llmrouter::v1::Endpoint>> ParseEndpointsYaml(const std::string& text);
// Reads and parses a file; NotFound when it cannot be read.
absl::StatusOr<std::vector<llmrouter::v1::Endpoint>> LoadEndpointsFile(const std::string& path);

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_ENDPOINT_FILE_H_
