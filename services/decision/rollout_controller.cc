#include "services/decision/rollout_controller.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/log_throttle.h"
#include "common/proto_time.h"

namespace llmrouter::decision {

namespace v1 = llmrouter::v1;

namespace {

constexpr v1::RolloutState kStates[] = {
    v1::ROLLOUT_STATE_PROGRESSING, v1::ROLLOUT_STATE_PAUSED,  v1::ROLLOUT_STATE_COMPLETED,
    v1::ROLLOUT_STATE_ROLLED_BACK, v1::ROLLOUT_STATE_ABORTED, v1::ROLLOUT_STATE_REFUSED};

std::string Figure(double v) { return absl::StrFormat("%.3g", v); }

void FillFigures(const std::string& track, const VariantCounts& c, v1::VariantFigures* out) {
  out->set_track(track);
  out->set_requests(c.requests);
  out->set_errors(c.errors);
  out->set_error_rate(c.ErrorRate());
  out->set_p95_latency_seconds(c.LatencyQuantile(0.95));
  out->set_p95_ttft_seconds(c.TtftQuantile(0.95));
}

// The first limit the canary breaches over the window, or empty. Relative limits are judged only
// when the stable track had `min_requests` too (it has none at the last step).
std::string Breach(const RolloutAnalysis& a, const VariantCounts& canary,
                   const VariantCounts& stable) {
  const bool compare = stable.requests >= a.min_requests;
  const double rate = canary.ErrorRate();
  if (a.error_rate.max > 0 && rate > a.error_rate.max) {
    return absl::StrCat("canary error rate ", Figure(rate), " above its limit ",
                        Figure(a.error_rate.max), " (", canary.errors, " of ", canary.requests,
                        ")");
  }
  if (compare && a.error_rate.max_increase > 0 &&
      rate - stable.ErrorRate() > a.error_rate.max_increase) {
    return absl::StrCat("canary error rate ", Figure(rate), " exceeds stable's ",
                        Figure(stable.ErrorRate()), " by more than ",
                        Figure(a.error_rate.max_increase));
  }
  struct Quantile {
    const char* what;
    const AnalysisLimit& limit;
    double canary, stable;
    uint64_t canary_samples, stable_samples;
  };
  const Quantile quantiles[] = {
      {"p95 latency", a.p95_latency, canary.LatencyQuantile(0.95), stable.LatencyQuantile(0.95),
       canary.latency_samples(), stable.latency_samples()},
      {"p95 time to first token", a.p95_ttft, canary.TtftQuantile(0.95), stable.TtftQuantile(0.95),
       canary.ttft_samples(), stable.ttft_samples()}};
  for (const Quantile& q : quantiles) {
    if (q.canary_samples == 0) continue;
    if (q.limit.max > 0 && q.canary > q.limit.max) {
      return absl::StrCat("canary ", q.what, " ", Figure(q.canary), "s above its limit ",
                          Figure(q.limit.max), "s");
    }
    if (compare && q.limit.max_ratio > 0 && q.stable_samples > 0 && q.stable > 0 &&
        q.canary / q.stable > q.limit.max_ratio) {
      return absl::StrCat("canary ", q.what, " ", Figure(q.canary), "s is ",
                          Figure(q.canary / q.stable), "x stable's ", Figure(q.stable),
                          "s, above ", Figure(q.limit.max_ratio), "x");
    }
  }
  return std::string();
}

void Begin(const RolloutSpec& spec, absl::Time now, v1::RolloutStatus* st) {
  st->set_name(spec.name);
  st->set_model(spec.model);
  st->set_stable_track(spec.stable_track);
  st->set_canary_track(spec.canary_track);
  st->set_steps(static_cast<uint32_t>(spec.steps.size()));
  st->set_declaration_sha256(spec.Fingerprint());
  st->set_state(v1::ROLLOUT_STATE_PROGRESSING);
  st->set_step(0);
  st->set_operator_paused(false);
  ToProto(now, st->mutable_started_at());
  ToProto(now, st->mutable_step_started_at());
}

}  // namespace

const char* RolloutStateName(v1::RolloutState state) {
  switch (state) {
    case v1::ROLLOUT_STATE_PROGRESSING: return "progressing";
    case v1::ROLLOUT_STATE_PAUSED: return "paused";
    case v1::ROLLOUT_STATE_COMPLETED: return "completed";
    case v1::ROLLOUT_STATE_ROLLED_BACK: return "rolled_back";
    case v1::ROLLOUT_STATE_ABORTED: return "aborted";
    case v1::ROLLOUT_STATE_REFUSED: return "refused";
    default: return "pending";
  }
}

std::vector<BundleProblem> RolloutTrackProblems(const PolicyBundle& bundle,
                                                const InventoryView& view) {
  std::vector<BundleProblem> problems;
  for (std::size_t i = 0; i < bundle.rollouts.size(); ++i) {
    const RolloutSpec& spec = bundle.rollouts[i];
    std::set<std::string> tracks;
    if (const ModelEndpoints* group = view.ForModel(spec.model)) {
      for (const v1::Endpoint& e : group->endpoints) {
        tracks.insert(e.track().empty() ? std::string("stable") : e.track());
      }
    }
    for (const auto& [key, track] : {std::pair<const char*, const std::string*>{
                                         "stable", &spec.stable_track},
                                     {"canary", &spec.canary_track}}) {
      if (tracks.contains(*track)) continue;
      problems.push_back(
          {absl::StrCat("rollouts[", i, "].tracks.", key),
           absl::StrCat("no endpoint of \"", spec.model, "\" is on track \"", *track,
                        "\" in inventory (version ", view.version(), ")")});
    }
  }
  return problems;
}

uint32_t CanaryWeight(const RolloutSpec& spec, const v1::RolloutStatus& status) {
  switch (status.state()) {
    case v1::ROLLOUT_STATE_PROGRESSING:
    case v1::ROLLOUT_STATE_PAUSED:
      return status.step() < spec.steps.size() ? spec.steps[status.step()].weight : 0;
    case v1::ROLLOUT_STATE_COMPLETED: return 100;
    default: return 0;
  }
}

struct RolloutController::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : step(prometheus::BuildGauge()
                 .Name("llmrouter_decision_rollout_step")
                 .Help("Current step of each rollout the active bundle declares, from 1")
                 .Register(r)),
        weight(prometheus::BuildGauge()
                   .Name("llmrouter_decision_rollout_canary_weight")
                   .Help("Share of the rollout's model's requests its canary track gets, 0-100")
                   .Register(r)),
        state(prometheus::BuildGauge()
                  .Name("llmrouter_decision_rollout_state")
                  .Help("1 for each rollout's current state (progressing, paused, completed, "
                        "rolled_back, aborted, refused), 0 for the others")
                  .Register(r)),
        events(prometheus::BuildCounter()
                   .Name("llmrouter_decision_rollout_events_total")
                   .Help("Rollout changes this replica made, by rollout and kind (promoted, "
                         "rolled_back, paused, ...)")
                   .Register(r)),
        lease(prometheus::BuildGauge()
                  .Name("llmrouter_decision_rollout_lease_held")
                  .Help("1 when this replica judges the rollouts (holds the lease, or runs alone)")
                  .Register(r)
                  .Add({})) {}
  prometheus::Family<prometheus::Gauge>& step;
  prometheus::Family<prometheus::Gauge>& weight;
  prometheus::Family<prometheus::Gauge>& state;
  prometheus::Family<prometheus::Counter>& events;
  prometheus::Gauge& lease;
  std::set<std::string> shown;  // rollouts with series
};

