#include "services/decision/inventory_watcher.h"

#include <algorithm>

#include "common/grpc_tuning.h"
#include "common/logging.h"
#include "common/tls_credentials.h"

namespace llmrouter::decision {

InventoryWatcher::InventoryWatcher(InventoryWatcherOptions options, OnView on_view,
                                   OnConnection on_connection, const Clock& clock)
    : options_(std::move(options)),
      on_view_(std::move(on_view)),
      on_connection_(std::move(on_connection)),
      clock_(clock) {
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  // Reconnect quickly after an inventory restart; the default back-off reaches minutes.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  ApplyGrpcTuning(args);
  auto channel =
      grpc::CreateCustomChannel(options_.target, llmrouter::ChannelCredentialsFromFlags(), args);
  stub_ = llmrouter::v1::InventoryService::NewStub(channel);
}

InventoryWatcher::~InventoryWatcher() { Stop(); }

void InventoryWatcher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void InventoryWatcher::Stop() {
  if (!thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_.store(true);
    if (active_) active_->TryCancel();
    wake_.SignalAll();
  }
  thread_.join();
}

void InventoryWatcher::Run() {
  absl::Duration backoff = options_.initial_backoff;
  while (!stopping_.load()) {
    grpc::ClientContext ctx;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_.load()) break;
      active_ = &ctx;
    }
    llmrouter::v1::WatchInventoryRequest req;
    req.set_subscriber(options_.subscriber);
    std::unique_ptr<grpc::ClientReader<llmrouter::v1::WatchInventoryResponse>> reader =
        stub_->WatchInventory(&ctx, req);
    llmrouter::v1::WatchInventoryResponse resp;
    std::shared_ptr<const InventoryView> last;  // hands its round-robin cursors on
    bool connected = false;
    while (reader->Read(&resp)) {
      if (!connected) {
        connected = true;
        backoff = options_.initial_backoff;
        on_connection_(true);
        spdlog::info("inventory_connected target={}", options_.target);
      }
      auto view = std::make_shared<const InventoryView>(resp.snapshot(), clock_.Now(), last.get());
      last = view;
      on_view_(std::move(view));
    }
    grpc::Status status = reader->Finish();
    {
      absl::MutexLock lock(&mu_);
      active_ = nullptr;
    }
    if (connected) on_connection_(false);
    if (stopping_.load()) break;
    spdlog::warn("inventory_stream_lost target={} code={} error=\"{}\" retry_in_ms={}",
                 options_.target, static_cast<int>(status.error_code()), status.error_message(),
                 absl::ToInt64Milliseconds(backoff));
    absl::MutexLock lock(&mu_);
    wake_.WaitWithTimeout(&mu_, backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace llmrouter::decision
