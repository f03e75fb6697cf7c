// Reads a metric back from a prometheus-cpp registry, for tests of what a component counts.
#ifndef LLMROUTER_TESTS_SUPPORT_METRIC_VALUE_H_
#define LLMROUTER_TESTS_SUPPORT_METRIC_VALUE_H_

#include <prometheus/registry.h>

#include <map>
#include <string>

namespace llmrouter::testing {

// The sum of the counter (or gauge) `name` over every series carrying all of `labels`; 0 when
// there is none.
double MetricValue(prometheus::Registry& registry, const std::string& name,
                   const std::map<std::string, std::string>& labels = {});

}  // namespace llmrouter::testing

#endif  // LLMROUTER_TESTS_SUPPORT_METRIC_VALUE_H_
