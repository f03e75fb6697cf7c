// inventory: tracks every model backend endpoint and streams the fleet to decision replicas.

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/arena_message_allocator.h"
#include "common/file_change.h"
#include "common/logging.h"
#include "common/periodic_task.h"
#include "common/redis_flags.h"
#include "common/service_runner.h"
#include "common/text_file.h"
#include "services/inventory/backend_prober.h"
#include "services/inventory/dns_discovery.h"
#include "services/inventory/endpoint_file.h"
#include "services/inventory/endpoint_registry.h"
#include "services/inventory/health_config.h"
#include "services/inventory/health_monitor.h"
#include "services/inventory/inventory_metrics.h"
#include "services/inventory/inventory_service.h"
#include "services/inventory/outcome_rate_limit.h"
#include "services/inventory/registration_sync.h"
#include "services/inventory/write_access.h"

ABSL_FLAG(std::string, endpoints_file, "",
          "YAML file of static endpoints and DNS discovery targets; re-read when it changes "
          "(e.g. a ConfigMap)");
ABSL_FLAG(int, maintenance_interval_ms, 1000,
          "How often heartbeat TTLs are checked and the endpoints file is looked at");
ABSL_FLAG(std::string, health_config, "",
          "YAML file of probe defaults, the load-metric mapping and outlier ejection settings");
ABSL_FLAG(bool, active_health_checks, true,
          "Probe every endpoint over HTTP and scrape its /metrics for load");
ABSL_FLAG(int, health_tick_ms, 1000,
          "How often probe, scrape and outcome results are applied (one inventory version at "
          "most per tick) and due probes started");
ABSL_FLAG(int, registration_sync_ms, 500,
          "How often registrations and drains are read back from --redis: every replica sees "
          "one made through another within this (its own are written at once)");
ABSL_FLAG(int, dns_interval_ms, 10000, "How often DNS discovery names are resolved again");
ABSL_FLAG(std::string, write_token, "",
          "Bearer token that RegisterEndpoint, DeregisterEndpoint and DrainEndpoint require; "
          "empty (and no --write_token_file) leaves writes open: anyone who reaches the gRPC "
          "port can register an endpoint and receive prompts (local development only)");
ABSL_FLAG(std::string, write_token_file, "", "File holding the write token (e.g. a Secret)");
ABSL_FLAG(std::string, reporter_token, "",
          "Bearer token that ReportOutcomes requires (the gateways' "
          "--inventory_reporter_token_file); the write token is accepted too. With a write "
          "token and no reporter token, reports need the write token");
ABSL_FLAG(std::string, reporter_token_file, "", "File holding the reporter token (e.g. a Secret)");
ABSL_FLAG(int64_t, max_outcomes_per_report, 10000,
          "Outcomes one ReportOutcomes call may carry (gateways send at most 5000); a larger "
          "report is refused whole with INVALID_ARGUMENT; 0: no cap");
ABSL_FLAG(int64_t, max_outcomes_per_endpoint_per_second, 10000,
          "Outcomes recorded per endpoint per second, over all gateways; the rest are dropped "
          "and counted in llmrouter_inventory_outcomes_total{result=\"rate_limited\"}, so that "
          "no reporter can flood an endpoint's error rate; 0: no cap");
ABSL_FLAG(std::string, write_allowed_cidrs, "",
          "Comma-separated address ranges writes may come from, e.g. 10.0.0.0/8,fd00::/8; "
          "empty allows any");

namespace {

// The token from `--<name>` or `--<name>_file`.
absl::StatusOr<std::string> Token(const absl::Flag<std::string>& flag,
                                  const absl::Flag<std::string>& file_flag,
                                  absl::string_view name) {
  std::string token = absl::GetFlag(flag);
  const std::string file = absl::GetFlag(file_flag);
  if (file.empty()) return token;
  if (!token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("set --", name, " or --", name, "_file, not both"));
  }
  return llmrouter::ReadSecretFile(file);
}

