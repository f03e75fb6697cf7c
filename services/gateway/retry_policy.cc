#include "services/gateway/retry_policy.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace llmrouter::gateway {

RetryBudget::Retry RetryBudget::TryRetry() {
  const int allowed = std::max(options_.min_retry_concurrency,
                               static_cast<int>(options_.budget_ratio * requests_.load()));
  int current = retries_.load();
  while (current < allowed) {
    if (retries_.compare_exchange_weak(current, current + 1)) return Retry(this);
  }
  return Retry();
}

std::chrono::milliseconds RetryBackoff(const RetryPolicyOptions& options, int n, uint64_t random) {
  if (n <= 0) return std::chrono::milliseconds(0);
  const int64_t base = options.base_backoff.count();
  const int64_t ceiling =
      std::min<int64_t>(options.max_backoff.count(), base << std::min(n - 1, 20));
  if (ceiling <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(
      static_cast<int64_t>(random % static_cast<uint64_t>(ceiling + 1)));
}

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value) {
  uint32_t seconds = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(value.data(), value.size())),
                        &seconds)) {
    return std::nullopt;
  }
  return std::chrono::seconds(seconds);
}

}  // namespace llmrouter::gateway
