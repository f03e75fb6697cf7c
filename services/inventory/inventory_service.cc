#include "services/inventory/inventory_service.h"

#include <array>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/proto_time.h"

namespace llmrouter::inventory {
namespace {

using llmrouter::v1::WatchInventoryResponse;

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

absl::string_view Authorization(grpc::CallbackServerContext* ctx) {
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  return it == md.end() ? absl::string_view()
                        : absl::string_view(it->second.data(), it->second.size());
}

}  // namespace

SnapshotPtr MakeDelta(const llmrouter::v1::InventorySnapshot& from,
                      const llmrouter::v1::InventorySnapshot& to) {
  auto response = std::make_shared<WatchInventoryResponse>();
  llmrouter::v1::InventoryDelta* delta = response->mutable_delta();
  delta->set_base_version(from.version());
  delta->set_version(to.version());
  *delta->mutable_generated_at() = to.generated_at();
  absl::flat_hash_map<absl::string_view, const llmrouter::v1::Endpoint*> before;
  for (const auto& e : from.endpoints()) before.emplace(e.id(), &e);
  for (const auto& e : to.endpoints()) {
    auto it = before.find(e.id());
    if (it == before.end() || it->second->SerializeAsString() != e.SerializeAsString()) {
      *delta->add_upserted() = e;
    }
    if (it != before.end()) before.erase(it);
  }
  for (const auto& e : from.endpoints()) {
    if (before.contains(e.id())) delta->add_removed_ids(e.id());
  }
  return response;
}

// Streams snapshots to one subscriber. Only the newest pending snapshot is kept: a slow reader
// skips versions instead of holding memory or delaying the registry and other subscribers.
class WatchReactor final : public grpc::ServerWriteReactor<WatchInventoryResponse> {
 public:
  WatchReactor(EndpointRegistry& registry, InventoryMetrics& metrics, std::string subscriber,
               bool deltas, absl::AnyInvocable<void(WatchReactor*)> on_done)
      : registry_(registry),
        metrics_(metrics),
        subscriber_(std::move(subscriber)),
        deltas_(deltas),
        on_done_(std::move(on_done)) {
    metrics_.watchers.Increment();
    spdlog::info("watch_subscribed subscriber={} deltas={}", subscriber_, deltas_);
    token_ = registry_.Subscribe([this](SnapshotPtr snap) { Offer(std::move(snap)); });
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    in_flight_.reset();
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    metrics_.snapshots_sent.Increment();
    WriteNextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  // Ends the stream (e.g. at shutdown); the subscriber reconnects elsewhere or later.
  void Close() {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "inventory is shutting down"));
  }

  void OnDone() override {
    on_done_(this);
    registry_.Unsubscribe(token_);
    metrics_.watchers.Decrement();
    spdlog::info("watch_closed subscriber={}", subscriber_);
    delete this;
  }

 private:
  void Offer(SnapshotPtr snap) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    pending_ = std::move(snap);
    if (!in_flight_) WriteNextLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || !pending_) return;
    if (deltas_ && last_sent_) {
      // Against what this subscriber last received, so skipped versions are folded in.
      in_flight_ = MakeDelta(last_sent_->snapshot(), pending_->snapshot());
    } else {
      in_flight_ = pending_;
    }
    last_sent_ = std::move(pending_);
    pending_.reset();
    StartWrite(in_flight_.get());
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  EndpointRegistry& registry_;
  InventoryMetrics& metrics_;
  const std::string subscriber_;
  const bool deltas_;
  absl::AnyInvocable<void(WatchReactor*)> on_done_;
  uint64_t token_ = 0;
  absl::Mutex mu_;
  SnapshotPtr in_flight_ ABSL_GUARDED_BY(mu_);
  SnapshotPtr pending_ ABSL_GUARDED_BY(mu_);
  SnapshotPtr last_sent_ ABSL_GUARDED_BY(mu_);  // the full snapshot behind the last write
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// Answers a watch that arrives during shutdown.
class RefusedWatch final : public grpc::ServerWriteReactor<WatchInventoryResponse> {
 public:
  RefusedWatch() {
    Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "inventory is shutting down"));
  }
  void OnDone() override { delete this; }
};

InventoryServiceImpl::InventoryServiceImpl(EndpointRegistry& registry, InventoryMetrics& metrics,
                                           HealthMonitor* monitor, const WriteAccess* access,
                                           OutcomeReportLimits limits)
    : registry_(registry), metrics_(metrics), monitor_(monitor), access_(access), limits_(limits) {
  gauge_token_ = registry_.Subscribe([this](SnapshotPtr snap) { UpdateGauges(snap->snapshot()); });
}

InventoryServiceImpl::~InventoryServiceImpl() { registry_.Unsubscribe(gauge_token_); }

