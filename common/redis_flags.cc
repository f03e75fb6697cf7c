#include "common/redis_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, redis, "",
          "The Redis shared by every replica of this service (host:port, redis://host:port or "
          "redis://host:port/DB; no credentials: see --redis_password_file), for the state they must "
          "agree on (gateway: rate limit counts; decision: the spend ledger; inventory: "
          "registrations and drains). Empty: each replica "
          "keeps its own, in memory");
ABSL_FLAG(std::string, redis_password_file, "",
          "File holding Redis's password (e.g. a Secret); empty: no AUTH");

namespace llmrouter {

absl::StatusOr<std::optional<RedisOptions>> RedisFromFlags() {
  if (absl::GetFlag(FLAGS_redis).empty()) return std::nullopt;
  absl::StatusOr<RedisOptions> options =
      RedisOptionsFrom(absl::GetFlag(FLAGS_redis), absl::GetFlag(FLAGS_redis_password_file));
  if (!options.ok()) return options.status();
  return std::optional<RedisOptions>(*std::move(options));
}

}  // namespace llmrouter
