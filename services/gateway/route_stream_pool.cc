#include "services/gateway/route_stream_pool.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <functional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/logging.h"

namespace llmrouter::gateway {

namespace {

absl::Status ResultStatus(const v1::RouteResult& result) {
  const int code = result.status_code();
  if (code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::UnknownError(
        absl::StrCat("decision answered with status code ", code, ": ", result.status_message()));
  }
  return absl::Status(static_cast<absl::StatusCode>(code), result.status_message());
}

}  // namespace

// One RouteStream call. Calls that arrive while a message is being written wait in `next_` and
// leave together in the following message. The reactor owns itself until OnDone, so gRPC may
// finish it after the pool has let go of it.
class RouteStreamPool::Stream final
    : public grpc::ClientBidiReactor<v1::RouteStreamRequest, v1::RouteStreamResponse> {
 public:
  static std::shared_ptr<Stream> Open(v1::DecisionService::Stub& stub,
                                      std::chrono::milliseconds max_age,
                                      std::shared_ptr<std::atomic<int>> live) {
    std::shared_ptr<Stream> stream(new Stream(max_age, std::move(live)));
    stream->self_ = stream;
    stream->live_->fetch_add(1, std::memory_order_relaxed);
    stub.async()->RouteStream(&stream->context_, stream.get());
    // Writes start from outside reactions (Send), so a hold keeps the call alive for them.
    stream->AddHold();
    stream->StartRead(&stream->in_);
    stream->StartCall();
    return stream;
  }

  bool accepting() const { return accepting_.load(std::memory_order_relaxed); }

  // Queues the call and takes `request` and `done`, or returns false and leaves both alone when
  // the stream takes no more calls (broken, closing, or past its age).
  bool Send(std::uint64_t id, v1::RouteRequestRequest& request,
            DecisionClient::RouteCallback& done) {
    absl::MutexLock lock(&mu_);
    if (!accepting_.load(std::memory_order_relaxed)) return false;
    if (std::chrono::steady_clock::now() - opened_ > max_age_) {
      StopAccepting(/*half_close=*/true);
      return false;
    }
    v1::RouteCall* call = next_.add_calls();
    call->set_id(id);
    call->mutable_request()->Swap(&request);
    pending_.emplace(id, std::move(done));
    if (!writing_) {
      writing_ = true;
      out_.Swap(&next_);
      StartWrite(&out_);  // reactions never run inline, so starting under mu_ is safe
    }
    return true;
  }

  // Completes the call with DEADLINE_EXCEEDED if it is still unanswered; a late answer is
  // dropped.
  void Expire(std::uint64_t id) {
    DecisionClient::RouteCallback done;
    {
      absl::MutexLock lock(&mu_);
      auto it = pending_.find(id);
      if (it == pending_.end()) return;
      done = std::move(it->second);
      pending_.erase(it);
    }
    done(absl::DeadlineExceededError("decision did not answer within the deadline"));
  }

  // Takes no new calls; the calls in flight are still answered, then the stream ends.
  void Close() {
    absl::MutexLock lock(&mu_);
    StopAccepting(/*half_close=*/true);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    out_.Clear();
    if (ok && next_.calls_size() > 0) {
      out_.Swap(&next_);
      StartWrite(&out_);
      return;
    }
    writing_ = false;
    if (!ok) {
      StopAccepting(/*half_close=*/false);
    } else if (!accepting_.load(std::memory_order_relaxed) && !writes_done_) {
      writes_done_ = true;
      StartWritesDone();
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::flat_hash_map<std::uint64_t, DecisionClient::RouteCallback> orphans;
      {
        absl::MutexLock lock(&mu_);
        StopAccepting(/*half_close=*/false);
        orphans.swap(pending_);
      }
      for (auto& [id, done] : orphans) {
        done(absl::UnavailableError("the decision stream carrying the call ended"));
      }
      return;
    }
    v1::RouteStreamResponse batch;
    batch.Swap(&in_);
    StartRead(&in_);
    std::vector<std::pair<DecisionClient::RouteCallback, v1::RouteResult*>> answered;
    answered.reserve(static_cast<std::size_t>(batch.results_size()));
    {
      absl::MutexLock lock(&mu_);
      for (v1::RouteResult& result : *batch.mutable_results()) {
        auto it = pending_.find(result.id());
        if (it == pending_.end()) continue;  // already expired
        answered.emplace_back(std::move(it->second), &result);
        pending_.erase(it);
      }
    }
    for (auto& [done, result] : answered) {
      if (result->status_code() == 0) {
        done(std::move(*result->mutable_response()));
      } else {
        done(ResultStatus(*result));
      }
    }
  }

  void OnDone(const grpc::Status& status) override {
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      spdlog::debug("decision_stream_ended code={} error=\"{}\"",
                    static_cast<int>(status.error_code()), status.error_message());
    }
    live_->fetch_sub(1, std::memory_order_relaxed);
    std::shared_ptr<Stream> last_reference = std::move(self_);
  }

