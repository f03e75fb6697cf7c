#include "services/gateway/config_reloader.h"

#include "common/logging.h"

namespace llmrouter::gateway {

ConfigReloader::ConfigReloader(GatewayMetrics& metrics, absl::Duration interval)
    : metrics_(metrics), task_(interval, [this] { ReloadChanged(); }) {}

void ConfigReloader::Add(std::string name, Reload reload) {
  items_.emplace_back(std::move(name), std::move(reload));
}

void ConfigReloader::ReloadChanged() {
  for (auto& [name, reload] : items_) {
    absl::StatusOr<bool> reloaded = reload();
    if (!reloaded.ok()) {
      spdlog::error("config_reload_failed config={} error=\"{}\" keeping=previous", name,
                    reloaded.status().message());
      metrics_.ConfigReload(name, false);
    } else if (*reloaded) {
      spdlog::info("config_reloaded config={}", name);
      metrics_.ConfigReload(name, true);
    }
  }
}

}  // namespace llmrouter::gateway
