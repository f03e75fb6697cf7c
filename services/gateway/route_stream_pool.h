// Routing decisions over a few long-lived RouteStream calls instead of one unary call each: a
// stream message carries every call that queued while the previous one was being written, so
// under load one write, one read and one wake-up serve many requests.
#ifndef LLMROUTER_SERVICES_GATEWAY_ROUTE_STREAM_POOL_H_
#define LLMROUTER_SERVICES_GATEWAY_ROUTE_STREAM_POOL_H_

#include <grpcpp/channel.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "llmrouter/v1/decision.grpc.pb.h"
#include "services/gateway/decision_client.h"

namespace llmrouter::gateway {

struct RouteStreamPoolOptions {
  // Streams kept open; calls rotate over them. With round_robin load balancing each stream may
  // land on a different decision replica, so keep at least as many as there are replicas.
  int streams = 4;
  // A stream older than this takes no new calls and is replaced (it finishes the calls it
  // carries), so that new decision replicas receive streams.
  std::chrono::milliseconds max_age{std::chrono::seconds(30)};
  // How late a deadline may fire: expired calls are swept at most this often.
  std::chrono::milliseconds deadline_granularity{1};
};

// A RouteStreamPool is safe for concurrent use. Every Route() completes exactly once: with the
// answer, with the status decision gave, with UNAVAILABLE when the stream carrying it broke, or
// with DEADLINE_EXCEEDED at its deadline (plus at most the granularity). Callbacks run on gRPC's
// threads or on the pool's deadline thread. The destructor half-closes every stream and waits
// briefly for them to end; destroy the pool only once every call has completed.
class RouteStreamPool {
 public:
  RouteStreamPool(std::shared_ptr<grpc::Channel> channel, RouteStreamPoolOptions options);
  ~RouteStreamPool();
  RouteStreamPool(const RouteStreamPool&) = delete;
  RouteStreamPool& operator=(const RouteStreamPool&) = delete;

  void Route(v1::RouteRequestRequest request, DecisionClient::Deadline deadline,
             DecisionClient::RouteCallback done);

  class Stream;  // one RouteStream call (defined in the .cc)

 private:
  struct Slot {
    absl::Mutex mu;
    std::shared_ptr<Stream> stream ABSL_GUARDED_BY(mu);
  };
  struct Timeout {
    DecisionClient::Deadline at;
    std::uint64_t id;
    std::weak_ptr<Stream> stream;
    bool operator>(const Timeout& other) const { return at > other.at; }
  };

  // The slot's stream if it still takes calls, else a new one in its place.
  std::shared_ptr<Stream> StreamFor(Slot& slot);
  void AddTimeout(Timeout timeout);
  void ExpireLoop();

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::DecisionService::Stub> stub_;
  const RouteStreamPoolOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::uint32_t> next_slot_{0};

  absl::Mutex timeouts_mu_;
  std::vector<Timeout> timeouts_ ABSL_GUARDED_BY(timeouts_mu_);  // min-heap on `at`
  absl::CondVar timeouts_cv_;
  bool stopping_ ABSL_GUARDED_BY(timeouts_mu_) = false;
  std::thread expire_thread_;

  // Streams whose call has not ended yet (OnDone not run), for the destructor to wait on.
  std::shared_ptr<std::atomic<int>> live_streams_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_ROUTE_STREAM_POOL_H_
