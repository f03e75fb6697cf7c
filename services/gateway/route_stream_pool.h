// Routing decisions over a few long-lived RouteStream calls instead of one unary call each: a
// stream message carries every call that queued while the previous one was being written, so
// under load one write, one read and one wake-up serve many requests.
#ifndef LLMROUTER_SERVICES_GATEWAY_ROUTE_STREAM_POOL_H_
#define LLMROUTER_SERVICES_GATEWAY_ROUTE_STREAM_POOL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "llmrouter/v1/decision.grpc.pb.h"
#include "services/gateway/completion_loop.h"
#include "services/gateway/decision_client.h"

namespace llmrouter::gateway {

struct RouteStreamPoolOptions {
  // Streams kept open; calls rotate over them. With round_robin load balancing each stream may
  // land on a different decision replica, so keep at least as many as there are replicas.
  int streams = 4;
  // A stream older than this takes no new calls and is replaced (it finishes the calls it
  // carries), so that new decision replicas receive streams.
  std::chrono::milliseconds max_age{std::chrono::seconds(30)};
};

// A RouteStreamPool is safe for concurrent use. Every Route() completes exactly once: with the
// answer, with the status decision gave, with UNAVAILABLE when the stream carrying it broke, or
// with DEADLINE_EXCEEDED at its deadline. Callbacks run on the completion loop's thread. Call
// Shutdown() once every call has completed, then stop the loop, then destroy the pool.
class RouteStreamPool {
 public:
  using Clock = CompletionLoop::Clock;

  RouteStreamPool(v1::DecisionService::Stub& stub, CompletionLoop& loop,
                  RouteStreamPoolOptions options);
  ~RouteStreamPool();
  RouteStreamPool(const RouteStreamPool&) = delete;
  RouteStreamPool& operator=(const RouteStreamPool&) = delete;

  void Route(v1::RouteRequestRequest request, DecisionClient::Deadline deadline,
             DecisionClient::RouteCallback done);

  // Completes the calls whose deadline passed; returns when the next one is due. For the
  // completion loop's tick.
  Clock::time_point ExpireDue(Clock::time_point now);

  // Half-closes every stream and waits (up to a few seconds, then cancels) until each has ended.
  void Shutdown();

  class Stream;  // one RouteStream call (defined in the .cc)

 private:
  struct Slot {
    absl::Mutex mu;
    std::shared_ptr<Stream> stream ABSL_GUARDED_BY(mu);
  };

  // The slot's stream if it still takes calls, else a new one in its place.
  std::shared_ptr<Stream> StreamFor(Slot& slot);
  bool AllEnded();

  v1::DecisionService::Stub& stub_;
  CompletionLoop& loop_;
  const RouteStreamPoolOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::uint32_t> next_slot_{0};
  // Every stream until its call has ended with no operation outstanding.
  absl::Mutex streams_mu_;
  std::vector<std::shared_ptr<Stream>> streams_ ABSL_GUARDED_BY(streams_mu_);
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_ROUTE_STREAM_POOL_H_
