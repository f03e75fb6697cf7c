// Turns probe results, load scrapes and gateway outcome reports into each endpoint's live
// status: the health state machine, EWMA latency/TTFT, error rate and outlier ejection.
#ifndef LLMROUTER_SERVICES_INVENTORY_HEALTH_MONITOR_H_
#define LLMROUTER_SERVICES_INVENTORY_HEALTH_MONITOR_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "llmrouter/v1/inventory.pb.h"
#include "services/inventory/endpoint_registry.h"
#include "services/inventory/health_config.h"

namespace llmrouter::inventory {

// A HealthMonitor is safe for concurrent use; Record* calls are cheap and never publish.
// Evaluate() computes every endpoint's LiveStatus at once, so that the caller applies all of a
// tick's news to the registry as one change.
//
// Health, strongest reason first (DRAINING is the registry's, set by an operator):
//   ejected by outcomes                                  -> UNHEALTHY
//   probes failed unhealthy_threshold times in a row, and
//   have not yet passed healthy_threshold times since   -> UNHEALTHY
//   a probe failed, fewer than unhealthy_threshold times  -> DEGRADED
//   error rate >= degraded_error_rate (enough outcomes)   -> DEGRADED
//   a probe passed                                        -> HEALTHY
//   nothing learned yet                                   -> the configured health
// Ejection: `consecutive_failures` failed outcomes in a row (status 0 or 5xx), or an error rate
// (EWMA) >= `error_rate` after `min_requests` outcomes, ejects for base_ejection * 2^(n-1),
// capped at max_ejection, n counting ejections since the endpoint was last stable for
// max_ejection. When the time is up the endpoint is re-admitted half-open: its next outcome
// closes the breaker (success) or ejects it again for longer (failure). An ejection for being
// unreachable (every failure in the streak had no HTTP status: refused, reset, timed out) ends
// early, half-open, once healthy_threshold probes have passed since it began: the probes show
// the backend is back (a restarted pod), as Envoy's successful_active_health_check_uneject_host
// does. Ejections for 5xx answers or an error rate run their time: a probe does not exercise
// inference.
class HealthMonitor {
 public:
  HealthMonitor(const Clock& clock, OutlierSettings outlier);

  void RecordProbe(const std::string& id, const ProbeSettings& probe, bool ok,
                   const std::string& detail);
  // A failed scrape keeps the last load (its updated_at tells its age).
  void RecordScrape(const std::string& id, const absl::StatusOr<ScrapedLoad>& load);
  void RecordOutcome(const llmrouter::v1::Outcome& outcome);

  // Live status of every endpoint of `snapshot`; forgets endpoints no longer in it.
  absl::flat_hash_map<std::string, LiveStatus> Evaluate(
      const llmrouter::v1::InventorySnapshot& snapshot);

  // Counts since construction, for metrics.
  int64_t ejections() const;

 private:
  enum class ProbeState { kUnknown, kHealthy, kFailing, kUnhealthy, kRecovering };
  struct State {
    ProbeState probe = ProbeState::kUnknown;
    int probe_ok_streak = 0;
    int probe_fail_streak = 0;
    std::string probe_detail;

    std::optional<ScrapedLoad> scraped;
    absl::Time scraped_at = absl::InfinitePast();

    bool have_latency = false;
    double latency_s = 0;
    bool have_ttft = false;
    double ttft_s = 0;
    double error_rate = 0;
    int64_t outcomes = 0;  // since the last ejection
    int fail_streak = 0;
    int unreachable_streak = 0;  // the failures of fail_streak that had no HTTP status
    absl::Time last_outcome = absl::InfinitePast();
    int64_t window_outcomes = 0;  // since the last Evaluate, for the in-flight estimate
    double in_flight = 0;

    int ejection_count = 0;
    absl::Time ejected_until = absl::InfinitePast();
    bool half_open = false;
    absl::Time stable_since = absl::InfinitePast();
    std::string ejection_reason;
    bool ejected_unreachable = false;
    int probes_passed_since_ejection = 0;
  };
  void EjectLocked(const std::string& id, State& s, absl::Time now, std::string reason,
                   bool unreachable) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  const OutlierSettings outlier_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, State> states_ ABSL_GUARDED_BY(mu_);
  absl::Time last_evaluate_ ABSL_GUARDED_BY(mu_);
  int64_t ejections_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_HEALTH_MONITOR_H_
