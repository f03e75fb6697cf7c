// Decision's log of its recent decisions, so that "why did request X go there?" has an answer
// after the fact: a compact record of every decision (the request without its text, the
// analysis, the choice, the rule and the policy's hash), with the full trace for a sample of
// decisions and for those that asked for explain. Kept in memory, bounded by bytes and by age;
// the oldest records go first. Looked up by decision id or by request id.
#ifndef LLMROUTER_SERVICES_DECISION_DECISION_LOG_H_
#define LLMROUTER_SERVICES_DECISION_DECISION_LOG_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/decision/lazy_prompt_signals.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace llmrouter::decision {

struct DecisionLogOptions {
  // What the records may take in memory, counted as their encoded size plus a fixed overhead
  // per record; 0 turns the log off.
  std::size_t max_bytes = 32u << 20;
  // Records older than this are dropped even when there is room.
  absl::Duration max_age = absl::Hours(24);
  // The share of decisions that keep their full trace (explain requests always do), in [0, 1].
  double trace_sample = 0.01;
  // This replica's name in its records.
  std::string replica;
};

// `to` becomes `from` without the prompt's text (excerpt, last_user_message), and with only the
// headers `keep_header` accepts (those a policy rule matches on; null keeps none): what the log
// keeps of a request. Other headers may carry credentials. `to` may be reused: its buffers are.
void CopyWithoutPromptText(const llmrouter::v1::RouteRequestRequest& from,
                           llmrouter::v1::RouteRequestRequest* to,
                           const std::function<bool(absl::string_view)>* keep_header = nullptr);

// A record found in the log, with what the decision learned of the prompt (to replay it).
struct LoggedDecision {
  llmrouter::v1::DecisionRecord record;
  PromptSnapshot prompt;
};

// Thread-safe. Add() builds and encodes the record outside the lock and holds the lock only to
// append it and evict; lookups scan the ids and decode one record.
class DecisionLog {
 public:
  // `registry` may be null (no metrics).
  DecisionLog(DecisionLogOptions options, prometheus::Registry* registry);

  bool enabled() const { return options_.max_bytes > 0; }
  void set_replica(std::string replica);
  // Whether the next decision should keep its full trace (a draw at trace_sample).
  bool SampleTrace() const;

  // Records one decision made at `at`. `response` is the answer before the explain policy
  // trimmed its trace (its trace, when present, is kept whole); for a failed decision it holds
  // what Route filled. `decision_id` names failed decisions (response has none).
  // `keep_header` (may be null: none) says which request headers are kept.
  void Add(absl::Time at, const llmrouter::v1::RouteRequestRequest& request,
           const absl::Status& status, const llmrouter::v1::RouteRequestResponse& response,
           const PromptSnapshot& prompt, absl::string_view decision_id,
           const std::function<bool(absl::string_view)>* keep_header = nullptr);

  // The decision with this decision id, else the latest with this request id; nullopt when
  // neither is held (never made here, or evicted).
  std::optional<LoggedDecision> Find(absl::string_view id, absl::Time now);

  std::size_t records() const;
  std::size_t bytes() const;

 private:
  struct Entry {
    uint64_t seq = 0;
    absl::Time at;
    // The encoded DecisionRecord, then the PromptSnapshot's bytes.
    std::string blob;
    std::size_t record_size = 0;
    std::size_t bytes = 0;  // what the entry counts against max_bytes
  };
  void EvictLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PopFrontLocked(prometheus::Counter* reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateGaugesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const DecisionLogOptions options_;
  mutable absl::Mutex mu_;
  std::string replica_ ABSL_GUARDED_BY(mu_);
  // Oldest first. Lookups scan it, newest first: they are an operator's, rare, and a scan of
  // tens of thousands of ids takes well under a millisecond, whereas indexes would cost every
  // decision their upkeep.
  std::deque<Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;

  prometheus::Gauge* records_gauge_ = nullptr;
  prometheus::Gauge* bytes_gauge_ = nullptr;
  prometheus::Counter* added_ = nullptr;
  prometheus::Counter* traces_ = nullptr;
  prometheus::Counter* evicted_bytes_ = nullptr;
  prometheus::Counter* evicted_age_ = nullptr;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_DECISION_LOG_H_
