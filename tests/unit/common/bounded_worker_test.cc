#include "common/bounded_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "absl/synchronization/notification.h"

namespace llmrouter {
namespace {

TEST(BoundedWorkerTest, RunsJobsInOrderRefusesBeyondItsQueueAndRunsWhatIsQueuedAtTheEnd) {
  std::vector<int> ran;  // written by the worker's thread only
  absl::Notification release, started;
  {
    BoundedWorker worker(2);
    ASSERT_TRUE(worker.Post([&] {
      started.Notify();
      release.WaitForNotification();
      ran.push_back(0);
    }));
    started.WaitForNotification();  // the first is running: two more fit in the queue
    EXPECT_TRUE(worker.Post([&] { ran.push_back(1); }));
    EXPECT_TRUE(worker.Post([&] { ran.push_back(2); }));
    EXPECT_FALSE(worker.Post([&] { ran.push_back(3); })) << "the queue is full";
    release.Notify();
  }  // the destructor runs what was queued
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2}));
}

}  // namespace
}  // namespace llmrouter
