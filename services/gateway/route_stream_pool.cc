#include "services/gateway/route_stream_pool.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/logging.h"

namespace llmrouter::gateway {

// One RouteStream call on the completion loop. Calls that arrive while a message is being
// written wait in `next_` and leave together in the following message. One read is always
// outstanding; its completion answers the calls of a whole batch.
class RouteStreamPool::Stream {
 public:
  Stream(v1::DecisionService::Stub& stub, CompletionLoop& loop, std::chrono::milliseconds max_age)
      : max_age_(max_age) {
    stream_ = stub.PrepareAsyncRouteStream(&context_, loop.cq());
    absl::MutexLock lock(&mu_);
    // Starting the call uses the write slot: calls queue in next_ until it completes.
    writing_ = true;
    Started();
    stream_->StartCall(&write_op_);
    Started();
    stream_->Read(&in_, &read_op_);
  }

  bool accepting() const { return accepting_.load(std::memory_order_relaxed); }

  // True once the call has ended and no operation of it is outstanding: then nothing refers to
  // the stream any more.
  bool ended() {
    absl::MutexLock lock(&mu_);
    return finished_ && outstanding_ == 0;
  }

  // Queues the call and takes `request` and `done`, or returns false and leaves both alone when
  // the stream takes no more calls (broken, closing, or past its age).
  bool Send(std::uint64_t id, v1::RouteRequestRequest& request, Clock::time_point deadline,
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
    pending_.emplace(id, Pending{deadline, std::move(done)});
    if (!writing_) {
      writing_ = true;
      out_.Swap(&next_);
      Started();
      stream_->Write(out_, &write_op_);
    }
    return true;
  }

  // Completes the calls whose deadline passed (a late answer is dropped); returns the earliest
  // deadline still pending.
  Clock::time_point ExpireDue(Clock::time_point now) {
    std::vector<DecisionClient::RouteCallback> expired;
    Clock::time_point earliest = Clock::time_point::max();
    {
      absl::MutexLock lock(&mu_);
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.deadline <= now) {
          expired.push_back(std::move(it->second.done));
          pending_.erase(it++);
        } else {
          earliest = std::min(earliest, it->second.deadline);
          ++it;
        }
      }
    }
    for (DecisionClient::RouteCallback& done : expired) {
      done(absl::DeadlineExceededError("decision did not answer within the deadline"));
    }
    return earliest;
  }

  // Takes no new calls; the calls in flight are still answered, then the stream ends.
  void Close() {
    absl::MutexLock lock(&mu_);
    StopAccepting(/*half_close=*/true);
  }

  void Cancel() { context_.TryCancel(); }

 private:
  struct Pending {
    Clock::time_point deadline;
    DecisionClient::RouteCallback done;
  };

  // A completion-queue tag that calls one member function of the stream.
  template <void (Stream::*kFn)(bool)>
  class Op final : public CompletionLoop::Tag {
   public:
    explicit Op(Stream* stream) : stream_(stream) {}
    void Done(bool ok) override { (stream_->*kFn)(ok); }

   private:
    Stream* const stream_;
  };

  void Started() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { ++outstanding_; }
  void Completed() {
    absl::MutexLock lock(&mu_);
    --outstanding_;
  }

  // Also completes the start of the call.
  void OnWriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    --outstanding_;
    out_.Clear();
    if (broken_) {  // the read failed first: the calls left in next_ were answered UNAVAILABLE
      next_.Clear();
      writing_ = false;
      return;
    }
    if (!ok) broken_ = true;
    if (ok && next_.calls_size() > 0) {
      out_.Swap(&next_);
      Started();
      stream_->Write(out_, &write_op_);
      return;
    }
    writing_ = false;
    if (!ok) {
      StopAccepting(/*half_close=*/false);
    } else if (!accepting_.load(std::memory_order_relaxed) && !writes_done_) {
      writes_done_ = true;
      Started();
      stream_->WritesDone(&writes_done_op_);
    }
  }

  void OnWritesDone(bool /*ok*/) { Completed(); }

  void OnReadDone(bool ok) {
    if (!ok) {
      absl::flat_hash_map<std::uint64_t, Pending> orphans;
      {
        absl::MutexLock lock(&mu_);
        --outstanding_;
        StopAccepting(/*half_close=*/false);
        broken_ = true;
        orphans.swap(pending_);
        Started();
        stream_->Finish(&status_, &finish_op_);
      }
      for (auto& [id, pending] : orphans) {
        pending.done(absl::UnavailableError("the decision stream carrying the call ended"));
      }
      return;
    }
    v1::RouteStreamResponse batch;
    batch.Swap(&in_);
    std::vector<std::pair<DecisionClient::RouteCallback, v1::RouteResult*>> answered;
    answered.reserve(static_cast<std::size_t>(batch.results_size()));
    {
      absl::MutexLock lock(&mu_);
      stream_->Read(&in_, &read_op_);  // the read just completed is still counted
      for (v1::RouteResult& result : *batch.mutable_results()) {
        auto it = pending_.find(result.id());
        if (it == pending_.end()) continue;  // already expired
        answered.emplace_back(std::move(it->second.done), &result);
        pending_.erase(it);
      }
    }
    for (auto& [done, result] : answered) {
      if (result->status_code() == 0) {
        done(std::move(*result->mutable_response()));
      } else {
        done(RouteResultStatus(*result));
      }
    }
  }

  void OnFinished(bool /*ok*/) {
    if (!status_.ok() && status_.error_code() != grpc::StatusCode::CANCELLED) {
      spdlog::debug("decision_stream_ended code={} error=\"{}\"",
                    static_cast<int>(status_.error_code()), status_.error_message());
    }
    absl::MutexLock lock(&mu_);
    --outstanding_;
    finished_ = true;
  }

  // After this no Send starts a write; with `half_close` decision learns there are no more.
  void StopAccepting(bool half_close) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!accepting_.load(std::memory_order_relaxed)) return;
    accepting_.store(false, std::memory_order_relaxed);
    if (half_close && !writing_ && !writes_done_ && !broken_) {
      writes_done_ = true;
      Started();
      stream_->WritesDone(&writes_done_op_);
    }
  }

  const std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
  const std::chrono::milliseconds max_age_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::RouteStreamRequest, v1::RouteStreamResponse>>
      stream_;
  Op<&Stream::OnReadDone> read_op_{this};
  Op<&Stream::OnWriteDone> write_op_{this};
  Op<&Stream::OnWritesDone> writes_done_op_{this};
  Op<&Stream::OnFinished> finish_op_{this};
  v1::RouteStreamResponse in_;         // only the read completions touch it
  grpc::Status status_;                // set by Finish
  std::atomic<bool> accepting_{true};  // written under mu_
  absl::Mutex mu_;
  absl::flat_hash_map<std::uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  v1::RouteStreamRequest out_ ABSL_GUARDED_BY(mu_);   // being written
  v1::RouteStreamRequest next_ ABSL_GUARDED_BY(mu_);  // waiting for out_
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;  // a read or write failed: start nothing more
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;  // operations started and not yet completed
};

