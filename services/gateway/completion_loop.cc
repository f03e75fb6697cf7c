#include "services/gateway/completion_loop.h"

#include <grpcpp/alarm.h>

#include <utility>

namespace llmrouter::gateway {

// Its only job is to make AsyncNext return; it frees itself when it fires or is cancelled.
class CompletionLoop::WakeAlarm final : public CompletionLoop::Tag {
 public:
  // Call with the loop's alarms_mu_ held.
  WakeAlarm(CompletionLoop& loop, Clock::time_point when) : loop_(loop) {
    loop_.alarms_.insert(this);
    alarm_.Set(&loop_.cq_, when, this);
  }
  void Cancel() { alarm_.Cancel(); }
  void Done(bool /*ok*/) override {
    {
      absl::MutexLock lock(&loop_.alarms_mu_);
      loop_.alarms_.erase(this);
    }
    delete this;
  }

 private:
  ~WakeAlarm() = default;
  CompletionLoop& loop_;
  grpc::Alarm alarm_;
};

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
  if (!LowerNextTick(when)) return;
  absl::MutexLock lock(&alarms_mu_);
  if (!stopped_) new WakeAlarm(*this, when);
}

void CompletionLoop::Stop() {
  if (!thread_.joinable()) return;
  {
    // A cancelled alarm completes at once (its Done frees it); the queue then drains.
    absl::MutexLock lock(&alarms_mu_);
    stopped_ = true;
    for (WakeAlarm* alarm : alarms_) alarm->Cancel();
  }
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
