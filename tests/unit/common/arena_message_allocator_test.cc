// ArenaMessageAllocator hands out arena-backed request and response messages per call.
#include "common/arena_message_allocator.h"

#include <gtest/gtest.h>

#include "llmrouter/v1/inventory.pb.h"

namespace llmrouter {
namespace {

TEST(ArenaMessageAllocatorTest, EachCallGetsMessagesOnAnArenaOfItsOwn) {
  ArenaMessageAllocator<v1::ReportOutcomesRequest, v1::ReportOutcomesResponse> allocator(1024);
  auto* first = allocator.AllocateMessages();
  auto* second = allocator.AllocateMessages();
  ASSERT_NE(first->request()->GetArena(), nullptr);
  EXPECT_EQ(first->request()->GetArena(), first->response()->GetArena());
  EXPECT_NE(first->request()->GetArena(), second->request()->GetArena());
  // A parsed batch lives on the arena and goes with it.
  v1::ReportOutcomesRequest batch;
  for (int i = 0; i < 100; ++i)
    batch.add_outcomes()->set_endpoint_id("an-endpoint-id-longer-than-sso");
  ASSERT_TRUE(first->request()->ParseFromString(batch.SerializeAsString()));
  EXPECT_EQ(first->request()->outcomes_size(), 100);
  first->Release();
  second->Release();
}

}  // namespace
}  // namespace llmrouter
