// decision: answers RouteRequest from the active policy and the live inventory.

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_change.h"
#include "common/logging.h"
#include "common/periodic_task.h"
#include "common/redis_flags.h"
#include "common/route_link_tls.h"
#include "common/service_runner.h"
#include "common/text_file.h"
#include "common/tls_credentials.h"
#include "services/decision/active_policy.h"
#include "services/decision/decision_metrics.h"
#include "services/decision/decision_service.h"
#include "services/decision/inventory_watcher.h"
#include "services/decision/policy_service.h"
#include "services/decision/rollout_controller.h"
#include "services/decision/rollout_service.h"
#include "services/decision/route_link_server.h"
#include "services/decision/spend_sync.h"
#include "services/decision/sqlite_policy_store.h"
#include "services/decision/usage_ledger.h"

ABSL_FLAG(std::string, db, "decision.db",
          "SQLite file holding policy revisions; created and migrated on start");
ABSL_FLAG(std::string, classifier_dir, llmrouter::decision::ClassifierModels::kDefaultClassifierDir,
          "The only folder a bundle's classifier.file may name a model in (the chart mounts "
          "decision.policy.classifierConfigMap there)");
ABSL_FLAG(std::string, policy_file, "",
          "YAML policy bundle applied on start when it differs from the active revision, and "
          "again whenever the file changes (e.g. a ConfigMap)");
ABSL_FLAG(std::string, inventory_target, "localhost:50061",
          "gRPC target of the inventory service, e.g. dns:///inventory:50061");
ABSL_FLAG(std::string, admin_token_file, "",
          "File holding the admin token that policy writes (ApplyBundle, Rollback) must present "
          "as \"authorization: Bearer <token>\"; else the LLMROUTER_ADMIN_TOKEN environment "
          "variable; without either, writes are refused");
ABSL_FLAG(std::string, reporter_token_file, "",
          "File holding the token gateways present on ReportUsage (their "
          "--decision_reporter_token_file); the admin token is accepted too. Else the "
          "LLMROUTER_DECISION_REPORTER_TOKEN environment variable; without either, usage reports "
          "are open to every gRPC caller");
ABSL_FLAG(bool, policy_file_exclusive, false,
          "GitOps mode: --policy_file is the only source of policies and write RPCs answer "
          "FAILED_PRECONDITION");
ABSL_FLAG(int, route_link_port, -1,
          "Port of the route link, the gateways' fast path to RouteStream: mutual TLS with the "
          "--tls_* files when they are set, plaintext TCP otherwise (then restrict who reaches "
          "the port); 0 picks a free port; -1: off");
ABSL_FLAG(int, route_link_threads, 1, "Event-loop threads serving the route link");
ABSL_FLAG(int64_t, route_link_max_frame_bytes, 1 << 20,
          "Largest route link frame accepted; a larger one closes its connection (gateways send "
          "at most 1 MiB)");
ABSL_FLAG(int64_t, route_link_max_unwritten_bytes, 4 << 20,
          "A route link connection is not read while more answers than this wait to be written "
          "to it (a gateway that does not read), and is read again once they are");
ABSL_FLAG(int, route_link_preamble_timeout_ms, 2000,
          "Time a new route link connection has for its TLS handshake and preamble before it is "
          "closed");
ABSL_FLAG(int, route_link_max_connections, 1024,
          "Route link connections open at once (each gateway worker thread keeps one per "
          "decision replica); more are closed as soon as they are accepted, and counted");
ABSL_FLAG(int, spend_sync_ms, 100,
          "How often the spend ledger is shared through --redis: every replica sees a tenant's "
          "spend within this");
ABSL_FLAG(int64_t, decision_log_bytes, 32 << 20,
          "Memory the decision log may take for recent decisions (routerctl decision show, "
          "why-not for a past request); the oldest go first. 0 turns it off");
ABSL_FLAG(int, decision_log_max_age_s, 86400,
          "Decisions older than this leave the decision log even when there is room");
ABSL_FLAG(double, decision_log_trace_sample, 0.01,
          "Share of decisions whose full trace the decision log keeps (explain requests always "
          "do); the others keep a compact record and are replayed for why-not");
ABSL_FLAG(int, rollout_interval_ms, 500,
          "How often rollouts are judged and every replica reads their progress (all replicas "
          "route by the same step within this)");
