// Follows the gateway's configuration that may change while it runs: API keys, fail-safe routes,
// backend credentials. Each is polled on one background thread and swapped in when it changed.
#ifndef LLMROUTER_SERVICES_GATEWAY_CONFIG_RELOADER_H_
#define LLMROUTER_SERVICES_GATEWAY_CONFIG_RELOADER_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/periodic_task.h"
#include "services/gateway/gateway_metrics.h"

namespace llmrouter::gateway {

// Every `interval`, asks each item to reload itself if its sources changed. A reload that fails
// keeps the item's previous value; it is logged and counted in
// llmrouter_gateway_config_reloads_total{config,result="rejected"}, an applied one with
// result="applied". Add() before Start(); Start() and Stop() from one owning thread.
class ConfigReloader {
 public:
  // True when a new value is in use, false when nothing changed, an error when the new sources
  // were rejected (e.g. Reloadable::ReloadIfChanged).
  using Reload = std::function<absl::StatusOr<bool>()>;

  ConfigReloader(GatewayMetrics& metrics, absl::Duration interval);
  ~ConfigReloader() { Stop(); }

  // `name` labels the metric and the log lines.
  void Add(std::string name, Reload reload);
  // Adds `item`, anything with `absl::StatusOr<bool> ReloadIfChanged()` (a Reloadable, the
  // ApiKeyStore), and returns it, now shared with the reloader.
  template <typename T>
  std::shared_ptr<T> Follow(std::string name, std::unique_ptr<T> item) {
    std::shared_ptr<T> shared = std::move(item);
    Add(std::move(name), [shared] { return shared->ReloadIfChanged(); });
    return shared;
  }
  void Start() { task_.Start(); }
  void Stop() { task_.Stop(); }
  // One pass over every item on the calling thread: what the task does every interval.
  void ReloadChanged();

 private:
  GatewayMetrics& metrics_;
  std::vector<std::pair<std::string, Reload>> items_;
  PeriodicTask task_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_CONFIG_RELOADER_H_
