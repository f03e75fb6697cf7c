#include "services/gateway/outcome_reporter.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <limits>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "common/log_throttle.h"
#include "common/logging.h"
#include "common/proto_time.h"
#include "common/replica_targets.h"
#include "common/tls_credentials.h"
#include "common/variant_buckets.h"
#include "llmrouter/v1/decision.grpc.pb.h"
#include "llmrouter/v1/inventory.grpc.pb.h"

namespace llmrouter::gateway {

namespace {

// Every inventory replica behind the target gets every batch: each replica judges passive
// health (outlier ejection) and load from the outcomes it is told, and decision follows one of
// them, so a replica told only its share — or, through a pick-first channel, all or nothing —
// would eject or count differently from its peers. The replicas behind a dns: target (the
// chart's headless Service) or an ipv4:/ipv6: list are looked up again every kResolveEvery, on
// the reporter's thread. A dns: name's IPv4 addresses are taken when it has any (a dual-stack
// pod has both, and must be told once); a plain host:port, or a name that does not resolve
// (yet), is one channel on the target itself, as gRPC resolves it.
class GrpcOutcomeSink : public OutcomeSink {
 public:
  GrpcOutcomeSink(const std::string& target, std::chrono::milliseconds timeout,
                  std::string reporter_token)
      : target_(target),
        credentials_(ChannelCredentialsFromFlags()),
        tls_(TlsFilesFromFlags().enabled()),
        timeout_(timeout),
        authorization_(reporter_token.empty() ? "" : "Bearer " + reporter_token) {}

  absl::Status Send(const v1::ReportOutcomesRequest& batch) override {
    Resolve();
    // To every replica at once: a replica that does not answer costs one timeout per batch,
    // not one more after each of the others.
    // Shared with the callbacks, which may still be leaving the mutex when the wait below ends:
    // the last of them to go frees it.
    struct Call {
      grpc::ClientContext context;
      v1::ReportOutcomesResponse response;
      grpc::Status status;
    };
    struct Round {
      explicit Round(std::size_t n) : calls(n), pending(n) {}
      std::vector<Call> calls;
      absl::Mutex mu;
      std::size_t pending ABSL_GUARDED_BY(mu);
    };
    auto round = std::make_shared<Round>(replicas_.size());
    for (std::size_t i = 0; i < replicas_.size(); ++i) {
      Call& call = round->calls[i];
      call.context.set_deadline(std::chrono::system_clock::now() + timeout_);
      if (!authorization_.empty()) call.context.AddMetadata("authorization", authorization_);
      replicas_[i].stub->async()->ReportOutcomes(&call.context, &batch, &call.response,
                                                 [round, &call](grpc::Status status) {
                                                   absl::MutexLock lock(&round->mu);
                                                   call.status = std::move(status);
                                                   --round->pending;
                                                 });
    }
    {
      absl::MutexLock lock(&round->mu);
      round->mu.Await(absl::Condition(
          +[](Round* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu) { return r->pending == 0; },
          round.get()));
    }
    const std::vector<Call>& calls = round->calls;
    int failed = 0;
    absl::Status first_failure;
    for (std::size_t i = 0; i < calls.size(); ++i) {
      absl::Status sent = FromGrpcStatus(calls[i].status);
      if (sent.ok()) continue;
      ++failed;
      if (first_failure.ok()) {
        first_failure =
            absl::Status(sent.code(), absl::StrCat(replicas_[i].address, ": ", sent.message()));
      }
    }
    // A batch that reached some replicas is sent: the others missed it (logged here, at most
    // once a second); one that reached none is the reporter's failure to count.
    if (failed == static_cast<int>(calls.size())) return first_failure;
    if (failed > 0 && partial_log_.ShouldLog()) {
      spdlog::warn("outcome_report_partial replicas={} failed={} error=\"{}\"", calls.size(),
                   failed, first_failure.message());
    }
    return absl::OkStatus();
  }

