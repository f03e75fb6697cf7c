#include "common/redis_store_health.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace llmrouter {

namespace {

std::string LogName(const std::string& prefix) {
  // "llmrouter_decision_spend_store" → "spend_store": the metric names the service already.
  size_t second = prefix.find('_', prefix.find('_') + 1);
  return second == std::string::npos ? prefix : prefix.substr(second + 1);
}

}  // namespace

RedisStoreHealth::RedisStoreHealth(prometheus::Registry& registry, const std::string& prefix,
                                   std::string what, std::string address, std::string down_note)
    : what_(std::move(what)),
      address_(std::move(address)),
      down_note_(std::move(down_note)),
      log_name_(LogName(prefix)),
      up_gauge_(prometheus::BuildGauge()
                    .Name(prefix + "_up")
                    .Help(absl::StrCat("1 when the last sync of ", what_, " reached Redis, else 0"))
                    .Register(registry)
                    .Add({})),
      errors_(prometheus::BuildCounter()
                  .Name(prefix + "_errors_total")
                  .Help(absl::StrCat("Syncs of ", what_,
                                     " that failed (Redis unreachable, hung or answering errors)"))
                  .Register(registry)
                  .Add({})),
      data_lost_(prometheus::BuildCounter()
                     .Name(prefix + "_data_lost_total")
                     .Help("Reconnections that found Redis had lost its data (epoch changed)")
                     .Register(registry)
                     .Add({})),
      may_evict_(prometheus::BuildGauge()
                     .Name(prefix + "_may_evict")
                     .Help(absl::StrCat("1 when Redis's maxmemory-policy is not noeviction: ",
                                        what_, " may vanish"))
                     .Register(registry)
                     .Add({})) {}

void RedisStoreHealth::Observe(const RedisConnection& redis, const absl::Status& result) {
  const bool ok = result.ok();
  if (!ok) {
    errors_.Increment();
    if (!logged_down_) {
      spdlog::warn("{}_down redis={} error=\"{}\"{}{}", log_name_, address_, result.message(),
                   down_note_.empty() ? "" : " ", down_note_);
      logged_down_ = true;
    }
  } else if (logged_down_ || !up_.load()) {
    spdlog::info("{}_up redis={}", log_name_, address_);
    logged_down_ = false;
  }
  up_.store(ok);
  up_gauge_.Set(ok ? 1 : 0);
  may_evict_.Set(redis.may_evict() ? 1 : 0);
  new_data_losses_ = redis.data_losses() - data_losses_seen_;
  if (new_data_losses_ > 0) {
    data_lost_.Increment(static_cast<double>(new_data_losses_));
    data_losses_seen_ = redis.data_losses();
  }
}

}  // namespace llmrouter
