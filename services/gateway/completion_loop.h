// One thread that drives a gRPC completion queue for the gateway's decision calls. With the
// callback API, gRPC hands each completion between two internal "nexting" threads that take turns
// polling; here the one thread that polls is the one that handles the completion, which halves
// the thread wake-ups per routing call (docs/benchmarks.md).
#ifndef LLMROUTER_SERVICES_GATEWAY_COMPLETION_LOOP_H_
#define LLMROUTER_SERVICES_GATEWAY_COMPLETION_LOOP_H_

#include <grpcpp/completion_queue.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace llmrouter::gateway {

// Start() and Stop() from one owning thread; everything else from any thread. Operations are
// started on cq() with a Tag as their tag; the loop calls the tag's Done(ok) on its thread.
class CompletionLoop {
 public:
  using Clock = std::chrono::system_clock;

  class Tag {
   public:
    virtual void Done(bool ok) = 0;

   protected:
    ~Tag() = default;
  };

  // `tick` runs on the loop's thread no later than each time it last returned (and after
  // WakeBy); it returns when it wants to run next (Clock::time_point::max(): only when woken).
  explicit CompletionLoop(std::function<Clock::time_point(Clock::time_point now)> tick);
  ~CompletionLoop();
  CompletionLoop(const CompletionLoop&) = delete;
  CompletionLoop& operator=(const CompletionLoop&) = delete;

  grpc::CompletionQueue* cq() { return &cq_; }

  void Start();
  // Makes `tick` run no later than `when` (plus the time to wake the thread). Does nothing once
  // Stop() has begun.
  void WakeBy(Clock::time_point when);
  // Cancels the wake-up alarms, shuts the queue down once every operation started on it has
  // completed, and joins. Stop only after every call on the queue has finished.
  void Stop();

  class WakeAlarm;  // a one-shot alarm that makes the loop look at the time (defined in the .cc)

 private:
  void Run();
  // Moves the next tick earlier (never later); true when it moved.
  bool LowerNextTick(Clock::time_point when);

  grpc::CompletionQueue cq_;
  std::function<Clock::time_point(Clock::time_point)> tick_;
  // When tick_ runs next, as nanoseconds since the clock's epoch.
  std::atomic<Clock::rep> next_tick_{Clock::time_point::max().time_since_epoch().count()};
  std::thread thread_;
  // Pending alarms, so that Stop() need not wait for them to fire.
  absl::Mutex alarms_mu_;
  absl::flat_hash_set<WakeAlarm*> alarms_ ABSL_GUARDED_BY(alarms_mu_);
  bool stopped_ ABSL_GUARDED_BY(alarms_mu_) = false;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_COMPLETION_LOOP_H_
