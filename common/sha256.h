// Hex SHA-256 digests: how bundles, classifier models and API keys are named by content.
#ifndef LLMROUTER_COMMON_SHA256_H_
#define LLMROUTER_COMMON_SHA256_H_

#include <string>
#include <string_view>

namespace llmrouter {

// Lower-case hex SHA-256 of `bytes` (64 characters).
std::string Sha256Hex(std::string_view bytes);

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_SHA256_H_
