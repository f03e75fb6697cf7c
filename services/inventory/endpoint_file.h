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

// Parses the YAML text. InvalidArgument lists every problem with its location
// ("endpoints[2].weight: must be a non-negative integer").
absl::StatusOr<std::vector<llmrouter::v1::Endpoint>> ParseEndpointsYaml(const std::string& text);
// Reads and parses a file; NotFound when it cannot be read.
absl::StatusOr<std::vector<llmrouter::v1::Endpoint>> LoadEndpointsFile(const std::string& path);

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_ENDPOINT_FILE_H_