ABSL_FLAG(int, rollout_lease_ttl_ms, 5000,
          "With --redis: how long the replica judging rollouts holds its lease without renewing "
          "it (a dead holder's successor takes over after this)");
ABSL_FLAG(std::string, rollout_peers, "",
          "Without --redis: a DNS name with an address per decision replica (the chart's "
          "headless service); when it has more than one, rollouts are refused rather than run "
          "by each replica on its own. Empty: this replica runs alone");
ABSL_FLAG(int, variant_slot_ms, 10000,
          "Length of the slots per-track counts are kept in for rollout analysis (the same on "
          "every replica sharing --redis); an analysis window is rounded out to whole slots");
ABSL_FLAG(int, stale_after_ms, 30000,
          "An inventory view older than this is reported stale in decisions and metrics");

namespace {

// The text form of an IPv4 or IPv6 socket address; empty for another family.
std::string AddressText(const sockaddr* a) {
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw = a->sa_family == AF_INET
                        ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a)->sin_addr)
                    : a->sa_family == AF_INET6
                        ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr)
                        : nullptr;
  if (raw == nullptr || inet_ntop(a->sa_family, raw, text, sizeof text) == nullptr) return "";
  return text;
}

// How many decision replicas run, from `target` (a host name, host:port or dns:///host:port
// naming one address per ready replica, e.g. a headless Service): this one, plus every address
// that is not one of this host's own (a replica not yet ready is not listed, and another may
// be). -1 when the name does not resolve.
int CountReplicas(std::string target) {
  if (absl::StartsWith(target, "dns:///")) target = target.substr(7);
  if (const size_t colon = target.rfind(':'); colon != std::string::npos &&
                                               target.find(':') == colon) {
    target = target.substr(0, colon);
  }
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(target.c_str(), nullptr, &hints, &found) != 0) return -1;
  std::set<std::string> addresses;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) addresses.insert(AddressText(a->ai_addr));
  freeaddrinfo(found);
  ifaddrs* own = nullptr;
  if (getifaddrs(&own) == 0) {
    for (ifaddrs* i = own; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr != nullptr) addresses.erase(AddressText(i->ifa_addr));
    }
    freeifaddrs(own);
  }
  addresses.erase("");
  return 1 + static_cast<int>(addresses.size());
}