RolloutController::RolloutController(
    const ActivePolicy& policy, std::function<std::shared_ptr<const InventoryView>()> inventory,
    VariantWindows& local, RolloutStore& store, SharedVariantCounts* shared, RolloutRoutes& routes,
    prometheus::Registry* registry, RolloutControllerOptions options)
    : policy_(policy),
      inventory_(std::move(inventory)),
      local_(local),
      store_(store),
      shared_(shared),
      routes_(routes),
      options_(std::move(options)),
      metrics_(registry ? std::make_unique<Metrics>(*registry) : nullptr) {}

RolloutController::~RolloutController() = default;

absl::StatusOr<std::map<std::string, v1::RolloutStatus>> RolloutController::LoadKept() {
  absl::StatusOr<std::vector<v1::RolloutStatus>> loaded = store_.Load();
  if (!loaded.ok()) return loaded.status();
  std::map<std::string, v1::RolloutStatus> kept;
  for (v1::RolloutStatus& s : *loaded) kept[s.name()] = std::move(s);
  return kept;
}

absl::StatusOr<VariantCounts> RolloutController::Counts(const std::string& model,
                                                       const std::string& track,
                                                       absl::Duration window, absl::Time now,
                                                       absl::Time not_before) {
  // With several replicas each holds a share of the reports: judging one share would be judging
  // a small, biased sample, so without the shared counts nothing is judged.
  if (shared_ != nullptr) return shared_->Window(model, track, window, now, not_before);
  return local_.Window(model, track, window, now, not_before);
}

