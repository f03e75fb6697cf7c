// How long a listener waits after a failed accept. Out of file descriptors, accept fails at once
// for as long as the shortage lasts: retrying at once spins a core and floods the log (issue 11,
// finding 7), while waiting a little lets connections close and descriptors come back.
#ifndef LLMROUTER_COMMON_ACCEPT_BACKOFF_H_
#define LLMROUTER_COMMON_ACCEPT_BACKOFF_H_

#include <algorithm>
#include <chrono>

namespace llmrouter {

// 1 ms after the first failure, doubling with each failure in a row up to 1 s; a success starts
// again at 1 ms. Not thread-safe: one per accept loop.
class AcceptBackoff {
 public:
  static constexpr std::chrono::milliseconds kFirst{1};
  static constexpr std::chrono::milliseconds kMax{1000};

  // The wait before the next accept, after a failed one.
  std::chrono::milliseconds Failed() {
    const std::chrono::milliseconds wait = next_;
    next_ = std::min(next_ * 2, kMax);
    return wait;
  }
  void Succeeded() { next_ = kFirst; }

 private:
  std::chrono::milliseconds next_ = kFirst;
};

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_ACCEPT_BACKOFF_H_
