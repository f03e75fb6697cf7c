// inventory: tracks every model backend endpoint and streams the fleet to decision replicas.
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/file_change.h"
#include "common/logging.h"
#include "common/periodic_task.h"
#include "common/service_runner.h"
#include "services/inventory/endpoint_file.h"
#include "services/inventory/endpoint_registry.h"
#include "services/inventory/inventory_metrics.h"
#include "services/inventory/inventory_service.h"

ABSL_FLAG(std::string, endpoints_file, "",
          "YAML file of static endpoints; re-read when it changes (e.g. a ConfigMap)");
ABSL_FLAG(int, maintenance_interval_ms, 1000,
          "How often heartbeat TTLs are checked and the endpoints file is looked at");

int main(int argc, char** argv) {
  llmrouter::BlockShutdownSignals();
  absl::SetProgramUsageMessage("llm-router inventory service");
  absl::ParseCommandLine(argc, argv);
  auto options = llmrouter::ServiceOptionsFromFlags({"inventory", 50061, 9461});
  if (!options.ok()) {
    fprintf(stderr, "inventory: %s\n", options.status().ToString().c_str());
    return 2;
  }
  llmrouter::ServiceRunner runner(*options);
  llmrouter::inventory::InventoryMetrics metrics(*runner.registry());
  llmrouter::inventory::EndpointRegistry registry;

  const std::string file = absl::GetFlag(FLAGS_endpoints_file);
  llmrouter::FileChangeDetector file_change(file);
  if (!file.empty()) {
    auto endpoints = llmrouter::inventory::LoadEndpointsFile(file);
    if (!endpoints.ok()) {
      spdlog::error("endpoints_file_invalid path={} error=\"{}\"", file,
                    endpoints.status().message());
      return 2;
    }
    if (auto s = registry.ReplaceStatic(*std::move(endpoints)); !s.ok()) {
      spdlog::error("endpoints_file_invalid path={} error=\"{}\"", file, s.message());
      return 2;
    }
    spdlog::info("endpoints_loaded path={} count={}", file,
                 registry.Snapshot()->snapshot().endpoints_size());
  }

  llmrouter::inventory::InventoryServiceImpl service(registry, metrics);
  if (auto s = runner.StartMetrics(); !s.ok()) {
    spdlog::error("startup_failed error=\"{}\"", s.message());
    return 1;
  }
  if (auto s = runner.StartGrpc({&service}, {"llmrouter.v1.InventoryService"}); !s.ok()) {
    spdlog::error("startup_failed error=\"{}\"", s.message());
    return 1;
  }

  llmrouter::PeriodicTask maintenance(
      absl::Milliseconds(absl::GetFlag(FLAGS_maintenance_interval_ms)), [&] {
        if (int n = registry.ExpireDue(); n > 0) {
          metrics.expired.Increment(n);
          spdlog::info("endpoints_expired count={}", n);
        }
        if (file.empty()) return;
        if (!file_change.Changed()) return;
        auto endpoints = llmrouter::inventory::LoadEndpointsFile(file);
        absl::Status s =
            endpoints.ok() ? registry.ReplaceStatic(*std::move(endpoints)) : endpoints.status();
        if (s.ok()) {
          spdlog::info("endpoints_reloaded path={} version={}", file, registry.version());
        } else {
          // A bad edit keeps the endpoints that were loaded before.
          spdlog::error("endpoints_reload_rejected path={} error=\"{}\"", file, s.message());
        }
      });
  maintenance.Start();

  if (auto s = runner.WriteReadyFile(); !s.ok())
    spdlog::warn("ready_file error=\"{}\"", s.message());
  int sig = llmrouter::WaitForShutdownSignal();
  spdlog::info("shutdown signal={}", sig);
  maintenance.Stop();
  service.CloseWatchers();
  runner.Shutdown();
  return 0;
}
