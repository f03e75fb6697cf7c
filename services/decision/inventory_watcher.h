// Follows the inventory's WatchInventory stream and publishes each snapshot as an
// InventoryView; reconnects with capped exponential back-off when the stream drops.
#ifndef LLMROUTER_SERVICES_DECISION_INVENTORY_WATCHER_H_
#define LLMROUTER_SERVICES_DECISION_INVENTORY_WATCHER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "llmrouter/v1/inventory.grpc.pb.h"
#include "services/decision/inventory_view.h"

namespace llmrouter::decision {

struct InventoryWatcherOptions {
  std::string target;      // gRPC target, e.g. "dns:///inventory:50061"
  std::string subscriber;  // name reported to inventory
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

// Runs one background thread between Start() and Stop(). The callbacks run on that thread.
class InventoryWatcher {
 public:
  using OnView = std::function<void(std::shared_ptr<const InventoryView>)>;
  using OnConnection = std::function<void(bool connected)>;

  InventoryWatcher(InventoryWatcherOptions options, OnView on_view, OnConnection on_connection,
                   const Clock& clock = RealClock::Get());
  ~InventoryWatcher();

  void Start();
  // Cancels the stream and joins the thread.
  void Stop();

 private:
  void Run();

  InventoryWatcherOptions options_;
  OnView on_view_;
  OnConnection on_connection_;
  const Clock& clock_;
  std::unique_ptr<llmrouter::v1::InventoryService::Stub> stub_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::CondVar wake_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_INVENTORY_WATCHER_H_
