#include "services/decision/variant_windows.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace llmrouter::decision {

namespace {

template <std::size_t N>
double Quantile(const std::array<uint64_t, N + 1>& buckets, const std::array<double, N>& bounds,
                double q) {
  uint64_t total = 0;
  for (uint64_t n : buckets) total += n;
  if (total == 0) return 0;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
  double seen = 0;
  for (std::size_t i = 0; i <= N; ++i) {
    if (buckets[i] == 0) continue;
    const double lower = i == 0 ? 0 : bounds[i - 1];
    if (i == N) return lower;  // beyond the last bound: its lower bound is all that is known
    if (seen + static_cast<double>(buckets[i]) >= rank) {
      return lower + (bounds[i] - lower) * (rank - seen) / static_cast<double>(buckets[i]);
    }
    seen += static_cast<double>(buckets[i]);
  }
  return bounds[N - 1];
}

template <std::size_t N>
uint64_t Sum(const std::array<uint64_t, N>& buckets) {
  uint64_t total = 0;
  for (uint64_t n : buckets) total += n;
  return total;
}

}  // namespace

void VariantCounts::Add(const VariantCounts& other) {
  requests += other.requests;
  errors += other.errors;
  for (std::size_t i = 0; i < latency.size(); ++i) latency[i] += other.latency[i];
  for (std::size_t i = 0; i < ttft.size(); ++i) ttft[i] += other.ttft[i];
}

double VariantCounts::ErrorRate() const {
  return requests == 0 ? 0 : static_cast<double>(errors) / static_cast<double>(requests);
}

double VariantCounts::LatencyQuantile(double q) const {
  return Quantile<kVariantLatencyBounds.size()>(latency, kVariantLatencyBounds, q);
}

double VariantCounts::TtftQuantile(double q) const {
  return Quantile<kVariantTtftBounds.size()>(ttft, kVariantTtftBounds, q);
}

uint64_t VariantCounts::latency_samples() const { return Sum(latency); }
uint64_t VariantCounts::ttft_samples() const { return Sum(ttft); }

VariantWindows::VariantWindows(absl::Duration slot, absl::Duration keep, std::size_t max_variants)
    : slot_(slot),
      keep_slots_(std::max<int64_t>(1, absl::IDivDuration(keep, slot, &keep))),
      max_variants_(max_variants) {}

void VariantWindows::Record(const llmrouter::v1::VariantStats& stats, absl::Time at) {
  VariantCounts add;
  add.requests = stats.requests();
  add.errors = std::min(stats.errors(), stats.requests());
  if (static_cast<std::size_t>(stats.latency_buckets_size()) == add.latency.size()) {
    std::copy(stats.latency_buckets().begin(), stats.latency_buckets().end(), add.latency.begin());
  }
  if (static_cast<std::size_t>(stats.ttft_buckets_size()) == add.ttft.size()) {
    std::copy(stats.ttft_buckets().begin(), stats.ttft_buckets().end(), add.ttft.begin());
  }
  const int64_t index = absl::ToUnixNanos(at) / absl::ToInt64Nanoseconds(slot_);
  absl::MutexLock lock(&mu_);
  auto key = std::make_pair(stats.model(), stats.track().empty() ? "stable" : stats.track());
  auto it = variants_.find(key);
  if (it == variants_.end()) {
    if (variants_.size() >= max_variants_) {
      absl::erase_if(variants_, [&](const auto& v) {
        return v.second.empty() || v.second.back().index <= index - keep_slots_;
      });
    }
    if (variants_.size() >= max_variants_) {
      ++dropped_;
      return;
    }
    it = variants_.emplace(std::move(key), std::deque<Slot>()).first;
  }
  std::deque<Slot>& slots = it->second;
  // In time order; a late batch counts in its own slot while that is kept.
  const int64_t newest = slots.empty() ? index : std::max(index, slots.back().index);
  if (index <= newest - keep_slots_) return;
  auto pos = std::lower_bound(slots.begin(), slots.end(), index,
                              [](const Slot& s, int64_t i) { return s.index < i; });
  if (pos == slots.end() || pos->index != index) pos = slots.insert(pos, Slot{index, {}});
  pos->counts.Add(add);
  if (sharing_) {
    pos->changed = true;
    any_changed_ = true;
  }
  while (!slots.empty() && slots.front().index <= newest - keep_slots_) slots.pop_front();
}

std::pair<int64_t, int64_t> WindowSlots(absl::Duration slot, absl::Duration window, absl::Time now,
                                        absl::Time not_before) {
  const int64_t slot_ns = absl::ToInt64Nanoseconds(slot);
  const int64_t last = absl::ToUnixNanos(now) / slot_ns;
  int64_t first = absl::ToUnixNanos(now - window) / slot_ns;
  if (not_before != absl::InfinitePast()) {
    const int64_t start = absl::ToUnixNanos(not_before);
    first = std::max(first, start / slot_ns + (start % slot_ns != 0 ? 1 : 0));
  }
  return {first, last};
}

VariantCounts VariantWindows::Window(const std::string& model, const std::string& track,
                                     absl::Duration window, absl::Time now,
                                     absl::Time not_before) const {
  VariantCounts out;
  const auto [first, last] = WindowSlots(slot_, window, now, not_before);
  absl::MutexLock lock(&mu_);
  auto it = variants_.find(std::make_pair(model, track));
  if (it == variants_.end()) return out;
  for (const Slot& s : it->second) {
    if (s.index >= first && s.index <= last) out.Add(s.counts);
  }
  return out;
}

void VariantWindows::EnableSharing() {
  absl::MutexLock lock(&mu_);
  sharing_ = true;
}

std::vector<VariantSlotTotals> VariantWindows::TakeChanged() {
  std::vector<VariantSlotTotals> out;
  absl::MutexLock lock(&mu_);
  if (!any_changed_) return out;
  any_changed_ = false;
  for (auto& [key, slots] : variants_) {
    for (Slot& s : slots) {
      if (!s.changed) continue;
      s.changed = false;
      out.push_back({key.first, key.second, s.index, s.counts});
    }
  }
  return out;
}

std::string EncodeVariantCounts(const VariantCounts& c) {
  std::string out = absl::StrCat(c.requests, ",", c.errors);
  for (uint64_t n : c.latency) absl::StrAppend(&out, ",", n);
  for (uint64_t n : c.ttft) absl::StrAppend(&out, ",", n);
  return out;
}

bool DecodeVariantCounts(std::string_view text, VariantCounts* out) {
  std::vector<absl::string_view> parts = absl::StrSplit(absl::string_view(text.data(), text.size()), ',');
  if (parts.size() != 2 + out->latency.size() + out->ttft.size()) return false;
  std::vector<uint64_t> n(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!absl::SimpleAtoi(parts[i], &n[i])) return false;
  }
  out->requests = n[0];
  out->errors = n[1];
  std::copy(n.begin() + 2, n.begin() + 2 + out->latency.size(), out->latency.begin());
  std::copy(n.begin() + 2 + out->latency.size(), n.end(), out->ttft.begin());
  return true;
}

uint64_t VariantWindows::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

}  // namespace llmrouter::decision
