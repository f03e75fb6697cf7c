// Runs a function on its own thread at a fixed interval until stopped; stopping wakes the
// thread at once instead of waiting out the interval.
#ifndef LLMROUTER_COMMON_PERIODIC_TASK_H_
#define LLMROUTER_COMMON_PERIODIC_TASK_H_

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace llmrouter {

// Start and Stop from one owning thread; `fn` runs only on the task's thread.
class PeriodicTask {
 public:
  PeriodicTask(absl::Duration interval, std::function<void()> fn)
      : interval_(interval), fn_(std::move(fn)) {}
  ~PeriodicTask() { Stop(); }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  void Start() {
    thread_ = std::thread([this] {
      while (!stop_.WaitForNotificationWithTimeout(interval_)) fn_();
    });
  }
  // Waits for a run in progress to finish.
  void Stop() {
    if (!thread_.joinable()) return;
    if (!stop_.HasBeenNotified()) stop_.Notify();
    thread_.join();
  }

 private:
  const absl::Duration interval_;
  std::function<void()> fn_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_PERIODIC_TASK_H_