absl::StatusOr<bool> RolloutController::Write(v1::RolloutStatus* next, uint64_t kept_version,
                                              v1::RolloutEvent* event, absl::Time now) {
  next->set_version(kept_version + 1);
  ToProto(now, next->mutable_updated_at());
  if (event != nullptr) {
    ToProto(now, event->mutable_time());
    event->set_rollout(next->name());
    event->set_state(next->state());
    event->set_to_step(next->step());
    if (event->actor().empty()) event->set_actor(options_.replica);
    event->set_canary_weight(next->canary_weight());
    *event->mutable_canary() = next->canary();
    *event->mutable_stable() = next->stable();
  }
  absl::StatusOr<bool> saved = store_.Save(*next, kept_version, event);
  if (saved.ok() && *saved && event != nullptr) {
    spdlog::info("rollout_{} rollout={} step={} state={} weight={} reason=\"{}\" actor={}",
                 event->kind(), next->name(), next->step() + 1, RolloutStateName(next->state()),
                 next->canary_weight(), event->reason(), event->actor());
    if (metrics_) metrics_->events.Add({{"rollout", next->name()}, {"kind", event->kind()}}).Increment();
  }
  return saved;
}

bool RolloutController::Judge(const RolloutSpec& spec, const v1::RolloutStatus& st, absl::Time now,
                              v1::RolloutStatus* next, v1::RolloutEvent* event) {
  const RolloutAnalysis& a = spec.analysis;
  const absl::Time step_started = FromProto(st.step_started_at());
  const absl::Duration elapsed = now - step_started;
  const absl::Duration window = absl::Milliseconds(a.window_ms);
  // Only what the step itself saw: slots that began before it are left out.
  absl::StatusOr<VariantCounts> canary_counts =
      Counts(spec.model, spec.canary_track, window, now, step_started);
  absl::StatusOr<VariantCounts> stable_counts =
      Counts(spec.model, spec.stable_track, window, now, step_started);
  *next = st;
  if (!canary_counts.ok() || !stable_counts.ok()) {
    static LogThrottle throttle(std::chrono::seconds(10));
    if (throttle.ShouldLog()) {
      spdlog::warn("rollout_counts_unavailable error=\"{}\" (nothing judged until they are)",
                   (canary_counts.ok() ? stable_counts : canary_counts).status().message());
    }
    return false;
  }
  const VariantCounts& canary = *canary_counts;
  const VariantCounts& stable = *stable_counts;
  FillFigures(spec.canary_track, canary, next->mutable_canary());
  FillFigures(spec.stable_track, stable, next->mutable_stable());
  const bool auto_paused = st.state() == v1::ROLLOUT_STATE_PAUSED && !st.operator_paused();
  if (st.state() != v1::ROLLOUT_STATE_PROGRESSING && !auto_paused) return false;

  auto change = [&](v1::RolloutState state, const char* kind, std::string reason) {
    next->set_state(state);
    next->set_reason(reason);
    event->set_kind(kind);
    event->set_from_step(st.step());
    event->set_reason(std::move(reason));
    return true;
  };
  // The canary's endpoints, as inventory sees them; without a view (decision starting) nothing
  // is judged: a drained or absent canary must not be promoted for want of knowing.
  int canary_endpoints = 0, canary_usable = 0, canary_draining = 0;
  std::shared_ptr<const InventoryView> view = inventory_ ? inventory_() : nullptr;
  if (inventory_ && view == nullptr) return false;
  if (view != nullptr) {
    if (const ModelEndpoints* group = view->ForModel(spec.model)) {
      for (const v1::Endpoint& e : group->endpoints) {
        const absl::string_view track =
            e.track().empty() ? absl::string_view("stable") : absl::string_view(e.track());
        if (track != spec.canary_track) continue;
        ++canary_endpoints;
        if (e.health() == v1::HEALTH_STATE_HEALTHY || e.health() == v1::HEALTH_STATE_DEGRADED) {
          ++canary_usable;
        } else if (e.health() == v1::HEALTH_STATE_DRAINING) {
          ++canary_draining;
        }
      }
    }
    // Held while the canary is not there to judge: not deployed yet, or drained by an operator.
    std::string absent;
    if (canary_endpoints == 0) {
      absent = absl::StrCat("no endpoint of \"", spec.model, "\" is on track \"",
                            spec.canary_track, "\"");
    } else if (canary_usable == 0 && canary_draining == canary_endpoints) {
      absent = absl::StrCat("every canary endpoint (", canary_endpoints, ") is draining");
    }
    if (!absent.empty()) {
      if (auto_paused && st.reason() == absent) return false;
      return change(v1::ROLLOUT_STATE_PAUSED, "paused", absent);
    }
    if (canary_usable == 0) {
      return change(v1::ROLLOUT_STATE_ROLLED_BACK, "rolled_back",
                    absl::StrCat("every canary endpoint (", canary_endpoints,
                                 ") is ejected or unhealthy in inventory"));
    }
    if (auto_paused && (absl::StartsWith(st.reason(), "no endpoint of") ||
                        absl::StrContains(st.reason(), "is draining"))) {
      // The canary is back: its step starts again, judged on what it serves from now.
      ToProto(now, next->mutable_step_started_at());
      return change(v1::ROLLOUT_STATE_PROGRESSING, "resumed",
                    absl::StrCat(canary_usable, " canary endpoint(s) usable again"));
    }
  }
  if (canary.requests >= a.min_requests) {
    if (std::string breach = Breach(a, canary, stable); !breach.empty()) {
      return change(v1::ROLLOUT_STATE_ROLLED_BACK, "rolled_back",
                    absl::StrCat(breach, " over ", absl::FormatDuration(std::min(window, elapsed))));
    }
  }
  const RolloutStep& step = spec.steps[std::min<size_t>(st.step(), spec.steps.size() - 1)];
  if (elapsed < absl::Milliseconds(step.duration_ms)) return false;
  if (canary.requests < a.min_requests) {
    if (auto_paused && absl::StartsWith(st.reason(), "not enough")) return false;
    return change(v1::ROLLOUT_STATE_PAUSED, "paused",
                  absl::StrCat("not enough traffic to judge: the canary had ", canary.requests,
                               " of ", a.min_requests, " requests over ",
                               absl::FormatDuration(std::min(window, elapsed))));
  }
  const std::string figures =
      absl::StrCat("canary error rate ", Figure(canary.ErrorRate()), " over ", canary.requests,
                   " requests, p95 latency ", Figure(canary.LatencyQuantile(0.95)), "s");
  if (st.step() + 1 >= spec.steps.size()) {
    return change(v1::ROLLOUT_STATE_COMPLETED, "completed",
                  absl::StrCat("last step passed: ", figures));
  }
  next->set_step(st.step() + 1);
  ToProto(now, next->mutable_step_started_at());
  return change(v1::ROLLOUT_STATE_PROGRESSING, "promoted",
                absl::StrCat("step ", st.step() + 1, " passed after ",
                             absl::FormatDuration(elapsed), ": ", figures));
}

