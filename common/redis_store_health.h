// How one use of a shared Redis is doing, for operators: four metrics named after the use
// (<prefix>_up, <prefix>_errors_total, <prefix>_data_lost_total, <prefix>_may_evict) and a log
// line when it goes down or comes back, never one per failed sync.
#ifndef LLMROUTER_COMMON_REDIS_STORE_HEALTH_H_
#define LLMROUTER_COMMON_REDIS_STORE_HEALTH_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/redis_connection.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace llmrouter {

class RedisStoreHealth {
 public:
  // `what` names the state in help texts and logs ("rate limit counts"); `down_note` is added to
  // the log line when the store goes down ("limits fail open").
  RedisStoreHealth(prometheus::Registry& registry, const std::string& prefix, std::string what,
                   std::string address, std::string down_note);

  // After each exchange with Redis (from the one thread that owns `redis`): its result, and what
  // the connection learned on (re)connecting, whether Redis may evict keys or lost its data.
  void Observe(const RedisConnection& redis, const absl::Status& result);
  bool up() const { return up_.load(); }
  // Data losses observed by the last Observe that were not seen before it (0 or more).
  int64_t new_data_losses() const { return new_data_losses_; }

 private:
  const std::string what_;
  const std::string address_;
  const std::string down_note_;
  const std::string log_name_;  // "spend_store" from "llmrouter_decision_spend_store"
  prometheus::Gauge& up_gauge_;
  prometheus::Counter& errors_;
  prometheus::Counter& data_lost_;
  prometheus::Gauge& may_evict_;
  std::atomic<bool> up_{false};
  bool logged_down_ = false;
  int64_t data_losses_seen_ = 0;
  int64_t new_data_losses_ = 0;
};

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_REDIS_STORE_HEALTH_H_