void InventoryServiceImpl::UpdateGauges(const llmrouter::v1::InventorySnapshot& snapshot) {
  static constexpr std::array<std::pair<llmrouter::v1::HealthState, const char*>, 4> kStates = {{
      {llmrouter::v1::HEALTH_STATE_HEALTHY, "healthy"},
      {llmrouter::v1::HEALTH_STATE_DEGRADED, "degraded"},
      {llmrouter::v1::HEALTH_STATE_UNHEALTHY, "unhealthy"},
      {llmrouter::v1::HEALTH_STATE_DRAINING, "draining"},
  }};
  std::array<int, 4> counts{};
  for (const auto& e : snapshot.endpoints()) {
    for (size_t i = 0; i < kStates.size(); ++i) {
      if (e.health() == kStates[i].first) ++counts[i];
    }
  }
  for (size_t i = 0; i < kStates.size(); ++i) {
    metrics_.endpoints.Add({{"health", kStates[i].second}}).Set(counts[i]);
  }
  metrics_.version.Set(static_cast<double>(snapshot.version()));
}

absl::Status InventoryServiceImpl::CheckWrite(grpc::CallbackServerContext* ctx, const char* op) {
  if (access_ == nullptr) return absl::OkStatus();
  absl::Status s = access_->Check(Authorization(ctx), ctx->peer());
  if (!s.ok()) {
    const char* reason =
        s.code() == absl::StatusCode::kUnauthenticated ? "unauthenticated" : "address";
    metrics_.writes_denied.Add({{"reason", reason}}).Increment();
    spdlog::warn("write_denied op={} peer={} reason={} error=\"{}\"", op, ctx->peer(), reason,
                 s.message());
  }
  return s;
}

absl::Status InventoryServiceImpl::CheckReport(grpc::CallbackServerContext* ctx) {
  if (access_ == nullptr) return absl::OkStatus();
  absl::Status s = access_->CheckReport(Authorization(ctx));
  if (!s.ok()) {
    metrics_.reports_unauthenticated.Increment();
    if (report_denied_log_.ShouldLog()) {
      spdlog::warn("report_denied peer={} left_out={} error=\"{}\"", ctx->peer(),
                   report_denied_log_.TakeSuppressed(), s.message());
    }
  }
  return s;
}

