// What each model's endpoint tracks did lately, as gateways report it (ReportUsageRequest's
// VariantStats): attempts, failures, and latency and time-to-first-token histograms, kept in
// time slots so that a rollout's canary and stable tracks can be compared over the same window
// (rates and quantiles of a window, not moving averages).
#ifndef LLMROUTER_SERVICES_DECISION_VARIANT_WINDOWS_H_
#define LLMROUTER_SERVICES_DECISION_VARIANT_WINDOWS_H_

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/variant_buckets.h"
#include "llmrouter/v1/decision.pb.h"

namespace llmrouter::decision {

// Track names are at most this long (the bundle's track names are 63 characters at most).
inline constexpr std::size_t kMaxTrackBytes = 63;

// One variant's counts over some time.
struct VariantCounts {
  uint64_t requests = 0;
  uint64_t errors = 0;
  std::array<uint64_t, kVariantLatencyBounds.size() + 1> latency{};
  std::array<uint64_t, kVariantTtftBounds.size() + 1> ttft{};

  void Add(const VariantCounts& other);
  // errors / requests; 0 without requests.
  double ErrorRate() const;
  // The q-quantile (0 < q <= 1) of successful answers' latency or time to first token, in
  // seconds, interpolated within its bucket (the last, unbounded bucket reads as its lower
  // bound); 0 without a sample.
  double LatencyQuantile(double q) const;
  double TtftQuantile(double q) const;
  uint64_t latency_samples() const;
  uint64_t ttft_samples() const;
};

// One slot's counts of one variant, as shared with other replicas (rollout_store.h).
// The first and last slot index of [now - window, now], from the first slot that begins at or
// after `not_before`; first > last when none does.
std::pair<int64_t, int64_t> WindowSlots(absl::Duration slot, absl::Duration window, absl::Time now,
                                        absl::Time not_before);

struct VariantSlotTotals {
  std::string model;
  std::string track;
  int64_t slot = 0;  // unix time / slot length
  VariantCounts counts;
};

// "requests,errors,latency buckets...,ttft buckets..." as decimal numbers; false when `text` is
// not one.
std::string EncodeVariantCounts(const VariantCounts& counts);
bool DecodeVariantCounts(std::string_view text, VariantCounts* out);

// Thread-safe. Keeps `keep` of history per model and track in slots of `slot`; at most
// `max_variants` variants: when full, variants with nothing left in the kept history make room,
// and reports for more are dropped and counted in dropped().
class VariantWindows {
 public:
  explicit VariantWindows(absl::Duration slot = absl::Seconds(10),
                          absl::Duration keep = absl::Hours(1), std::size_t max_variants = 1000);

  // Adds one report's counts at `at`. Histograms of the wrong size are ignored (their counts of
  // requests and errors are kept).
  void Record(const llmrouter::v1::VariantStats& stats, absl::Time at);
  // The counts of (model, track) in the slots that overlap [now - window, now], leaving out
  // slots that began before `not_before` (a step's start: no count from before it).
  VariantCounts Window(const std::string& model, const std::string& track, absl::Duration window,
                       absl::Time now, absl::Time not_before = absl::InfinitePast()) const;
  uint64_t dropped() const;
  absl::Duration slot() const { return slot_; }
  // The slots changed since the last call, with their totals (for the shared counts). Only
  // after EnableSharing: before, nothing is marked.
  std::vector<VariantSlotTotals> TakeChanged();
  void EnableSharing();

 private:
  struct Slot {
    int64_t index = 0;  // time / slot
    VariantCounts counts;
    bool changed = false;
  };
  const absl::Duration slot_;
  const int64_t keep_slots_;
  const std::size_t max_variants_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, std::string>, std::deque<Slot>> variants_
      ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool sharing_ ABSL_GUARDED_BY(mu_) = false;
  bool any_changed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_VARIANT_WINDOWS_H_