void RolloutController::Tick(absl::Time now) {
  // Network calls first, outside act_mu_ (operator actions wait on it from gRPC threads); only
  // this thread runs them.
  std::shared_ptr<const CompiledPolicy> policy = policy_.Current();
  std::vector<const RolloutSpec*> specs;
  if (policy) {
    for (const RolloutSpec& s : policy->bundle().rollouts) specs.push_back(&s);
  }
  if (shared_ != nullptr && !specs.empty()) {
    if (absl::Status s = shared_->Flush(local_, now); !s.ok()) {
      static LogThrottle throttle(std::chrono::seconds(10));
      if (throttle.ShouldLog()) {
        spdlog::warn("rollout_counts_flush_failed error=\"{}\" unsent_slots={}", s.message(),
                     shared_->unsent());
      }
    }
  }
  // Who may act: the lease holder with a shared store; without one, a replica that knows it runs
  // alone.
  std::string held;  // why this replica neither acts nor routes by its own judgement
  v1::RolloutState held_state = v1::ROLLOUT_STATE_UNSPECIFIED;
  bool acting = false;
  if (store_.shared()) {
    absl::StatusOr<bool> lease = store_.HoldLease(options_.replica, options_.lease_ttl);
    acting = lease.ok() && *lease;
  } else {
    const int replicas = options_.replicas ? options_.replicas() : 1;
    if (replicas > 1) {
      held_state = v1::ROLLOUT_STATE_REFUSED;
      held = absl::StrCat(replicas, " decision replicas run (", options_.replicas_source,
                          ") and there is no shared store (--redis): a rollout runs only on one "
                          "replica alone, or on several that share Redis");
    } else if (replicas < 0) {
      held = absl::StrCat("waiting to count the decision replicas behind ",
                          options_.replicas_source, " (the name does not resolve yet)");
    } else {
      acting = true;
    }
  }
  std::string holder;
  if (store_.shared() && !acting) {
    if (absl::StatusOr<std::string> h = store_.LeaseHolder(); h.ok()) holder = *h;
  }

  absl::MutexLock act(&act_mu_);
  held_ = held;
  // Read under the lock: an operator's action written meanwhile is not published over.
  absl::StatusOr<std::map<std::string, v1::RolloutStatus>> kept = LoadKept();
  if (metrics_) metrics_->lease.Set(acting ? 1 : 0);
  if (!kept.ok()) {
    // Routing keeps the last published weights (a rollout never published routes its canary
    // at 0: route_stages.cc).
    static LogThrottle throttle(std::chrono::seconds(10));
    if (throttle.ShouldLog()) {
      spdlog::warn("rollout_store_unavailable error=\"{}\" (routing by the last known steps)",
                   kept.status().message());
    }
    return;
  }
  if (acting && policy) {
    // Progress of rollouts the bundle no longer declares: forgotten once this replica has seen
    // them undeclared for kForgetAfter (so that one whose bundle lags does not wipe another's);
    // declared again later, they start afresh.
    for (const auto& entry : *kept) {
      const std::string& name = entry.first;
      if (std::any_of(specs.begin(), specs.end(),
                      [&name](const RolloutSpec* s) { return s->name == name; })) {
        undeclared_since_.erase(name);
        continue;
      }
      const absl::Time since = undeclared_since_.try_emplace(name, now).first->second;
      if (now - since < kForgetAfter) continue;
      if (absl::Status s = store_.Forget(name); s.ok()) {
        undeclared_since_.erase(name);
        spdlog::info("rollout_forgotten rollout={} (not declared for {})", name,
                     absl::FormatDuration(now - since));
      }
    }
  }
  std::vector<v1::RolloutStatus> statuses;
  for (const RolloutSpec* spec : specs) {
    v1::RolloutStatus st;
    auto it = kept->find(spec->name);
    const uint64_t kept_version = it == kept->end() ? 0 : it->second.version();
    const bool current = it != kept->end() && it->second.declaration_sha256() == spec->Fingerprint();
    // Another declaration's progress still routes by its weight on a replica that does not
    // judge (the judging one may not have the new bundle yet), when it is of the same tracks.
    const bool same_tracks = it != kept->end() && it->second.model() == spec->model &&
                             it->second.stable_track() == spec->stable_track &&
                             it->second.canary_track() == spec->canary_track;
    if (!held.empty()) {
      // Refused here: a rollout that had progress keeps routing by it; a new one gets nothing.
      if (current) {
        st = it->second;
        st.set_canary_weight(CanaryWeight(*spec, st));
      } else {
        Begin(*spec, now, &st);
        st.set_canary_weight(0);
      }
      st.set_state(held_state);
      st.set_reason(held);
      statuses.push_back(std::move(st));
      continue;
    }
    if (!current && acting) {
      Begin(*spec, now, &st);
      st.set_canary_weight(CanaryWeight(*spec, st));
      v1::RolloutEvent event;
      event.set_kind("started");
      event.set_reason(it == kept->end() ? "declared by the active bundle"
                                         : "declaration changed: started over");
      st.set_reason(event.reason());
      absl::StatusOr<bool> saved = Write(&st, kept_version, &event, now);
      if (!saved.ok() || !*saved) {
        // Tried again next tick, from what is kept; meanwhile the canary gets nothing.
        LogWriteFailure(spec->name, saved.status());
        st.set_state(v1::ROLLOUT_STATE_UNSPECIFIED);
        st.set_reason(saved.ok() ? "starting" : absl::StrCat("cannot be started: ",
                                                             saved.status().message()));
      }
    } else if (!current && same_tracks) {
      st = it->second;
      st.set_reason(absl::StrCat(st.reason(), " (declared differently here: routing by the "
                                 "progress the judging replica keeps)"));
    } else if (!current) {
      Begin(*spec, now, &st);
      st.set_state(v1::ROLLOUT_STATE_UNSPECIFIED);
      st.set_reason("waiting for the replica that holds the rollout lease to start it");
    } else {
      st = it->second;
      if (acting) {
        v1::RolloutStatus next;
        v1::RolloutEvent event;
        if (Judge(*spec, st, now, &next, &event)) {
          next.set_canary_weight(CanaryWeight(*spec, next));
          absl::StatusOr<bool> saved = Write(&next, st.version(), &event, now);
          if (saved.ok() && *saved) {
            st = std::move(next);
          } else {
            LogWriteFailure(spec->name, saved.status());
          }
        } else {
          *st.mutable_canary() = next.canary();
          *st.mutable_stable() = next.stable();
        }
      }
    }
    if (st.state() == v1::ROLLOUT_STATE_UNSPECIFIED) {
      st.set_canary_weight(0);
    } else if (current) {
      st.set_canary_weight(CanaryWeight(*spec, st));
    }
    if (acting) st.set_actor(options_.replica);
    statuses.push_back(std::move(st));
  }
  if (!holder.empty()) {
    for (v1::RolloutStatus& st : statuses) st.set_actor(holder);
  }
  Publish(specs, statuses);
}