 private:
  Stream(std::chrono::milliseconds max_age, std::shared_ptr<std::atomic<int>> live)
      : max_age_(max_age), live_(std::move(live)) {}

  // After this no Send starts an operation, so the hold that covered them goes.
  void StopAccepting(bool half_close) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!accepting_.load(std::memory_order_relaxed)) return;
    accepting_.store(false, std::memory_order_relaxed);
    if (half_close && !writing_) {
      writes_done_ = true;
      StartWritesDone();
    }
    RemoveHold();
  }

  const std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
  const std::chrono::milliseconds max_age_;
  const std::shared_ptr<std::atomic<int>> live_;
  std::shared_ptr<Stream> self_;  // set by Open, released by OnDone
  grpc::ClientContext context_;
  v1::RouteStreamResponse in_;         // only the read reactions touch it
  std::atomic<bool> accepting_{true};  // written under mu_
  absl::Mutex mu_;
  absl::flat_hash_map<std::uint64_t, DecisionClient::RouteCallback> pending_ ABSL_GUARDED_BY(mu_);
  v1::RouteStreamRequest out_ ABSL_GUARDED_BY(mu_);   // being written
  v1::RouteStreamRequest next_ ABSL_GUARDED_BY(mu_);  // waiting for out_
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_done_ ABSL_GUARDED_BY(mu_) = false;
};

RouteStreamPool::RouteStreamPool(std::shared_ptr<grpc::Channel> channel,
                                 RouteStreamPoolOptions options)
    : channel_(std::move(channel)),
      stub_(v1::DecisionService::NewStub(channel_)),
      options_(options) {
  const int streams = std::max(1, options_.streams);
  for (int i = 0; i < streams; ++i) slots_.push_back(std::make_unique<Slot>());
  expire_thread_ = std::thread([this] { ExpireLoop(); });
}

RouteStreamPool::~RouteStreamPool() {
  {
    absl::MutexLock lock(&timeouts_mu_);
    stopping_ = true;
    timeouts_cv_.Signal();
  }
  expire_thread_.join();
  for (const std::unique_ptr<Slot>& slot : slots_) {
    absl::MutexLock lock(&slot->mu);
    if (slot->stream) slot->stream->Close();
    slot->stream.reset();
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(2);
  while (live_streams_->load(std::memory_order_relaxed) > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
}

std::shared_ptr<RouteStreamPool::Stream> RouteStreamPool::StreamFor(Slot& slot) {
  absl::MutexLock lock(&slot.mu);
  if (!slot.stream || !slot.stream->accepting()) {
    if (slot.stream) slot.stream->Close();
    slot.stream = Stream::Open(*stub_, options_.max_age, live_streams_);
  }
  return slot.stream;
}

void RouteStreamPool::Route(v1::RouteRequestRequest request, DecisionClient::Deadline deadline,
                            DecisionClient::RouteCallback done) {
  const std::uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  Slot& slot = *slots_[next_slot_.fetch_add(1, std::memory_order_relaxed) % slots_.size()];
  std::shared_ptr<Stream> stream = StreamFor(slot);
  // A stream that stops taking calls between the two steps (age, break) is replaced once.
  if (!stream->Send(id, request, done)) {
    stream = StreamFor(slot);
    if (!stream->Send(id, request, done)) {
      done(absl::UnavailableError("no decision stream takes calls"));
      return;
    }
  }
  AddTimeout({deadline, id, stream});
}

void RouteStreamPool::AddTimeout(Timeout timeout) {
  absl::MutexLock lock(&timeouts_mu_);
  const bool earliest = timeouts_.empty() || timeout.at < timeouts_.front().at;
  timeouts_.push_back(std::move(timeout));
  std::push_heap(timeouts_.begin(), timeouts_.end(), std::greater<>());
  if (earliest) timeouts_cv_.Signal();
}

void RouteStreamPool::ExpireLoop() {
  std::vector<Timeout> due;
  absl::MutexLock lock(&timeouts_mu_);
  while (!stopping_) {
    const auto now = std::chrono::system_clock::now();
    if (timeouts_.empty()) {
      timeouts_cv_.Wait(&timeouts_mu_);
      continue;
    }
    if (timeouts_.front().at > now) {
      // Sleeping at least the granularity lets one wake-up sweep many expiries under load.
      const auto wake = std::max(timeouts_.front().at, now + options_.deadline_granularity);
      timeouts_cv_.WaitWithDeadline(&timeouts_mu_, absl::FromChrono(wake));
      continue;
    }
    while (!timeouts_.empty() && timeouts_.front().at <= now) {
      std::pop_heap(timeouts_.begin(), timeouts_.end(), std::greater<>());
      due.push_back(std::move(timeouts_.back()));
      timeouts_.pop_back();
    }
    timeouts_mu_.Unlock();
    for (Timeout& timeout : due) {
      if (std::shared_ptr<Stream> stream = timeout.stream.lock()) stream->Expire(timeout.id);
    }
    due.clear();
    timeouts_mu_.Lock();
  }
}

}  // namespace llmrouter::gateway
