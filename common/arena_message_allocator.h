// A gRPC callback-API message allocator that parses each call's request into a protobuf Arena of
// its own: a batch of thousands of small messages (outcome reports) costs a few block
// allocations instead of several per message, and is freed at once when the call ends.
#ifndef LLMROUTER_COMMON_ARENA_MESSAGE_ALLOCATOR_H_
#define LLMROUTER_COMMON_ARENA_MESSAGE_ALLOCATOR_H_

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

#include <algorithm>
#include <cstddef>

namespace llmrouter {

// Stateless and safe for concurrent use; register it with the service's
// SetMessageAllocatorFor_<Method>() before the server starts, and keep it alive as long.
template <typename Request, typename Response>
class ArenaMessageAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  // `initial_block_bytes`: the arena's first block, sized for a typical request.
  explicit ArenaMessageAllocator(std::size_t initial_block_bytes = 64 << 10)
      : initial_block_bytes_(initial_block_bytes) {}

  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    return new Holder(initial_block_bytes_);
  }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    explicit Holder(std::size_t initial_block_bytes) : arena_(Options(initial_block_bytes)) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options(std::size_t initial_block_bytes) {
      google::protobuf::ArenaOptions options;
      options.start_block_size = initial_block_bytes;
      // Later blocks may grow past protobuf's 8 KiB default: a large batch takes a few blocks.
      options.max_block_size = std::max<std::size_t>(initial_block_bytes, 1 << 20);
      return options;
    }
    google::protobuf::Arena arena_;
  };

  const std::size_t initial_block_bytes_;
};

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_ARENA_MESSAGE_ALLOCATOR_H_