grpc::ServerUnaryReactor* InventoryServiceImpl::RegisterEndpoint(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::RegisterEndpointRequest* req,
    llmrouter::v1::RegisterEndpointResponse* resp) {
  if (absl::Status s = CheckWrite(ctx, "register"); !s.ok()) return Done(ctx, ToGrpcStatus(s));
  absl::Duration ttl = FromProto(req->ttl());
  if (ttl < absl::ZeroDuration()) {
    return Done(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "ttl must not be negative"));
  }
  llmrouter::v1::Endpoint e = req->endpoint();
  e.set_source(llmrouter::v1::ENDPOINT_SOURCE_REGISTERED);
  llmrouter::v1::Endpoint as_registered = e;
  absl::StatusOr<llmrouter::v1::Endpoint> stored = registry_.Upsert(std::move(e), ttl);
  if (!stored.ok()) return Done(ctx, ToGrpcStatus(stored.status()));
  if (shared_ != nullptr && NormalizeEndpoint(&as_registered).ok()) {
    shared_->Registered(as_registered, ttl);
  }
  *resp->mutable_endpoint() = *stored;
  resp->set_inventory_version(registry_.version());
  metrics_.registrations.Add({{"op", "register"}}).Increment();
  spdlog::info("endpoint_registered id={} model={} address={}", stored->id(), stored->model(),
               stored->address());
  return Done(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InventoryServiceImpl::DeregisterEndpoint(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::DeregisterEndpointRequest* req,
    llmrouter::v1::DeregisterEndpointResponse* resp) {
  if (absl::Status s = CheckWrite(ctx, "deregister"); !s.ok()) return Done(ctx, ToGrpcStatus(s));
  if (req->id().empty()) {
    return Done(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "id is required"));
  }
  if (absl::Status s = registry_.Remove(req->id()); !s.ok()) return Done(ctx, ToGrpcStatus(s));
  if (shared_ != nullptr) shared_->Deregistered(req->id());
  resp->set_inventory_version(registry_.version());
  metrics_.registrations.Add({{"op", "deregister"}}).Increment();
  spdlog::info("endpoint_deregistered id={}", req->id());
  return Done(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InventoryServiceImpl::ListEndpoints(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::ListEndpointsRequest* req,
    llmrouter::v1::ListEndpointsResponse* resp) {
  SnapshotPtr snap = registry_.Snapshot();
  for (const auto& e : snap->snapshot().endpoints()) {
    if (req->model().empty() || e.model() == req->model()) *resp->add_endpoints() = e;
  }
  resp->set_inventory_version(snap->snapshot().version());
  return Done(ctx, grpc::Status::OK);
}

grpc::ServerWriteReactor<WatchInventoryResponse>* InventoryServiceImpl::WatchInventory(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::WatchInventoryRequest* req) {
  std::string who = req->subscriber().empty() ? ctx->peer() : req->subscriber();
  absl::MutexLock lock(&watchers_mu_);
  if (closing_) {
    // Shutting down: refuse new streams rather than hold the shutdown open.
    auto* reactor = new RefusedWatch();
    return reactor;
  }
  auto* reactor =
      new WatchReactor(registry_, metrics_, std::move(who), req->deltas(), [this](WatchReactor* r) {
        absl::MutexLock lock(&watchers_mu_);
        watchers_.erase(r);
      });
  watchers_.insert(reactor);
  return reactor;
}

void InventoryServiceImpl::CloseWatchers() {
  absl::MutexLock lock(&watchers_mu_);
  closing_ = true;
  for (WatchReactor* r : watchers_) r->Close();
}

grpc::ServerUnaryReactor* InventoryServiceImpl::ReportOutcomes(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::ReportOutcomesRequest* req,
    llmrouter::v1::ReportOutcomesResponse* resp) {
  if (absl::Status s = CheckReport(ctx); !s.ok()) return Done(ctx, ToGrpcStatus(s));
  const int64_t size = req->outcomes_size();
  if (limits_.max_per_report > 0 && size > limits_.max_per_report) {
    metrics_.reports_too_large.Increment();
    return Done(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  absl::StrCat("a report carries at most ", limits_.max_per_report,
                                               " outcomes (--max_outcomes_per_report) and this one "
                                               "has ",
                                               size, "; send smaller batches")));
  }
  // Outcomes dropped by the per-endpoint cap are in neither accepted nor unknown_endpoint.
  // Only recorded here: the monitor's view reaches the registry on the prober's next tick, so a
  // stream of reports never turns into a stream of versions.
  SnapshotPtr snap = registry_.Snapshot();
  absl::flat_hash_map<absl::string_view, absl::string_view> model_of;  // known endpoint → model
  for (const auto& e : snap->snapshot().endpoints()) model_of.emplace(e.id(), e.model());
  // Outcomes each known endpoint may still take from this report.
  absl::flat_hash_map<absl::string_view, int64_t> admitted;
  for (const auto& o : req->outcomes()) {
    if (model_of.contains(o.endpoint_id())) ++admitted[o.endpoint_id()];
  }
  if (limits_.per_endpoint != nullptr) limits_.per_endpoint->Admit(admitted);
  uint32_t accepted = 0, unknown = 0, limited = 0;
  absl::flat_hash_map<absl::string_view, double> cost_by_model;
  for (const auto& o : req->outcomes()) {
    auto known = model_of.find(o.endpoint_id());
    if (known == model_of.end()) {
      ++unknown;
      continue;
    }
    int64_t& left = admitted[o.endpoint_id()];
    if (left == 0) {
      ++limited;
      continue;
    }
    --left;
    ++accepted;
    if (monitor_ != nullptr) monitor_->RecordOutcome(o);
    if (o.cost_usd() > 0) cost_by_model[known->second] += o.cost_usd();
  }
  for (const auto& [model, cost] : cost_by_model) {
    metrics_.reported_cost.Add({{"model", std::string(model)}}).Increment(cost);
  }
  resp->set_accepted(accepted);
  resp->set_unknown_endpoint(unknown);
  metrics_.outcomes_accepted.Increment(accepted);
  metrics_.outcomes_unknown_endpoint.Increment(unknown);
  if (limited > 0) {
    metrics_.outcomes_rate_limited.Increment(limited);
    if (rate_limited_log_.ShouldLog()) {
      spdlog::warn(
          "outcomes_rate_limited reporter=\"{}\" peer={} dropped={} reports_left_out={} "
          "per_endpoint_per_second={}",
          req->reporter(), ctx->peer(), limited, rate_limited_log_.TakeSuppressed(),
          limits_.per_endpoint->per_endpoint_per_second());
    }
  }
  return Done(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InventoryServiceImpl::DrainEndpoint(
    grpc::CallbackServerContext* ctx, const llmrouter::v1::DrainEndpointRequest* req,
    llmrouter::v1::DrainEndpointResponse* resp) {
  const char* op = req->resume() ? "resume" : "drain";
  if (absl::Status s = CheckWrite(ctx, op); !s.ok()) return Done(ctx, ToGrpcStatus(s));
  if (req->id().empty()) {
    return Done(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "id is required"));
  }
  absl::StatusOr<llmrouter::v1::Endpoint> e = registry_.SetDraining(req->id(), !req->resume());
  if (!e.ok()) return Done(ctx, ToGrpcStatus(e.status()));
  if (shared_ != nullptr) shared_->Drained(req->id(), !req->resume());
  *resp->mutable_endpoint() = *std::move(e);
  resp->set_inventory_version(registry_.version());
  metrics_.registrations.Add({{"op", op}}).Increment();
  spdlog::info("endpoint_{} id={}", op, req->id());
  return Done(ctx, grpc::Status::OK);
}

}  // namespace llmrouter::inventory
