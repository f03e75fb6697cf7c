// Sends the outcome of every proxied request to inventory in batches, off the request path: a
// request only appends to a bounded queue; a background thread drains it.
#ifndef LLMROUTER_SERVICES_GATEWAY_OUTCOME_REPORTER_H_
#define LLMROUTER_SERVICES_GATEWAY_OUTCOME_REPORTER_H_

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/periodic_task.h"
#include "llmrouter/v1/decision.pb.h"
#include "llmrouter/v1/inventory.pb.h"

namespace llmrouter::gateway {

// Where batches go; the gRPC implementation calls InventoryService/ReportOutcomes. Called only
// from the reporter's own thread, so it may block (within its own deadline).
class OutcomeSink {
 public:
  virtual ~OutcomeSink() = default;
  virtual absl::Status Send(const v1::ReportOutcomesRequest& batch) = 0;
};

// A sink that calls InventoryService/ReportOutcomes on every replica behind `target` (a dns:
// name or an ipv4:/ipv6: list; a plain host:port is one), each call bounded by `timeout`,
// with "authorization: Bearer <reporter_token>" unless the token is empty (inventory refuses
// reports without it once it protects writes). A batch that reached any replica counts as sent.
std::unique_ptr<OutcomeSink> MakeGrpcOutcomeSink(const std::string& target,
                                                 std::chrono::milliseconds timeout,
                                                 std::string reporter_token = "");
// A sink that calls DecisionService/ReportUsage at `target` (spending limits, rollout analysis),
// with `reporter_token` (decision's --reporter_token_file) as its bearer token when set.
std::unique_ptr<OutcomeSink> MakeGrpcUsageSink(const std::string& target,
                                               std::chrono::milliseconds timeout,
                                               std::string reporter_token = "");
// What DecisionService/ReportUsage needs of a batch: per tenant, model and whether the backend
// reported tokens, one outcome with the attempts, tokens and costs added up. A sum that would
// overflow its token counters starts another outcome.
v1::ReportUsageRequest SummarizeUsage(const v1::ReportOutcomesRequest& batch);
// Adds to `out` the batch's attempts counted per model and track (VariantStats), for rollout
// analysis; SummarizeUsage calls it.
void SummarizeVariants(const v1::ReportOutcomesRequest& batch, v1::ReportUsageRequest* out);

// Sends every batch to each sink in turn; fails when any failed, after trying them all.
std::unique_ptr<OutcomeSink> MakeFanOutSink(std::vector<std::unique_ptr<OutcomeSink>> sinks);

struct OutcomeReporterOptions {
  std::string reporter;  // identifies this gateway replica
  std::size_t max_queue = 10000;
  // Outcomes per ReportOutcomes call: at tens of thousands of requests a second, fewer and
  // larger calls cost the gateway, inventory and decision less.
  std::size_t max_batch = 5000;
  std::chrono::milliseconds flush_interval{250};
};

// Report() is safe from any thread and never blocks on the sink: when the queue is full the
// outcome is dropped and counted. Batches that the sink fails are dropped and counted too (an
// outcome report is a hint; retrying would only pile up behind an absent inventory).
// Metrics: llmrouter_gateway_outcomes_total{result="sent|dropped_queue_full|dropped_send_failed"}.
class OutcomeReporter {
 public:
  OutcomeReporter(OutcomeReporterOptions options, std::unique_ptr<OutcomeSink> sink,
                  prometheus::Registry& registry);
  ~OutcomeReporter();

  void Start();
  // Sends what is queued once more, then stops the thread.
  void Stop();

  void Report(v1::Outcome outcome);
  // Drains the queue now, on the calling thread (what the timer does).
  void Flush();

 private:
  OutcomeReporterOptions options_;
  std::unique_ptr<OutcomeSink> sink_;
  prometheus::Counter& sent_;
  prometheus::Counter& dropped_full_;
  prometheus::Counter& dropped_failed_;
  absl::Mutex mu_;
  std::deque<v1::Outcome> queue_ ABSL_GUARDED_BY(mu_);
  absl::Mutex flush_mu_;  // one drain at a time
  PeriodicTask task_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_OUTCOME_REPORTER_H_
