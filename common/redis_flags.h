// The --redis and --redis_password_file flags, which gateway and decision share: the Redis that
// holds what every replica of the service must agree on (rate limit counts, the spend ledger).
#ifndef LLMROUTER_COMMON_REDIS_FLAGS_H_
#define LLMROUTER_COMMON_REDIS_FLAGS_H_

#include <optional>

#include "absl/status/statusor.h"
#include "common/redis_connection.h"

namespace llmrouter {

// The Redis the flags name, with its password read; nullopt when --redis is empty.
absl::StatusOr<std::optional<RedisOptions>> RedisFromFlags();

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_REDIS_FLAGS_H_