RouteStreamPool::RouteStreamPool(v1::DecisionService::Stub& stub, CompletionLoop& loop,
                                 RouteStreamPoolOptions options)
    : stub_(stub), loop_(loop), options_(options) {
  const int streams = std::max(1, options_.streams);
  for (int i = 0; i < streams; ++i) slots_.push_back(std::make_unique<Slot>());
}

RouteStreamPool::~RouteStreamPool() = default;

void RouteStreamPool::Shutdown() {
  for (const std::unique_ptr<Slot>& slot : slots_) {
    absl::MutexLock lock(&slot->mu);
    if (slot->stream) slot->stream->Close();
    slot->stream.reset();
  }
  // Half-closed streams end once decision has answered what they carry; past a grace period
  // they are cancelled, which always completes their operations. Return only when every stream
  // has ended: the completion queue is shut down next, and no operation may start after that.
  const absl::Time cancel_at = absl::Now() + absl::Seconds(2);
  bool cancelled = false;
  while (!AllEnded()) {
    if (!cancelled && absl::Now() >= cancel_at) {
      cancelled = true;
      spdlog::warn("decision_streams_cancelled reason=\"not ended 2 s after closing\"");
      absl::MutexLock lock(&streams_mu_);
      for (const std::shared_ptr<Stream>& stream : streams_) stream->Cancel();
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
}

bool RouteStreamPool::AllEnded() {
  absl::MutexLock lock(&streams_mu_);
  return std::all_of(streams_.begin(), streams_.end(),
                     [](const std::shared_ptr<Stream>& stream) { return stream->ended(); });
}

std::shared_ptr<RouteStreamPool::Stream> RouteStreamPool::StreamFor(Slot& slot) {
  absl::MutexLock lock(&slot.mu);
  if (!slot.stream || !slot.stream->accepting()) {
    if (slot.stream) slot.stream->Close();
    slot.stream = std::make_shared<Stream>(stub_, loop_, options_.max_age);
    absl::MutexLock streams_lock(&streams_mu_);
    streams_.push_back(slot.stream);
  }
  return slot.stream;
}

void RouteStreamPool::Route(v1::RouteRequestRequest request, DecisionClient::Deadline deadline,
                            DecisionClient::RouteCallback done) {
  const std::uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  Slot& slot = *slots_[next_slot_.fetch_add(1, std::memory_order_relaxed) % slots_.size()];
  // A stream that stops taking calls between the two steps (age, break) is replaced once.
  if (!StreamFor(slot)->Send(id, request, deadline, done) &&
      !StreamFor(slot)->Send(id, request, deadline, done)) {
    done(absl::UnavailableError("no decision stream takes calls"));
    return;
  }
  loop_.WakeBy(deadline);
}

RouteStreamPool::Clock::time_point RouteStreamPool::ExpireDue(Clock::time_point now) {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    absl::MutexLock lock(&streams_mu_);
    // Ended streams are dropped here: nothing else refers to them.
    streams_.erase(std::remove_if(streams_.begin(), streams_.end(),
                                  [](const std::shared_ptr<Stream>& stream) {
                                    return stream.use_count() == 1 && stream->ended();
                                  }),
                   streams_.end());
    streams = streams_;
  }
  Clock::time_point next = Clock::time_point::max();
  for (const std::shared_ptr<Stream>& stream : streams) {
    next = std::min(next, stream->ExpireDue(now));
  }
  return next;
}

}  // namespace llmrouter::gateway