 private:
  struct Replica {
    std::string address;
    std::unique_ptr<v1::InventoryService::Stub> stub;
  };
  static constexpr auto kResolveEvery = std::chrono::seconds(10);

  void Resolve() {
    const auto now = std::chrono::steady_clock::now();
    if (!replicas_.empty() && now - resolved_at_ < kResolveEvery) return;
    resolved_at_ = now;
    const bool dns = absl::StartsWith(target_, "dns:");
    absl::StatusOr<std::vector<ReplicaTarget>> found =
        dns || absl::StartsWith(target_, "ipv4:") || absl::StartsWith(target_, "ipv6:")
            ? ExpandReplicas(target_)
            : absl::StatusOr<std::vector<ReplicaTarget>>(std::vector<ReplicaTarget>());
    if (found.ok() && dns &&
        std::any_of(found->begin(), found->end(),
                    [](const ReplicaTarget& r) { return absl::StartsWith(r.target, "ipv4:"); })) {
      found->erase(std::remove_if(found->begin(), found->end(),
                                  [](const ReplicaTarget& r) {
                                    return !absl::StartsWith(r.target, "ipv4:");
                                  }),
                   found->end());
    }
    if (!found.ok() || found->empty() || found->size() > kMaxReplicas) {
      if (replicas_.empty()) {
        // Not resolvable now: gRPC's own channel on the target resolves it when it can.
        replicas_.push_back({target_, v1::InventoryService::NewStub(
                                          grpc::CreateChannel(target_, credentials_))});
      }
      return;
    }
    std::vector<Replica> next;
    next.reserve(found->size());
    for (ReplicaTarget& r : *found) {
      // An address named twice (a list that repeats it) is one replica, told once.
      if (std::any_of(next.begin(), next.end(),
                      [&](const Replica& added) { return added.address == r.address; })) {
        continue;
      }
      auto kept = std::find_if(replicas_.begin(), replicas_.end(),
                               [&](const Replica& old) { return old.address == r.address; });
      if (kept != replicas_.end()) {
        next.push_back(std::move(*kept));
        continue;
      }
      grpc::ChannelArguments args;
      // The certificate names the Service, not the pod's address.
      if (tls_ && !r.host.empty()) args.SetSslTargetNameOverride(r.host);
      next.push_back({r.address, v1::InventoryService::NewStub(
                                     grpc::CreateCustomChannel(r.target, credentials_, args))});
    }
    replicas_ = std::move(next);
  }

