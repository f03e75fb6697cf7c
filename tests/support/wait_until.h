// Waiting in tests: on a condition, with a deadline, never a fixed sleep that stands for "by
// now it has surely happened" (which fails on a loaded machine or under the sanitizers).
#ifndef LLMROUTER_TESTS_SUPPORT_WAIT_UNTIL_H_
#define LLMROUTER_TESTS_SUPPORT_WAIT_UNTIL_H_

#include <algorithm>
#include <chrono>
#include <thread>

namespace llmrouter::testing {

// Evaluates `done` until it returns true or `timeout` has passed, pausing between tries (1 ms,
// doubling up to 50 ms); returns whether it held. A generous timeout costs nothing when things
// go well.
template <typename Predicate>
bool WaitUntil(Predicate done, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::chrono::milliseconds pause(1);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace llmrouter::testing

#endif  // LLMROUTER_TESTS_SUPPORT_WAIT_UNTIL_H_
