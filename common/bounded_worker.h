// One thread that runs posted jobs in order, with a bounded queue: for work that may block
// (a store that can hang up to its timeouts) and must not run on a thread others share, such
// as a gRPC callback thread.
#ifndef LLMROUTER_COMMON_BOUNDED_WORKER_H_
#define LLMROUTER_COMMON_BOUNDED_WORKER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace llmrouter {

// Safe for concurrent use. The destructor runs the jobs already queued, then joins.
class BoundedWorker {
 public:
  explicit BoundedWorker(std::size_t max_queued) : max_queued_(max_queued) {
    thread_ = std::thread([this] { Run(); });
  }
  ~BoundedWorker() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }
  BoundedWorker(const BoundedWorker&) = delete;
  BoundedWorker& operator=(const BoundedWorker&) = delete;

  // Queues `job`; false (and `job` dropped, not run) when max_queued jobs are waiting already,
  // or once the destructor has begun.
  bool Post(std::function<void()> job) {
    absl::MutexLock lock(&mu_);
    if (stopping_ || jobs_.size() >= max_queued_) return false;
    jobs_.push_back(std::move(job));
    return true;
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> job;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](BoundedWorker* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
              return w->stopping_ || !w->jobs_.empty();
            },
            this));
        if (jobs_.empty()) return;  // stopping, and nothing left
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  const std::size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_BOUNDED_WORKER_H_