  const std::string target_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const bool tls_;
  std::chrono::milliseconds timeout_;
  const std::string authorization_;
  // The reporter's thread only.
  std::vector<Replica> replicas_;
  std::chrono::steady_clock::time_point resolved_at_;
  LogThrottle partial_log_{std::chrono::seconds(1)};
  static constexpr std::size_t kMaxReplicas = 64;
};

}  // namespace

v1::ReportUsageRequest SummarizeUsage(const v1::ReportOutcomesRequest& batch) {
  v1::ReportUsageRequest request;
  request.set_reporter(batch.reporter());
  // Decision prices an outcome's tokens, or takes its cost when it has none: the two kinds are
  // summed apart.
  absl::flat_hash_map<std::tuple<std::string, std::string, bool>, v1::Outcome*> sums;
  constexpr uint64_t kMaxTokens = std::numeric_limits<uint32_t>::max();
  for (const v1::Outcome& o : batch.outcomes()) {
    const bool has_tokens = o.prompt_tokens() > 0 || o.completion_tokens() > 0;
    v1::Outcome*& sum = sums[std::make_tuple(o.tenant(), o.model(), has_tokens)];
    if (sum != nullptr &&
        (sum->prompt_tokens() + uint64_t{o.prompt_tokens()} > kMaxTokens ||
         sum->completion_tokens() + uint64_t{o.completion_tokens()} > kMaxTokens)) {
      sum = nullptr;  // full: the rest goes into a new one
    }
    if (sum == nullptr) {
      sum = request.add_outcomes();
      sum->set_tenant(o.tenant());
      sum->set_model(o.model());
    }
    sum->set_attempts(sum->attempts() + std::max<uint32_t>(1, o.attempts()));
    sum->set_prompt_tokens(sum->prompt_tokens() + o.prompt_tokens());
    sum->set_completion_tokens(sum->completion_tokens() + o.completion_tokens());
    sum->set_cost_usd(sum->cost_usd() + o.cost_usd());
  }
  SummarizeVariants(batch, &request);
  return request;
}

void SummarizeVariants(const v1::ReportOutcomesRequest& batch, v1::ReportUsageRequest* out) {
  absl::flat_hash_map<std::pair<std::string_view, std::string_view>, v1::VariantStats*> stats;
  for (const v1::Outcome& o : batch.outcomes()) {
    if (o.error() == "client_gone") continue;  // nobody waited for the answer: not judged
    const std::string_view track = o.track().empty() ? std::string_view("stable") : o.track();
    v1::VariantStats*& v = stats[{o.model(), track}];
    if (v == nullptr) {
      v = out->add_variants();
      v->set_model(o.model());
      v->set_track(track.data(), track.size());
      v->mutable_latency_buckets()->Resize(kVariantLatencyBounds.size() + 1, 0);
      v->mutable_ttft_buckets()->Resize(kVariantTtftBounds.size() + 1, 0);
    }
    const uint32_t attempts = std::max<uint32_t>(1, o.attempts());
    v->set_requests(v->requests() + attempts);
    // A stream cut after its 200 (error "reset", "timeout") failed too.
    if (o.http_status() == 0 || o.http_status() >= 500 || !o.error().empty()) {
      v->set_errors(v->errors() + attempts);
      continue;
    }
    if (o.http_status() < 200 || o.http_status() >= 300) continue;
    const double latency = absl::ToDoubleSeconds(FromProto(o.latency()));
    (*v->mutable_latency_buckets())[VariantBucket(kVariantLatencyBounds, latency)] += attempts;
    if (o.has_time_to_first_token()) {
      const double ttft = absl::ToDoubleSeconds(FromProto(o.time_to_first_token()));
      if (ttft > 0)
        (*v->mutable_ttft_buckets())[VariantBucket(kVariantTtftBounds, ttft)] += attempts;
    }
  }
}

namespace {

// Usage batches go to every decision replica in turn, as routing calls do (a pick-first channel
// sent all of a gateway's usage to one replica). Each batch reaches exactly one replica; with
// --redis every replica sees the sum, without it each sees its share.
grpc::ChannelArguments RoundRobin() {
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  return args;
}

class GrpcUsageSink : public OutcomeSink {
 public:
  GrpcUsageSink(const std::string& target, std::chrono::milliseconds timeout,
                std::string reporter_token)
      : stub_(v1::DecisionService::NewStub(
            grpc::CreateCustomChannel(target, ChannelCredentialsFromFlags(), RoundRobin()))),
        timeout_(timeout),
        authorization_(reporter_token.empty() ? "" : "Bearer " + reporter_token) {}

  absl::Status Send(const v1::ReportOutcomesRequest& batch) override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    if (!authorization_.empty()) context.AddMetadata("authorization", authorization_);
    v1::ReportUsageRequest request = SummarizeUsage(batch);
    v1::ReportUsageResponse response;
    return FromGrpcStatus(stub_->ReportUsage(&context, request, &response));
  }

 private:
  std::unique_ptr<v1::DecisionService::Stub> stub_;
  std::chrono::milliseconds timeout_;
  const std::string authorization_;
};

class FanOutSink : public OutcomeSink {
 public:
  explicit FanOutSink(std::vector<std::unique_ptr<OutcomeSink>> sinks) : sinks_(std::move(sinks)) {}

  absl::Status Send(const v1::ReportOutcomesRequest& batch) override {
    absl::Status first;
    for (auto& sink : sinks_) {
      absl::Status s = sink->Send(batch);
      if (!s.ok() && first.ok()) first = s;
    }
    return first;
  }

