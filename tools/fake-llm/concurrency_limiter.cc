#include "tools/fake-llm/concurrency_limiter.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace llmrouter {

namespace asio = boost::asio;

struct ConcurrencyLimiter::Waiter {
  explicit Waiter(const asio::any_io_executor& ex)
      : timer(ex, asio::steady_timer::time_point::max()) {}
  // Only touched on its own executor. Release() wakes it by moving its expiry into the past,
  // which also completes a wait that had not started yet.
  asio::steady_timer timer;
  bool granted = false;  // guarded by the limiter's mu_
};

asio::awaitable<ConcurrencyLimiter::Slot> ConcurrencyLimiter::Acquire() {
  auto executor = co_await asio::this_coro::executor;
  std::shared_ptr<Waiter> waiter;
  {
    absl::MutexLock lock(&mu_);
    if (running_ < limit_ && waiters_.empty()) {
      ++running_;
      co_return Slot(this);
    }
    waiter = std::make_shared<Waiter>(executor);
    waiters_.push_back(waiter);
  }
  // Runs when the coroutine is destroyed before it owns the slot (its io_context stopped).
  struct Abandon {
    ConcurrencyLimiter* limiter;
    Waiter* waiter;
    ~Abandon() {
      if (!limiter) return;
      bool pass_on = false;
      {
        absl::MutexLock lock(&limiter->mu_);
        if (waiter->granted) {
          pass_on = true;
        } else {
          auto& q = limiter->waiters_;
          q.erase(std::remove_if(q.begin(), q.end(),
                                 [this](const auto& w) { return w.get() == waiter; }),
                  q.end());
        }
      }
      if (pass_on) limiter->Release();
    }
  } abandon{this, waiter.get()};
  for (;;) {
    boost::system::error_code ec;
    co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    absl::MutexLock lock(&mu_);
    if (waiter->granted) break;
  }
  abandon.limiter = nullptr;
  co_return Slot(this);
}

void ConcurrencyLimiter::Release() {
  std::shared_ptr<Waiter> next;
  {
    absl::MutexLock lock(&mu_);
    if (waiters_.empty()) {
      --running_;
      return;
    }
    // The slot passes straight to the oldest waiter: running_ stays the same.
    next = std::move(waiters_.front());
    waiters_.pop_front();
    next->granted = true;
  }
  asio::post(next->timer.get_executor(),
             [next] { next->timer.expires_at(asio::steady_timer::time_point::min()); });
}

int ConcurrencyLimiter::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

int ConcurrencyLimiter::waiting() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(waiters_.size());
}

}  // namespace llmrouter
