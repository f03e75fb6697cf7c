// When, and how soon, the gateway moves on to the next target of a fallback plan. Retrying at
// once, for every request, multiplies the load on the backends that are left exactly when they
// are weakest; like Envoy, the gateway spaces attempts with a jittered exponential back-off,
// honours a backend's Retry-After for that backend, and keeps retries within a budget: a share
// of the requests in flight.
#ifndef LLMROUTER_SERVICES_GATEWAY_RETRY_POLICY_H_
#define LLMROUTER_SERVICES_GATEWAY_RETRY_POLICY_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace llmrouter::gateway {

struct RetryPolicyOptions {
  // Back-off before retry n (n = 1, 2, ...): uniformly random in [0, min(max, base * 2^(n-1))].
  std::chrono::milliseconds base_backoff{25};
  std::chrono::milliseconds max_backoff{250};
  // Retries in flight may be at most this share of the requests in flight, but always at least
  // min_retry_concurrency of them.
  double budget_ratio = 0.2;
  int min_retry_concurrency = 3;
  // A backend asking for a longer pause than this (Retry-After) is not tried again within the
  // request; shorter pauses are waited out before trying the same backend again.
  std::chrono::milliseconds max_retry_after{2000};
};

// The budget is shared by every worker thread; its counters are atomics. Everything else here
// is a pure function.
class RetryBudget {
 public:
  explicit RetryBudget(const RetryPolicyOptions& options) : options_(options) {}

  // Held for as long as a request is being served.
  class Request {
   public:
    explicit Request(RetryBudget& budget) : budget_(budget) { budget_.requests_.fetch_add(1); }
    ~Request() { budget_.requests_.fetch_sub(1); }
    Request(const Request&) = delete;
    Request& operator=(const Request&) = delete;

   private:
    RetryBudget& budget_;
  };

  // A retry in flight, released when destroyed; empty when the budget is spent.
  class Retry {
   public:
    Retry() = default;
    explicit Retry(RetryBudget* budget) : budget_(budget) {}
    Retry(Retry&& other) noexcept : budget_(std::exchange(other.budget_, nullptr)) {}
    Retry& operator=(Retry&& other) noexcept {
      Release();
      budget_ = std::exchange(other.budget_, nullptr);
      return *this;
    }
    ~Retry() { Release(); }
    explicit operator bool() const { return budget_ != nullptr; }

   private:
    void Release() {
      if (budget_ != nullptr) budget_->retries_.fetch_sub(1);
      budget_ = nullptr;
    }
    RetryBudget* budget_ = nullptr;
  };

  // A retry if the budget has room for one more.
  Retry TryRetry();

  const RetryPolicyOptions& options() const { return options_; }

 private:
  const RetryPolicyOptions options_;
  std::atomic<int> requests_{0};
  std::atomic<int> retries_{0};
};

// The pause before retry `n` (1 for the first retry), drawn with `random` (any 64 bits).
std::chrono::milliseconds RetryBackoff(const RetryPolicyOptions& options, int n, uint64_t random);

// A Retry-After header's delta-seconds (RFC 9110 also allows an HTTP date, which backends of
// this kind do not send; it is ignored). nullopt when absent or not a number.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value);

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_RETRY_POLICY_H_