void RolloutController::LogWriteFailure(const std::string& rollout, const absl::Status& status) {
  if (status.ok()) return;  // another writer changed it first: read again next tick
  static LogThrottle throttle(std::chrono::seconds(10));
  if (throttle.ShouldLog()) {
    spdlog::warn("rollout_write_failed rollout={} error=\"{}\"", rollout, status.message());
  }
}

void RolloutController::Shutdown() {
  absl::MutexLock act(&act_mu_);
  if (store_.shared()) store_.ReleaseLease(options_.replica);
  if (metrics_) metrics_->lease.Set(0);
}

void RolloutController::Publish(const std::vector<const RolloutSpec*>& specs,
                                const std::vector<v1::RolloutStatus>& statuses) {
  RolloutRouteMap routes;
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    const v1::RolloutStatus& st = statuses[i];
    const RolloutSpec* spec = nullptr;
    for (const RolloutSpec* s : specs) {
      if (s->name == st.name()) spec = s;
    }
    // A status of another declaration's tracks (an action racing a new bundle) is not routed.
    if (spec == nullptr || st.stable_track() != spec->stable_track ||
        st.canary_track() != spec->canary_track) {
      continue;
    }
    RolloutRoute& r = routes[spec->model];
    r.rollout = spec->name;
    r.stable_track = spec->stable_track;
    r.canary_track = spec->canary_track;
    r.canary_weight = st.canary_weight();
    r.sticky = spec->sticky;
    r.state = RolloutStateName(st.state());
    r.step = st.step();
    r.steps = st.steps() > 0 ? st.steps() : static_cast<uint32_t>(spec->steps.size());
  }
  routes_.Publish(std::move(routes));
  if (metrics_) {
    std::set<std::string> shown;
    for (const v1::RolloutStatus& st : statuses) {
      shown.insert(st.name());
      metrics_->step.Add({{"rollout", st.name()}}).Set(st.step() + 1);
      metrics_->weight.Add({{"rollout", st.name()}}).Set(st.canary_weight());
      for (v1::RolloutState s : kStates) {
        metrics_->state.Add({{"rollout", st.name()}, {"state", RolloutStateName(s)}})
            .Set(st.state() == s ? 1 : 0);
      }
    }
    for (const std::string& gone : metrics_->shown) {
      if (shown.contains(gone)) continue;
      metrics_->step.Remove(&metrics_->step.Add({{"rollout", gone}}));
      metrics_->weight.Remove(&metrics_->weight.Add({{"rollout", gone}}));
      for (v1::RolloutState s : kStates) {
        metrics_->state.Remove(
            &metrics_->state.Add({{"rollout", gone}, {"state", RolloutStateName(s)}}));
      }
    }
    metrics_->shown = std::move(shown);
  }
  absl::MutexLock lock(&mu_);
  statuses_ = statuses;
}

