// Admission control that makes fake-llm look like a batching engine: at most `limit` requests
// run at once (vllm:num_requests_running), the rest wait in arrival order
// (vllm:num_requests_waiting).
#ifndef LLMROUTER_TOOLS_FAKE_LLM_CONCURRENCY_LIMITER_H_
#define LLMROUTER_TOOLS_FAKE_LLM_CONCURRENCY_LIMITER_H_

// Boost 1.74's coroutine headers need <utility> first with g++ 12.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/awaitable.hpp>
#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace llmrouter {

// Thread-safe. Acquire() may be awaited from coroutines on different io_contexts; a waiter is
// woken on its own executor. A waiter destroyed while waiting (its io_context stopped) leaves
// the queue, and a slot granted to it is passed on.
class ConcurrencyLimiter {
 public:
  explicit ConcurrencyLimiter(int limit) : limit_(limit) {}
  ConcurrencyLimiter(const ConcurrencyLimiter&) = delete;
  ConcurrencyLimiter& operator=(const ConcurrencyLimiter&) = delete;

  // Holds one running slot until destroyed.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept : limiter_(std::exchange(other.limiter_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        if (limiter_) limiter_->Release();
        limiter_ = std::exchange(other.limiter_, nullptr);
      }
      return *this;
    }
    ~Slot() {
      if (limiter_) limiter_->Release();
    }

   private:
    friend class ConcurrencyLimiter;
    explicit Slot(ConcurrencyLimiter* limiter) : limiter_(limiter) {}
    ConcurrencyLimiter* limiter_ = nullptr;
  };

  // Completes at once when a slot is free and nobody waits, else when one is handed over.
  boost::asio::awaitable<Slot> Acquire();

  int running() const;
  int waiting() const;
  int limit() const { return limit_; }

 private:
  struct Waiter;
  void Release();

  const int limit_;
  mutable absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::shared_ptr<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace llmrouter

#endif  // LLMROUTER_TOOLS_FAKE_LLM_CONCURRENCY_LIMITER_H_
