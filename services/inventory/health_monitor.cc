#include "services/inventory/health_monitor.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/proto_time.h"

namespace llmrouter::inventory {

using llmrouter::v1::HealthState;

HealthMonitor::HealthMonitor(const Clock& clock, OutlierSettings outlier)
    : clock_(clock), outlier_(outlier), last_evaluate_(clock.Now()) {}

void HealthMonitor::RecordProbe(const std::string& id, const ProbeSettings& probe, bool ok,
                                const std::string& detail) {
  absl::MutexLock lock(&mu_);
  State& s = states_[id];
  if (ok && s.ejected_unreachable && s.ejected_until != absl::InfinitePast() &&
      ++s.probes_passed_since_ejection >= probe.healthy_threshold) {
    // Reachable again: on trial now rather than when the ejection would have run out.
    spdlog::info("endpoint_readmitted id={} reason=\"{} probes passed since the ejection\"", id,
                 s.probes_passed_since_ejection);
    s.ejected_until = absl::InfinitePast();
    s.ejected_unreachable = false;
    s.half_open = true;
  }
  if (!ok) s.probes_passed_since_ejection = 0;
  if (ok) {
    ++s.probe_ok_streak;
    s.probe_fail_streak = 0;
    const bool was_down = s.probe == ProbeState::kUnhealthy || s.probe == ProbeState::kRecovering;
    s.probe = was_down && s.probe_ok_streak < probe.healthy_threshold ? ProbeState::kRecovering
                                                                      : ProbeState::kHealthy;
    if (s.probe == ProbeState::kHealthy) s.probe_detail.clear();
    return;
  }
  ++s.probe_fail_streak;
  s.probe_ok_streak = 0;
  // The count stops at the threshold: a dead endpoint's detail must not change with every
  // probe, or each probe would publish a new inventory version.
  s.probe_detail =
      absl::StrCat("probe: ", detail, " (",
                   std::min(s.probe_fail_streak, probe.unhealthy_threshold), " in a row)");
  if (s.probe_fail_streak >= probe.unhealthy_threshold || s.probe == ProbeState::kUnhealthy ||
      s.probe == ProbeState::kRecovering) {
    s.probe = ProbeState::kUnhealthy;
  } else {
    s.probe = ProbeState::kFailing;
  }
}

void HealthMonitor::RecordScrape(const std::string& id, const absl::StatusOr<ScrapedLoad>& load) {
  if (!load.ok()) return;
  absl::MutexLock lock(&mu_);
  State& s = states_[id];
  s.scraped = *load;
  s.scraped_at = clock_.Now();
}

void HealthMonitor::EjectLocked(const std::string& id, State& s, absl::Time now,
                                std::string reason, bool unreachable) {
  ++s.ejection_count;
  ++ejections_;
  absl::Duration d = outlier_.base_ejection;
  for (int i = 1; i < s.ejection_count && d < outlier_.max_ejection; ++i) d *= 2;
  d = std::min(d, outlier_.max_ejection);
  s.ejected_until = now + d;
  s.half_open = false;
  s.ejected_unreachable = unreachable;
  s.probes_passed_since_ejection = 0;
  spdlog::warn("endpoint_ejected id={} reason=\"{}\" for={} ejection={}", id, reason,
               absl::FormatDuration(d), s.ejection_count);
  s.ejection_reason = std::move(reason);
  // Judge the endpoint afresh once it is back.
  s.fail_streak = 0;
  s.unreachable_streak = 0;
  s.outcomes = 0;
  s.error_rate = 0;
}

constexpr char kClientGone[] = "client_gone";

void HealthMonitor::RecordOutcome(const llmrouter::v1::Outcome& o) {
  const absl::Time now = clock_.Now();
  const double alpha = outlier_.ewma_alpha;
  const bool failed = o.http_status() == 0 || o.http_status() >= 500;
  absl::MutexLock lock(&mu_);
  State& s = states_[o.endpoint_id()];
  ++s.window_outcomes;
  s.last_outcome = now;
  // The client left before the answer was complete (a cancelled chat, a load generator that
  // stops): the request counts as load, but says nothing about the backend's health.
  if (o.error() == kClientGone) return;
  if (!failed) {
    double latency = absl::ToDoubleSeconds(FromProto(o.latency()));
    s.latency_s = s.have_latency ? alpha * latency + (1 - alpha) * s.latency_s : latency;
    s.have_latency = true;
    if (o.has_time_to_first_token()) {
      double ttft = absl::ToDoubleSeconds(FromProto(o.time_to_first_token()));
      s.ttft_s = s.have_ttft ? alpha * ttft + (1 - alpha) * s.ttft_s : ttft;
      s.have_ttft = true;
    }
  }
  if (now < s.ejected_until) return;  // reports of requests sent before the ejection
  ++s.outcomes;
  s.error_rate = s.outcomes == 1 ? (failed ? 1.0 : 0.0)
                                 : alpha * (failed ? 1.0 : 0.0) + (1 - alpha) * s.error_rate;
  const bool unreachable = o.http_status() == 0;
  s.fail_streak = failed ? s.fail_streak + 1 : 0;
  s.unreachable_streak = unreachable ? s.unreachable_streak + 1 : 0;
  if (s.half_open) {
    if (failed) {
      EjectLocked(o.endpoint_id(), s, now, "failed again after re-admission", unreachable);
    } else {
      s.half_open = false;
      s.stable_since = now;
    }
    return;
  }
  if (s.fail_streak >= outlier_.consecutive_failures) {
    const bool all_unreachable = s.unreachable_streak >= s.fail_streak;
    EjectLocked(o.endpoint_id(), s, now,
                absl::StrCat(s.fail_streak, " consecutive failures",
                             all_unreachable ? " (unreachable)" : ""),
                all_unreachable);
  } else if (s.outcomes >= outlier_.min_requests && s.error_rate >= outlier_.error_rate) {
    EjectLocked(o.endpoint_id(), s, now, absl::StrFormat("error rate %.2f", s.error_rate),
                /*unreachable=*/false);
  }
}

absl::flat_hash_map<std::string, LiveStatus> HealthMonitor::Evaluate(
    const llmrouter::v1::InventorySnapshot& snapshot) {
  const absl::Time now = clock_.Now();
  absl::flat_hash_map<std::string, LiveStatus> out;
  absl::MutexLock lock(&mu_);
  const double window_s = std::max(absl::ToDoubleSeconds(now - last_evaluate_), 1e-3);
  last_evaluate_ = now;
  absl::flat_hash_map<std::string, State> kept;
  for (const auto& e : snapshot.endpoints()) {
    auto node = states_.extract(e.id());
    State s = node.empty() ? State{} : std::move(node.mapped());
    LiveStatus live;
    // Re-admission: the ejection has run out.
    if (s.ejected_until != absl::InfinitePast() && now >= s.ejected_until && !s.half_open) {
      s.half_open = true;
      s.ejected_until = absl::InfinitePast();
    }
    if (s.ejection_count > 0 && !s.half_open && now >= s.ejected_until &&
        s.stable_since != absl::InfinitePast() && now - s.stable_since >= outlier_.max_ejection) {
      s.ejection_count = 0;  // stable long enough: the next ejection starts short again
    }
    // Little's law: the concurrency outcome reports imply, rate times mean latency.
    s.in_flight = static_cast<double>(s.window_outcomes) / window_s * s.latency_s;
    s.window_outcomes = 0;

    if (now < s.ejected_until) {
      live.health = llmrouter::v1::HEALTH_STATE_UNHEALTHY;
      live.detail =
          absl::StrCat("ejected: ", s.ejection_reason, ", until ",
                       absl::FormatTime(absl::RFC3339_sec, s.ejected_until, absl::UTCTimeZone()),
                       " (ejection ", s.ejection_count, ")");
    } else if (s.probe == ProbeState::kUnhealthy || s.probe == ProbeState::kRecovering) {
      live.health = llmrouter::v1::HEALTH_STATE_UNHEALTHY;
      live.detail = s.probe_detail.empty() ? "probe: recovering" : s.probe_detail;
    } else if (s.probe == ProbeState::kFailing) {
      live.health = llmrouter::v1::HEALTH_STATE_DEGRADED;
      live.detail = s.probe_detail;
    } else if (s.outcomes >= outlier_.min_requests &&
               s.error_rate >= outlier_.degraded_error_rate) {
      live.health = llmrouter::v1::HEALTH_STATE_DEGRADED;
      live.detail = absl::StrFormat("error rate %.2f", s.error_rate);
    } else if (s.probe == ProbeState::kHealthy || s.half_open || s.outcomes > 0) {
      live.health = llmrouter::v1::HEALTH_STATE_HEALTHY;
      if (s.half_open) live.detail = "re-admitted after ejection, on trial";
    }

    llmrouter::v1::EndpointLoad& load = live.load;
    absl::Time updated = std::max(s.scraped_at, s.last_outcome);
    if (s.scraped) {
      load.set_requests_running(s.scraped->requests_running.value_or(0));
      load.set_requests_waiting(s.scraped->requests_waiting.value_or(0));
      load.set_kv_cache_usage(s.scraped->kv_cache_usage.value_or(0));
    }
    if (s.have_latency) ToProto(absl::Seconds(s.latency_s), load.mutable_latency_ewma());
    if (s.have_ttft) ToProto(absl::Seconds(s.ttft_s), load.mutable_ttft_ewma());
    load.set_error_rate(s.error_rate);
    load.set_in_flight(std::llround(s.in_flight));
    if (updated != absl::InfinitePast()) ToProto(updated, load.mutable_updated_at());
    out.emplace(e.id(), std::move(live));
    kept.emplace(e.id(), std::move(s));
  }
  states_ = std::move(kept);
  return out;
}

int64_t HealthMonitor::ejections() const {
  absl::MutexLock lock(&mu_);
  return ejections_;
}

}  // namespace llmrouter::inventory