absl::StatusOr<llmrouter::inventory::WriteAccess> AccessFromFlags() {
  auto token = Token(FLAGS_write_token, FLAGS_write_token_file, "write_token");
  if (!token.ok()) return token.status();
  auto reporter = Token(FLAGS_reporter_token, FLAGS_reporter_token_file, "reporter_token");
  if (!reporter.ok()) return reporter.status();
  std::vector<std::string> cidrs =
      absl::StrSplit(absl::GetFlag(FLAGS_write_allowed_cidrs), ',', absl::SkipWhitespace());
  return llmrouter::inventory::WriteAccess::Create(*std::move(token), cidrs, *std::move(reporter));
}

// Says loudly at start who may change routing.
void LogAccess(const llmrouter::inventory::WriteAccess& access) {
  const std::string ranges =
      access.ranges_restricted() ? absl::GetFlag(FLAGS_write_allowed_cidrs) : "any";
  if (!access.token_required()) {
    spdlog::warn(
        "writes_open reason=\"no --write_token or --write_token_file\" ranges={} "
        "risk=\"anyone who reaches the gRPC port can register an endpoint (and receive "
        "prompts) or drain every endpoint; for local development only\"",
        ranges);
  } else {
    spdlog::info("writes_require_token ranges={}", ranges);
  }
  if (!access.reports_protected()) {
    spdlog::warn(
        "reports_open reason=\"no write or reporter token\" risk=\"anyone who reaches the gRPC "
        "port can report failures that eject every endpoint\"");
  } else if (!access.reporter_token_set()) {
    spdlog::warn(
        "reports_need_write_token reason=\"no --reporter_token_file\" risk=\"gateways must "
        "hold the write token to report outcomes\"");
  } else {
    spdlog::info("reports_require_token");
  }
}

}  // namespace

