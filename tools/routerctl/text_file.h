// Reads the files routerctl is pointed at (bundles, prompts, request lists, tokens).
#ifndef LLMROUTER_TOOLS_ROUTERCTL_TEXT_FILE_H_
#define LLMROUTER_TOOLS_ROUTERCTL_TEXT_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace llmrouter::routerctl {

// The whole file; "-" reads standard input. NotFound (with the OS reason) when it cannot be
// read.
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

}  // namespace llmrouter::routerctl

#endif  // LLMROUTER_TOOLS_ROUTERCTL_TEXT_FILE_H_