 private:
  std::vector<std::unique_ptr<OutcomeSink>> sinks_;
};

prometheus::Family<prometheus::Counter>& OutcomeFamily(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("llmrouter_gateway_outcomes_total")
      .Help(
          "Request outcomes for inventory: sent, or dropped because the queue was full or the "
          "batch could not be sent")
      .Register(registry);
}

}  // namespace

std::unique_ptr<OutcomeSink> MakeGrpcOutcomeSink(const std::string& target,
                                                 std::chrono::milliseconds timeout,
                                                 std::string reporter_token) {
  return std::make_unique<GrpcOutcomeSink>(target, timeout, std::move(reporter_token));
}

std::unique_ptr<OutcomeSink> MakeGrpcUsageSink(const std::string& target,
                                               std::chrono::milliseconds timeout,
                                               std::string reporter_token) {
  return std::make_unique<GrpcUsageSink>(target, timeout, std::move(reporter_token));
}

std::unique_ptr<OutcomeSink> MakeFanOutSink(std::vector<std::unique_ptr<OutcomeSink>> sinks) {
  return std::make_unique<FanOutSink>(std::move(sinks));
}

OutcomeReporter::OutcomeReporter(OutcomeReporterOptions options, std::unique_ptr<OutcomeSink> sink,
                                 prometheus::Registry& registry)
    : options_(std::move(options)),
      sink_(std::move(sink)),
      sent_(OutcomeFamily(registry).Add({{"result", "sent"}})),
      dropped_full_(OutcomeFamily(registry).Add({{"result", "dropped_queue_full"}})),
      dropped_failed_(OutcomeFamily(registry).Add({{"result", "dropped_send_failed"}})),
      task_(absl::FromChrono(options_.flush_interval), [this] { Flush(); }) {}

OutcomeReporter::~OutcomeReporter() { Stop(); }

void OutcomeReporter::Start() { task_.Start(); }

void OutcomeReporter::Stop() {
  task_.Stop();
  Flush();
}

void OutcomeReporter::Report(v1::Outcome outcome) {
  {
    absl::MutexLock lock(&mu_);
    if (queue_.size() < options_.max_queue) {
      queue_.push_back(std::move(outcome));
      return;
    }
  }
  dropped_full_.Increment();
}

void OutcomeReporter::Flush() {
  absl::MutexLock flush_lock(&flush_mu_);
  // The queue is taken whole, so that Report() never waits behind the batching below.
  std::deque<v1::Outcome> pending;
  {
    absl::MutexLock lock(&mu_);
    pending.swap(queue_);
  }
  while (!pending.empty()) {
    v1::ReportOutcomesRequest batch;
    batch.set_reporter(options_.reporter);
    const std::size_t n = std::min(pending.size(), options_.max_batch);
    batch.mutable_outcomes()->Reserve(static_cast<int>(n));
    for (std::size_t i = 0; i < n; ++i) {
      batch.add_outcomes()->Swap(&pending.front());
      pending.pop_front();
    }
    absl::Status sent = sink_->Send(batch);
    if (sent.ok()) {
      sent_.Increment(batch.outcomes_size());
    } else {
      // This batch is dropped; the rest waits for the next tick, ahead of newer outcomes and as
      // far as the queue has room, instead of piling calls on a failing sink now.
      std::size_t dropped = static_cast<std::size_t>(batch.outcomes_size());
      {
        absl::MutexLock lock(&mu_);
        while (!pending.empty() && queue_.size() < options_.max_queue) {
          queue_.push_front(std::move(pending.back()));
          pending.pop_back();
        }
      }
      dropped += pending.size();
      dropped_failed_.Increment(static_cast<double>(dropped));
      spdlog::warn("outcome_report_failed outcomes={} error=\"{}\"", dropped, sent.message());
      return;
    }
  }
}

}  // namespace llmrouter::gateway