int main(int argc, char** argv) {
  llmrouter::BlockShutdownSignals();
  absl::SetProgramUsageMessage("llm-router inventory service");
  absl::ParseCommandLine(argc, argv);
  auto options = llmrouter::ServiceOptionsFromFlags({"inventory", 50061, 9461});
  if (!options.ok()) {
    fprintf(stderr, "inventory: %s\n", options.status().ToString().c_str());
    return 2;
  }
  using namespace llmrouter::inventory;  // NOLINT: a thin main
  // Outcome batches (thousands of reports a second) are parsed into one arena per call. Declared
  // before the runner, so that it outlives the gRPC server.
  llmrouter::ArenaMessageAllocator<llmrouter::v1::ReportOutcomesRequest,
                                   llmrouter::v1::ReportOutcomesResponse>
      outcome_allocator;
  llmrouter::ServiceRunner runner(*options);
  InventoryMetrics metrics(*runner.registry());
  EndpointRegistry registry;

  HealthConfig health;
  if (const std::string path = absl::GetFlag(FLAGS_health_config); !path.empty()) {
    auto loaded = LoadHealthConfigFile(path);
    if (!loaded.ok()) {
      spdlog::error("health_config_invalid path={} error=\"{}\"", path, loaded.status().message());
      return 2;
    }
    health = *std::move(loaded);
  }
  if (!absl::GetFlag(FLAGS_active_health_checks)) health.probe.disabled = true;

  absl::StatusOr<WriteAccess> access = AccessFromFlags();
  if (!access.ok()) {
    spdlog::error("write_access_invalid error=\"{}\"", access.status().message());
    return 2;
  }
  LogAccess(*access);
  if (absl::GetFlag(FLAGS_max_outcomes_per_report) < 0 ||
      absl::GetFlag(FLAGS_max_outcomes_per_endpoint_per_second) < 0) {
    spdlog::error(
        "flags_invalid error=\"--max_outcomes_per_report and "
        "--max_outcomes_per_endpoint_per_second must be >= 0\"");
    return 2;
  }

  SystemResolver resolver;
  DnsDiscovery dns(registry, resolver, &metrics);

  const std::string file = absl::GetFlag(FLAGS_endpoints_file);
  llmrouter::FileChangeDetector file_change(file);
  if (!file.empty()) {
    auto loaded = LoadEndpointsFileWithDiscovery(file);
    absl::Status s = loaded.ok() ? registry.ReplaceStatic(loaded->endpoints) : loaded.status();
    if (!s.ok()) {
      spdlog::error("endpoints_file_invalid path={} error=\"{}\"", file, s.message());
      return 2;
    }
    dns.SetTargets(loaded->discovery);
    if (absl::Status d = dns.Refresh(); !d.ok()) {
      spdlog::warn("dns_discovery_failed error=\"{}\"", d.message());
    }
    spdlog::info("endpoints_loaded path={} count={} discovery_names={}", file,
                 loaded->endpoints.size(), loaded->discovery.size());
  }

  HealthMonitor monitor(llmrouter::RealClock::Get(), health.outlier);
  spdlog::info("health active_checks={} probe_path={} probe_interval={} scrape_interval={}",
               !health.probe.disabled, health.probe.path,
               absl::FormatDuration(health.probe.interval),
               absl::FormatDuration(health.scrape_interval));
  BackendProber prober(registry, monitor, health,
                       absl::Milliseconds(absl::GetFlag(FLAGS_health_tick_ms)), metrics);
  OutcomeRateLimit outcome_rate(llmrouter::RealClock::Get(),
                                absl::GetFlag(FLAGS_max_outcomes_per_endpoint_per_second));
  OutcomeReportLimits report_limits;
  report_limits.max_per_report = absl::GetFlag(FLAGS_max_outcomes_per_report);
  report_limits.per_endpoint = &outcome_rate;
  InventoryServiceImpl service(registry, metrics, &monitor, &*access, report_limits);
  service.SetMessageAllocatorFor_ReportOutcomes(&outcome_allocator);
  absl::StatusOr<std::optional<llmrouter::RedisOptions>> redis = llmrouter::RedisFromFlags();
  if (!redis.ok()) {
    spdlog::error("redis_invalid error=\"{}\"", redis.status().message());
    return 2;
  }
  std::unique_ptr<RegistrationSync> registration_sync;
  if (redis->has_value()) {
    registration_sync = std::make_unique<RegistrationSync>(
        **std::move(redis),
        std::chrono::milliseconds(std::max(1, absl::GetFlag(FLAGS_registration_sync_ms))), registry,
        *runner.registry());
    service.ShareChangesWith(registration_sync.get());
  }
  if (auto s = runner.StartMetrics(); !s.ok()) {
    spdlog::error("startup_failed error=\"{}\"", s.message());
    return 1;
  }
  if (auto s = runner.StartGrpc({&service}, {"llmrouter.v1.InventoryService"}); !s.ok()) {
    spdlog::error("startup_failed error=\"{}\"", s.message());
    return 1;
  }
  prober.Start();

  const absl::Duration dns_interval = absl::Milliseconds(absl::GetFlag(FLAGS_dns_interval_ms));
  absl::Time next_dns = absl::Now() + dns_interval;
  llmrouter::PeriodicTask maintenance(
      absl::Milliseconds(absl::GetFlag(FLAGS_maintenance_interval_ms)), [&] {
        if (int n = registry.ExpireDue(); n > 0) {
          metrics.expired.Increment(n);
          spdlog::info("endpoints_expired count={}", n);
        }
        if (absl::Now() >= next_dns) {
          next_dns = absl::Now() + dns_interval;
          if (absl::Status d = dns.Refresh(); !d.ok()) {
            spdlog::warn("dns_discovery_failed error=\"{}\"", d.message());
          }
        }
        if (file.empty()) return;
        if (!file_change.Changed()) return;
        auto loaded = LoadEndpointsFileWithDiscovery(file);
        absl::Status s = loaded.ok() ? registry.ReplaceStatic(loaded->endpoints) : loaded.status();
        if (s.ok()) {
          dns.SetTargets(loaded->discovery);
          next_dns = absl::Now();  // resolve new names on the next run
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
  prober.Stop();
  service.CloseWatchers();
  runner.Shutdown();
  registration_sync.reset();  // after the server: no RPC is left to queue a change
  return 0;
}