std::vector<v1::RolloutStatus> RolloutController::Statuses(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  if (name.empty()) return statuses_;
  std::vector<v1::RolloutStatus> out;
  for (const v1::RolloutStatus& s : statuses_) {
    if (s.name() == name) out.push_back(s);
  }
  return out;
}

absl::StatusOr<std::vector<v1::RolloutEvent>> RolloutController::Events(const std::string& name,
                                                                        std::size_t limit) const {
  return store_.Events(name, limit);
}

absl::StatusOr<v1::RolloutStatus> RolloutController::Act(const std::string& name, Action action,
                                                         const std::string& reason, absl::Time now,
                                                         uint64_t expected_version) {
  std::shared_ptr<const CompiledPolicy> policy = policy_.Current();
  const RolloutSpec* spec = nullptr;
  if (policy) {
    for (const RolloutSpec& s : policy->bundle().rollouts) {
      if (s.name == name) spec = &s;
    }
  }
  if (spec == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("the active bundle declares no rollout \"", name.substr(0, 200), "\""));
  }
  absl::MutexLock act(&act_mu_);
  if (!held_.empty()) return absl::FailedPreconditionError(held_);
  absl::StatusOr<std::map<std::string, v1::RolloutStatus>> kept = LoadKept();
  if (!kept.ok()) return absl::UnavailableError(kept.status().message());
  auto it = kept->find(name);
  if (it == kept->end() || it->second.declaration_sha256() != spec->Fingerprint()) {
    return absl::FailedPreconditionError(
        absl::StrCat("rollout \"", name, "\" has not started yet; try again in a moment"));
  }
  const v1::RolloutStatus& st = it->second;
  if (expected_version != 0 && expected_version != st.version()) {
    return absl::AbortedError(absl::StrCat("rollout \"", name, "\" changed since version ",
                                           expected_version, " (now ", st.version(), ", ",
                                           RolloutStateName(st.state()), " at step ",
                                           st.step() + 1, "); look again"));
  }
  v1::RolloutStatus next = st;
  v1::RolloutEvent event;
  event.set_actor("operator");
  event.set_from_step(st.step());
  const bool running =
      st.state() == v1::ROLLOUT_STATE_PROGRESSING || st.state() == v1::ROLLOUT_STATE_PAUSED;
  const std::string why = reason.empty() ? std::string() : absl::StrCat(": ", reason);
  const char* state_name = RolloutStateName(st.state());
  switch (action) {
    case Action::kPause:
      if (!running) {
        return absl::FailedPreconditionError(
            absl::StrCat("rollout \"", name, "\" is ", state_name, ", not running"));
      }
      next.set_state(v1::ROLLOUT_STATE_PAUSED);
      next.set_operator_paused(true);
      event.set_kind("paused");
      event.set_reason(absl::StrCat("paused by an operator", why));
      break;
    case Action::kResume:
      if (st.state() == v1::ROLLOUT_STATE_COMPLETED || st.state() == v1::ROLLOUT_STATE_PROGRESSING) {
        return absl::FailedPreconditionError(
            absl::StrCat("rollout \"", name, "\" is ", state_name, ", not paused or stopped"));
      }
      if (!running) {
        Begin(*spec, now, &next);  // rolled back or aborted: from the first step again
        event.set_reason(absl::StrCat("restarted from the first step by an operator", why));
      } else {
        event.set_reason(absl::StrCat("resumed by an operator", why));
      }
      next.set_state(v1::ROLLOUT_STATE_PROGRESSING);
      next.set_operator_paused(false);
      ToProto(now, next.mutable_step_started_at());
      event.set_kind("resumed");
      break;
    case Action::kPromote:
      if (!running) {
        return absl::FailedPreconditionError(absl::StrCat(
            "rollout \"", name, "\" is ", state_name, "; only a running rollout is promoted"));
      }
      next.set_operator_paused(false);
      ToProto(now, next.mutable_step_started_at());
      if (st.step() + 1 >= spec->steps.size()) {
        next.set_state(v1::ROLLOUT_STATE_COMPLETED);
        event.set_kind("completed");
      } else {
        next.set_state(v1::ROLLOUT_STATE_PROGRESSING);
        next.set_step(st.step() + 1);
        event.set_kind("promoted");
      }
      event.set_reason(absl::StrCat("promoted by an operator", why));
      break;
    case Action::kAbort:
      if (st.state() == v1::ROLLOUT_STATE_ABORTED || st.state() == v1::ROLLOUT_STATE_ROLLED_BACK) {
        return absl::FailedPreconditionError(
            absl::StrCat("rollout \"", name, "\" is already ", state_name));
      }
      next.set_state(v1::ROLLOUT_STATE_ABORTED);
      next.set_operator_paused(false);
      event.set_kind("aborted");
      event.set_reason(absl::StrCat("aborted by an operator", why));
      break;
  }
  next.set_reason(event.reason());
  next.set_canary_weight(CanaryWeight(*spec, next));
  absl::StatusOr<bool> saved = Write(&next, st.version(), &event, now);
  if (!saved.ok()) return absl::UnavailableError(saved.status().message());
  if (!*saved) {
    return absl::AbortedError(
        absl::StrCat("rollout \"", name, "\" changed while this action was made; look again"));
  }
  // Routing follows at once, on this replica (unless a new bundle came meanwhile: the next tick
  // publishes); the others within a tick.
  if (policy_.Current() != policy) return next;
  std::vector<v1::RolloutStatus> statuses = Statuses("");
  for (v1::RolloutStatus& s : statuses) {
    if (s.name() == name) {
      next.set_actor(s.actor());
      s = next;
    }
  }
  std::vector<const RolloutSpec*> specs;
  for (const RolloutSpec& s : policy->bundle().rollouts) specs.push_back(&s);
  Publish(specs, statuses);
  return next;
}

}  // namespace llmrouter::decision
