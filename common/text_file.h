// Reading whole configuration files: bundles, endpoint lists, health settings, secrets.
#ifndef LLMROUTER_COMMON_TEXT_FILE_H_
#define LLMROUTER_COMMON_TEXT_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace llmrouter {

// The whole file. NotFound ("cannot read PATH: reason") when it cannot be read.
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

// A secret such as a token: the file's content without surrounding whitespace. NotFound when
// unreadable, InvalidArgument when empty.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_TEXT_FILE_H_
