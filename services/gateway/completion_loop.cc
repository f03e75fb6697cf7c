#include "services/gateway/completion_loop.h"

#include <grpcpp/alarm.h>

#include <utility>

namespace llmrouter::gateway {

namespace {

// A one-shot alarm whose only job is to make AsyncNext return; it frees itself when it fires.
class WakeAlarm final : public CompletionLoop::Tag {
 public:
  WakeAlarm(grpc::CompletionQueue* cq, CompletionLoop::Clock::time_point when) {
    alarm_.Set(cq, when, this);
  }
  void Done(bool /*ok*/) override { delete this; }

 private:
  ~WakeAlarm() = default;
  grpc::Alarm alarm_;
};

}  // namespace

CompletionLoop::CompletionLoop(std::function<Clock::time_point(Clock::time_point now)> tick)
    : tick_(std::move(tick)) {}

CompletionLoop::~CompletionLoop() { Stop(); }

void CompletionLoop::Start() {
  thread_ = std::thread([this] { Run(); });
}

bool CompletionLoop::LowerNextTick(Clock::time_point when) {
  const Clock::rep wanted = when.time_since_epoch().count();
  Clock::rep current = next_tick_.load(std::memory_order_relaxed);
  while (wanted < current) {
    if (next_tick_.compare_exchange_weak(current, wanted, std::memory_order_relaxed)) return true;
  }
  return false;
}

void CompletionLoop::WakeBy(Clock::time_point when) {
  // The loop may be asleep until a later time: an alarm makes it look again.
  if (LowerNextTick(when)) new WakeAlarm(&cq_, when);
}

void CompletionLoop::Stop() {
  if (!thread_.joinable()) return;
  cq_.Shutdown();
  thread_.join();
}

void CompletionLoop::Run() {
  for (;;) {
    void* tag = nullptr;
    bool ok = false;
    const Clock::time_point wake{Clock::duration(next_tick_.load(std::memory_order_relaxed))};
    grpc::CompletionQueue::NextStatus status = cq_.AsyncNext(&tag, &ok, wake);
    if (status == grpc::CompletionQueue::SHUTDOWN) return;
    if (status == grpc::CompletionQueue::GOT_EVENT) static_cast<Tag*>(tag)->Done(ok);
    const Clock::time_point now = Clock::now();
    if (now.time_since_epoch().count() >= next_tick_.load(std::memory_order_relaxed)) {
      // Calls that arrive while tick_ runs lower next_tick_ through WakeBy; keep the earlier.
      next_tick_.store(Clock::time_point::max().time_since_epoch().count(),
                       std::memory_order_relaxed);
      LowerNextTick(tick_(now));
    }
  }
}

}  // namespace llmrouter::gateway
