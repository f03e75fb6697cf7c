// Keeps an event that can repeat once per request (or per failed accept) from flooding the log:
// it is logged at most once per interval, with the number of occurrences left out since.
#ifndef LLMROUTER_COMMON_LOG_THROTTLE_H_
#define LLMROUTER_COMMON_LOG_THROTTLE_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace llmrouter {

// Thread-safe: any thread may call ShouldLog(); the one it answers true takes the count.
class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::steady_clock::duration interval = std::chrono::seconds(1))
      : interval_(interval.count()) {}

  // True for the first occurrence of each interval; the others are counted as left out.
  bool ShouldLog(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
    const int64_t t = now.time_since_epoch().count();
    int64_t next = next_.load(std::memory_order_relaxed);
    if (t >= next && next_.compare_exchange_strong(next, t + interval_)) return true;
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // Occurrences left out since the last call, and starts counting afresh.
  uint64_t TakeSuppressed() { return suppressed_.exchange(0, std::memory_order_relaxed); }

 private:
  const int64_t interval_;
  std::atomic<int64_t> next_{0};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_LOG_THROTTLE_H_