absl::Status ApplyPolicyFile(llmrouter::decision::ActivePolicy& policy, const std::string& path) {
  auto text = llmrouter::ReadTextFile(path);
  if (!text.ok()) return text.status();
  auto result = policy.Apply(*text, "policy-file", path);
  if (!result.ok()) return result.status();
  spdlog::info("policy_file_applied path={} revision={} unchanged={}", path,
               result->revision.revision(), result->unchanged);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  llmrouter::BlockShutdownSignals();
  absl::SetProgramUsageMessage("llm-router decision service");
  absl::ParseCommandLine(argc, argv);
  auto options = llmrouter::ServiceOptionsFromFlags({"decision", 50051, 9451});
  if (!options.ok()) {
    fprintf(stderr, "decision: %s\n", options.status().ToString().c_str());
    return 2;
  }
  llmrouter::ServiceRunner runner(*options);
  llmrouter::decision::DecisionMetrics metrics(*runner.registry());

  auto store = llmrouter::decision::SqlitePolicyStore::Open(absl::GetFlag(FLAGS_db));
  if (!store.ok()) {
    spdlog::error("policy_store_failed db={} error=\"{}\"", absl::GetFlag(FLAGS_db),
                  store.status().message());
    return 1;
  }
  llmrouter::decision::ActivePolicy policy(**store, absl::GetFlag(FLAGS_classifier_dir));
  if (auto s = policy.LoadFromStore(); !s.ok()) {
    spdlog::error("policy_load_failed error=\"{}\"", s.message());
    return 1;
  }
  const std::string policy_file = absl::GetFlag(FLAGS_policy_file);
  llmrouter::FileChangeDetector policy_change(policy_file);
  if (!policy_file.empty()) {
    if (auto s = ApplyPolicyFile(policy, policy_file); !s.ok()) {
      spdlog::error("policy_file_rejected path={} error=\"{}\"", policy_file, s.message());
      return 2;
    }
  }
  if (auto current = policy.Current())
    metrics.ShowPolicy(current->revision(), current->content_hash());

  llmrouter::decision::RouterOptions router_options;
  router_options.stale_after = absl::Milliseconds(absl::GetFlag(FLAGS_stale_after_ms));
  llmrouter::decision::UsageLedger usage;
  router_options.ledger = &usage;
  std::unique_ptr<llmrouter::decision::SpendSync> spend_sync;
  absl::StatusOr<std::optional<llmrouter::RedisOptions>> redis = llmrouter::RedisFromFlags();
  if (!redis.ok()) {
    spdlog::error("redis_invalid error=\"{}\"", redis.status().message());
    return 2;
  }
  // Rollouts: their progress in Redis when replicas share it, else in the --db file.
  std::optional<llmrouter::RedisOptions> rollout_redis = *redis;
  const int slot_ms = absl::GetFlag(FLAGS_variant_slot_ms);
  const int rollout_interval_ms = absl::GetFlag(FLAGS_rollout_interval_ms);
  const int lease_ms = absl::GetFlag(FLAGS_rollout_lease_ttl_ms);
  if (slot_ms < 1000 || slot_ms > 600000 || rollout_interval_ms < 10 ||
      lease_ms < 2 * rollout_interval_ms) {
    spdlog::error(
        "startup_failed error=\"--variant_slot_ms must be 1000..600000, --rollout_interval_ms at "
        "least 10 and --rollout_lease_ttl_ms at least twice --rollout_interval_ms\"");
    return 2;
  }
  std::unique_ptr<llmrouter::decision::RolloutStore> rollout_store;
  if (rollout_redis) {
    rollout_store = llmrouter::decision::NewRedisRolloutStore(*rollout_redis);
  } else {
    auto sqlite = llmrouter::decision::OpenSqliteRolloutStore(absl::GetFlag(FLAGS_db));
    if (!sqlite.ok()) {
      spdlog::error("rollout_store_failed db={} error=\"{}\"", absl::GetFlag(FLAGS_db),
                    sqlite.status().message());
      return 1;
    }
    rollout_store = *std::move(sqlite);
  }
  llmrouter::decision::RolloutRoutes rollout_routes;
  router_options.rollouts = &rollout_routes;
  if (*redis) {
    spdlog::info("spend_sync redis={} interval_ms={}", (*redis)->address,
                 absl::GetFlag(FLAGS_spend_sync_ms));
    // The active policy's limited tenants get the shared totals in SpendSync's first sync,
    // before decision serves; a tenant limited by a later bundle does at its first request.
    if (auto current = policy.Current()) {
      std::vector<std::string> limited;
      for (const auto& tenant : current->bundle().tenants) {
        if (tenant.spend_limit.usd > 0) limited.push_back(tenant.name);
      }
      usage.Watch(limited);
    }
    spend_sync = std::make_unique<llmrouter::decision::SpendSync>(
        **std::move(redis),
        std::chrono::milliseconds(std::max(1, absl::GetFlag(FLAGS_spend_sync_ms))), usage,
        *runner.registry());
  }
  llmrouter::decision::DecisionServiceImpl decision(policy, metrics, router_options);
  decision.set_usage_ledger(&usage);
  auto admin = llmrouter::decision::AdminAuth::Load(absl::GetFlag(FLAGS_admin_token_file),
                                                    "LLMROUTER_ADMIN_TOKEN");
  if (!admin.ok()) {
    spdlog::error("admin_token_invalid error=\"{}\"", admin.status().message());
    return 2;
  }
  if (!admin->configured()) {
    spdlog::warn(
        "policy_writes_disabled reason=\"no admin token configured\" (full traces and WhyNot "
        "are open to gRPC callers)");
  }
  decision.set_admin(&*admin);
  auto reporter = llmrouter::decision::AdminAuth::Load(absl::GetFlag(FLAGS_reporter_token_file),
                                                       "LLMROUTER_DECISION_REPORTER_TOKEN");
  if (!reporter.ok()) {
    spdlog::error("reporter_token_invalid error=\"{}\"", reporter.status().message());
    return 2;
  }
  if (!reporter->configured()) {
    spdlog::warn(
        "usage_reports_open reason=\"no --reporter_token_file\" risk=\"any gRPC caller can "
        "report usage: move spending limits and rollout analysis\"");
  }
  decision.set_reporter(&*reporter);
  llmrouter::decision::DecisionLogOptions log_options;
  log_options.max_bytes =
      static_cast<std::size_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_decision_log_bytes)));
  log_options.max_age = absl::Seconds(std::max(1, absl::GetFlag(FLAGS_decision_log_max_age_s)));
  log_options.trace_sample = std::clamp(absl::GetFlag(FLAGS_decision_log_trace_sample), 0.0, 1.0);
  llmrouter::decision::DecisionLog decision_log(log_options, runner.registry().get());
  decision.set_decision_log(&decision_log);
  // What each model's tracks did lately, from the gateways' usage reports (rollout analysis).
  llmrouter::decision::VariantWindows variant_windows(absl::Milliseconds(slot_ms));
  decision.set_variant_windows(&variant_windows);
  llmrouter::decision::PolicyServiceOptions policy_options{
      *admin, absl::GetFlag(FLAGS_policy_file_exclusive) ? policy_file : std::string(),
      [&decision] { return decision.inventory(); }};
  llmrouter::decision::PolicyServiceImpl policy_service(policy, **store, metrics,
                                                        std::move(policy_options));

  const std::string replica_name = llmrouter::RedisReplicaName();
  std::unique_ptr<llmrouter::decision::SharedVariantCounts> shared_counts;
  if (rollout_redis) {
    variant_windows.EnableSharing();
    shared_counts = std::make_unique<llmrouter::decision::SharedVariantCounts>(
        *rollout_redis, replica_name, absl::Milliseconds(slot_ms), absl::Hours(1));
  }
  llmrouter::decision::RolloutControllerOptions rollout_options;
  rollout_options.replica = replica_name;
  rollout_options.lease_ttl = absl::Milliseconds(lease_ms);
  if (const std::string peers = absl::GetFlag(FLAGS_rollout_peers); !peers.empty()) {
    rollout_options.replicas_source = peers;
    // Asked every 5 s; a name that stops resolving keeps the last count.
    rollout_options.replicas = [peers, last = -1, asked = absl::InfinitePast()]() mutable {
      if (absl::Now() - asked >= absl::Seconds(5)) {
        asked = absl::Now();
        if (const int n = CountReplicas(peers); n > 0) last = n;
      }
      return last;
    };
  }
  llmrouter::decision::RolloutController rollouts(
      policy, [&decision] { return decision.inventory(); }, variant_windows, *rollout_store,
      shared_counts.get(), rollout_routes, runner.registry().get(), std::move(rollout_options));
  llmrouter::decision::RolloutServiceImpl rollout_service(rollouts, *admin);
  // Routes by the kept progress from the first request on.
  rollouts.Tick(absl::Now());

  llmrouter::decision::InventoryWatcher watcher(
      {absl::GetFlag(FLAGS_inventory_target), "decision"},
      [&](std::shared_ptr<const llmrouter::decision::InventoryView> view) {
        decision.SetInventory(std::move(view));
      },
      [&](bool connected) {
        metrics.inventory_connected.Set(connected ? 1 : 0);
        if (!connected) metrics.inventory_reconnects.Increment();
      });
  watcher.Start();

  if (auto s = runner.StartMetrics(); !s.ok()) {
    spdlog::error("startup_failed error=\"{}\"", s.message());
    return 1;
  }
  if (auto s = runner.StartGrpc(
          {&decision, &policy_service, &rollout_service},
          {"llmrouter.v1.DecisionService", "llmrouter.v1.PolicyService",
           "llmrouter.v1.RolloutService"});
      !s.ok()) {
    spdlog::error("startup_failed error=\"{}\"", s.message());
    return 1;
  }
  // Once gRPC serves, a failed start shuts it down before the services it calls into go.
  auto fail_started = [&runner](int code) {
    runner.Shutdown();
    return code;
  };
  {
    // Records name the replica that made them: its pod's (host) name and gRPC port.
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    decision_log.set_replica(absl::StrCat(host[0] ? host : "decision", ":", runner.grpc_port()));
  }

  // The route link: gateways route over it on their own event-loop threads (common/route_link.h).
  std::unique_ptr<llmrouter::decision::RouteLinkServer> route_link;
  if (const int link_port = absl::GetFlag(FLAGS_route_link_port); link_port >= 0) {
    llmrouter::decision::RouteLinkServerOptions link_options;
    link_options.host = options->host;
    link_options.port = link_port;
    link_options.threads = absl::GetFlag(FLAGS_route_link_threads);
    link_options.max_frame_bytes =
        static_cast<std::size_t>(absl::GetFlag(FLAGS_route_link_max_frame_bytes));
    link_options.max_unwritten_bytes =
        static_cast<std::size_t>(absl::GetFlag(FLAGS_route_link_max_unwritten_bytes));
    link_options.preamble_timeout =
        std::chrono::milliseconds(absl::GetFlag(FLAGS_route_link_preamble_timeout_ms));
    link_options.max_connections = absl::GetFlag(FLAGS_route_link_max_connections);
    if (link_port > 65535 || link_options.threads < 1 ||
        absl::GetFlag(FLAGS_route_link_max_frame_bytes) < 1024 ||
        absl::GetFlag(FLAGS_route_link_max_frame_bytes) > (1ll << 30) ||
        absl::GetFlag(FLAGS_route_link_max_unwritten_bytes) < 1 ||
        link_options.preamble_timeout.count() <= 0 || link_options.max_connections < 1) {
      spdlog::error(
          "startup_failed error=\"--route_link_port must be -1..65535, "
          "--route_link_max_frame_bytes 1024..1073741824, and --route_link_threads, "
          "--route_link_max_unwritten_bytes, --route_link_preamble_timeout_ms and "
          "--route_link_max_connections positive\"");
      return fail_started(2);
    }
    if (const llmrouter::TlsFiles files = llmrouter::TlsFilesFromFlags(); files.enabled()) {
      // The same certificate and CA as gRPC, mutual, re-read like gRPC's.
      auto tls = llmrouter::RouteLinkTls::Create(files, llmrouter::RouteLinkTls::Side::kServer);
      if (!tls.ok()) {
        spdlog::error("startup_failed error=\"{}\"", tls.status().message());
        return fail_started(2);
      }
      link_options.tls = *std::move(tls);
    }
    route_link = std::make_unique<llmrouter::decision::RouteLinkServer>(
        link_options,
        [&decision](const llmrouter::v1::RouteCall& call, llmrouter::v1::RouteResult* result) {
          decision.AnswerCall(call, result);
        },
        llmrouter::decision::RouteLinkServerMetrics{&metrics.route_link_connections,
                                                    &metrics.route_link_rejected,
                                                    &metrics.route_link_read_pauses});
    if (auto s = route_link->Start(); !s.ok()) {
      spdlog::error("startup_failed error=\"{}\"", s.message());
      return fail_started(1);
    }
    runner.AddPort("route_link_port", route_link->port());
    spdlog::info(
        "route_link_listening address={}:{} threads={} tls={} max_frame_bytes={} "
        "max_unwritten_bytes={} preamble_timeout_ms={} max_connections={}",
        link_options.host, route_link->port(), link_options.threads, link_options.tls != nullptr,
        link_options.max_frame_bytes, link_options.max_unwritten_bytes,
        link_options.preamble_timeout.count(), link_options.max_connections);
  }

  llmrouter::PeriodicTask maintenance(absl::Seconds(1), [&] {
    if (auto view = decision.inventory()) {
      metrics.inventory_age.Set(absl::ToDoubleSeconds(absl::Now() - view->received_at()));
    }
    if (!policy_file.empty() && policy_change.Changed()) {
      // A bad edit is logged and counted; the active revision keeps serving.
      absl::Status s = ApplyPolicyFile(policy, policy_file);
      metrics.policy_changes.Add({{"op", "file"}, {"result", s.ok() ? "applied" : "rejected"}})
          .Increment();
      if (!s.ok())
        spdlog::error("policy_file_rejected path={} error=\"{}\"", policy_file, s.message());
      if (auto current = policy.Current()) {
        metrics.ShowPolicy(current->revision(), current->content_hash());
      }
    }
  });
  maintenance.Start();
  llmrouter::PeriodicTask rollout_task(absl::Milliseconds(rollout_interval_ms),
                                       [&] { rollouts.Tick(absl::Now()); });
  rollout_task.Start();

  if (auto s = runner.WriteReadyFile(); !s.ok())
    spdlog::warn("ready_file error=\"{}\"", s.message());
  int sig = llmrouter::WaitForShutdownSignal();
  spdlog::info("shutdown signal={}", sig);
  maintenance.Stop();
  rollout_task.Stop();
  rollouts.Shutdown();
  // Gateways move to gRPC (or to other replicas) as their links close; gRPC drains after.
  if (route_link) route_link->Stop(options->shutdown_grace);
  runner.Shutdown();
  watcher.Stop();
  return 0;
}
