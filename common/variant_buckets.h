// The fixed histogram bounds of VariantStats (decision.proto): gateways count each model's
// attempts per endpoint track in these buckets, and decision reads quantiles out of them to judge
// a rollout's canary against its stable track.
#ifndef LLMROUTER_COMMON_VARIANT_BUCKETS_H_
#define LLMROUTER_COMMON_VARIANT_BUCKETS_H_

#include <array>
#include <cstddef>

namespace llmrouter {

// Upper bounds in seconds; each histogram has one bucket more, without a bound.
inline constexpr std::array<double, 11> kVariantLatencyBounds = {0.1, 0.25, 0.5, 1,  2,  4,
                                                                 8,   16,   32,  64, 128};
inline constexpr std::array<double, 10> kVariantTtftBounds = {0.025, 0.05, 0.1, 0.25, 0.5,
                                                              1,     2,    4,   8,    16};

// The bucket `seconds` falls in: the first whose bound is at least it, else the last.
template <std::size_t N>
constexpr std::size_t VariantBucket(const std::array<double, N>& bounds, double seconds) {
  std::size_t i = 0;
  while (i < N && seconds > bounds[i]) ++i;
  return i;
}

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_VARIANT_BUCKETS_H_
