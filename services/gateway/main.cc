// gateway: the OpenAI-compatible HTTP front door. Asks decision where each request goes and
// proxies it to the chosen model backend.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/redis_flags.h"
#include "common/reloadable.h"
#include "common/route_link_tls.h"
#include "common/service_runner.h"
#include "common/text_file.h"
#include "common/tls_credentials.h"
#include "services/gateway/api_key_store.h"
#include "services/gateway/config_reloader.h"
#include "services/gateway/fail_safe_table.h"
#include "services/gateway/gateway_metrics.h"
#include "services/gateway/gateway_server.h"
#include "services/gateway/grpc_decision_client.h"
#include "services/gateway/outcome_reporter.h"
#include "services/gateway/rate_limit_sync.h"
#include "services/gateway/upstream_credentials.h"

ABSL_FLAG(int, http_port, 8080, "OpenAI-compatible HTTP port; 0 picks a free port");
ABSL_FLAG(int, threads, 1, "HTTP worker threads, each with its own event loop");
ABSL_FLAG(int64_t, max_body_bytes, 4 << 20, "Largest request body accepted (413 beyond)");
ABSL_FLAG(std::string, decision_target, "localhost:50051",
          "gRPC target of the decision service, e.g. dns:///decision:50051");
ABSL_FLAG(bool, decision_grpc_retries, false,
          "Let gRPC retry failed unary decision calls (ListModels) itself (costs a copy of every "
          "call)");
ABSL_FLAG(int, decision_streams, 4,
          "Long-lived RouteStream calls that carry the routing decisions the route link does not "
          "(all of them without --decision_link_target), batched under load; keep at least as "
          "many as there are decision replicas");
ABSL_FLAG(int, decision_stream_max_age_ms, 30000,
          "A decision stream older than this is replaced, so that new decision replicas get "
          "streams");
ABSL_FLAG(std::string, decision_link_target, "",
          "host:port of decision's route link (its --route_link_port), the fast path for routing "
          "calls; a host that resolves to several addresses gets a connection to each. Calls "
          "the link cannot carry go over gRPC. Mutual TLS with the --tls_* files when they are "
          "set (decision's certificate must name the host). Empty: gRPC only");
ABSL_FLAG(int, decision_timeout_ms, 250, "Deadline of each routing decision");
ABSL_FLAG(std::string, region, "",
          "The gateway's region (e.g. eu-west-1), sent with every routing request; a client's "
          "x-router-region replaces it only for tenants whose policy says client_region: trusted");
ABSL_FLAG(int, max_attempts, 3, "Targets tried per request: the chosen one plus fallbacks");
ABSL_FLAG(int, upstream_connect_timeout_ms, 2000, "Timeout to connect to a model backend");
ABSL_FLAG(int, upstream_timeout_ms, 60000,
          "Per attempt: time for a backend to send its response header; while relaying, the "
          "longest gap between two pieces of the body");
ABSL_FLAG(int, upstream_idle_timeout_ms, 4000,
          "Pooled backend connections idle longer than this are closed instead of reused");
ABSL_FLAG(int, request_timeout_ms, 0,
          "Per request, over all attempts: time until a backend's response header arrived "
          "(504 beyond); 0: only the per-attempt timeouts apply");
ABSL_FLAG(int, max_concurrent_requests, 1024,
          "Inference requests served at once; more get 503 with Retry-After; 0: no limit");
ABSL_FLAG(int, max_connections, 10000,
          "Client connections open at once; one more is accepted and closed at once (counted in "
          "llmrouter_gateway_connections_rejected_total), so that no client can use up the "
          "gateway's file descriptors. Keep it below the open-files limit (ulimit -n) minus "
          "what upstream connections need; 0: no limit");
ABSL_FLAG(int, client_header_timeout_ms, 10000,
          "Time a client has to send a request's header, from its first byte (from the accept "
          "for a connection's first request); 408 beyond. Cuts slowloris clients");
ABSL_FLAG(int, client_read_timeout_ms, 30000,
          "Time a client has to send a whole request (header and body), from the same start; "
          "408 beyond");
ABSL_FLAG(int, client_idle_timeout_ms, 75000,
          "A keep-alive connection on which no new request starts for this long is closed; keep "
          "it above the idle timeout of load balancers in front of the gateway");
ABSL_FLAG(int, busy_poll_us, 0,
          "After handling events, each worker thread keeps polling for this many microseconds "
          "before sleeping: lower latency where waking a sleeping CPU is slow (virtual machines), "
          "at the cost of CPU while traffic is sparse; 0 sleeps at once");
ABSL_FLAG(int, shutdown_delay_ms, 0,
          "On SIGTERM, how long the gateway first reports not ready (/readyz 503) while it keeps "
          "accepting and serving, so that load balancers take it out of rotation before it stops "
          "accepting; a second SIGTERM or SIGINT ends the delay. Kubernetes: about 5000");
ABSL_FLAG(std::string, failsafe_routes, "",
          "Static routes used when decision is unreachable or past its deadline: "
          "model=host:port|host:port,model2=host:port");
ABSL_FLAG(std::string, failsafe_file, "",
          "File of fail-safe routes, one model=host:port|host:port per line ('#' comments); "
          "re-read when it changes (a bad edit keeps the previous routes)");
ABSL_FLAG(std::string, api_keys_file, "",
          "API keys of callers: one '<sha256 hex of the key> <tenant>' per line; re-read when "
          "it changes. Without it and --api_keys_db: no authentication, the x-router-tenant "
          "header is trusted");
ABSL_FLAG(std::string, api_keys_db, "",
          "SQLite file of API keys managed with `routerctl apikeys` (it must exist); polled every "
          "second, so created and revoked keys apply within about a second. With --api_keys_file "
          "both count, and a key in both goes by the database (its tenant, its revocation)");
ABSL_FLAG(std::string, upstream_credentials, "",
          "Credentials sent to backends: host:port=env:VAR or host:port=file:/path, "
          "comma-separated; sent as Authorization: Bearer <secret>; files are re-read when they "
          "change (an empty or unreadable one keeps the previous credentials)");
ABSL_FLAG(std::string, inventory_target, "localhost:50061",
          "gRPC target of inventory, where request outcomes are reported in batches; empty: "
          "no reports");
ABSL_FLAG(std::string, inventory_reporter_token_file, "",
          "File holding inventory's reporter token (its --reporter_token_file), sent with every "
          "outcome report; read at start. Inventory refuses reports without it once it "
          "protects writes");
ABSL_FLAG(std::string, decision_reporter_token_file, "",
          "File holding decision's reporter token (its --reporter_token_file), sent with every "
          "usage report (spending limits and rollout analysis trust only reports that carry it)");
ABSL_FLAG(int, outcome_queue_size, 10000,
          "Outcomes waiting to be sent; beyond it new ones are dropped and counted");
ABSL_FLAG(std::string, upstream_ca_file, "",
          "PEM file of extra CA certificates trusted for https backends (the system's are "
          "always trusted); certificates and host names are always verified");
ABSL_FLAG(std::string, access_log, "",
          "Where the access log goes, one JSON line per inference request: \"-\" or \"stdout\", "
          "or a file (appended to); empty: no access log");
ABSL_FLAG(double, access_log_sample, 1.0,
          "The share of inference requests the access log records, from 0 to 1");
ABSL_FLAG(int, rate_limit_sync_ms, 20,
          "Rate limit counts are shared through --redis this often (in batches), and within a "
          "millisecond of a change that leaves a tenant or key near a limit");
ABSL_FLAG(int, rate_limit_lease_ttl_ms, 10000,
          "How long the concurrency slots a gateway holds stay counted in --redis after it "
          "stops renewing them (it crashed): the other gateways get them back after this");
ABSL_FLAG(bool, rate_limits_fail_closed, false,
          "While --redis is unreachable, refuse every request with rate limits (429) instead "
          "of limiting on the counts last seen (the default, failing open)");
ABSL_FLAG(int, prompt_excerpt_bytes, 8 << 10,
          "Largest prompt excerpt sent to decision for analysis");
ABSL_FLAG(int, classifier_window_bytes, 2 << 10,
          "Largest part of the last user message (or a completion's prompt) sent to decision "
          "for intent matching and classification");

namespace {

int Fail(const absl::Status& status) {
  spdlog::error("gateway_start_failed error=\"{}\"", status.message());
  return EXIT_FAILURE;
}

}  // namespace

int main(int argc, char** argv) {
  llmrouter::BlockShutdownSignals();
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<llmrouter::ServiceOptions> service_options =
      llmrouter::ServiceOptionsFromFlags({"gateway", /*grpc_port=*/0, /*metrics_port=*/9480});
  if (!service_options.ok()) return Fail(service_options.status());
  llmrouter::ServiceRunner runner(*service_options);

  using std::chrono::milliseconds;
  llmrouter::gateway::GatewayServerOptions options;
  options.http.host = service_options->host;
  options.http.port = absl::GetFlag(FLAGS_http_port);
  options.http.threads = absl::GetFlag(FLAGS_threads);
  options.http.max_body_bytes = static_cast<std::size_t>(absl::GetFlag(FLAGS_max_body_bytes));
  options.proxy.decision_timeout = milliseconds(absl::GetFlag(FLAGS_decision_timeout_ms));
  options.proxy.region = absl::GetFlag(FLAGS_region);
  options.proxy.route_link.target = absl::GetFlag(FLAGS_decision_link_target);
  if (const llmrouter::TlsFiles files = llmrouter::TlsFilesFromFlags();
      !options.proxy.route_link.target.empty() && files.enabled()) {
    // The link speaks mutual TLS with the same files as gRPC, re-read like them.
    auto tls = llmrouter::RouteLinkTls::Create(files, llmrouter::RouteLinkTls::Side::kClient);
    if (!tls.ok()) return Fail(tls.status());
    options.proxy.route_link.tls = *std::move(tls);
  }
  options.proxy.max_attempts = absl::GetFlag(FLAGS_max_attempts);
  options.proxy.upstream_timeout = milliseconds(absl::GetFlag(FLAGS_upstream_timeout_ms));
  options.proxy.pool.connect_timeout =
      milliseconds(absl::GetFlag(FLAGS_upstream_connect_timeout_ms));
  options.proxy.pool.idle_timeout = milliseconds(absl::GetFlag(FLAGS_upstream_idle_timeout_ms));
  options.proxy.inspector.excerpt_limit_bytes =
      static_cast<std::size_t>(absl::GetFlag(FLAGS_prompt_excerpt_bytes));
  options.proxy.inspector.classifier_window_bytes =
      static_cast<std::size_t>(absl::GetFlag(FLAGS_classifier_window_bytes));
  if (options.http.port < 0 || options.http.port > 65535 || options.http.threads < 1 ||
      absl::GetFlag(FLAGS_max_body_bytes) <= 0 || options.proxy.max_attempts < 1 ||
      options.proxy.decision_timeout.count() <= 0 || options.proxy.upstream_timeout.count() <= 0 ||
      options.proxy.pool.connect_timeout.count() <= 0 ||
      absl::GetFlag(FLAGS_prompt_excerpt_bytes) < 0 ||
      absl::GetFlag(FLAGS_classifier_window_bytes) < 0) {
    return Fail(absl::InvalidArgumentError(
        "--http_port must be 0..65535; --threads, --max_body_bytes, --max_attempts and every "
        "timeout must be positive; --prompt_excerpt_bytes and --classifier_window_bytes must be "
        ">= 0"));
  }

  options.proxy.request_timeout = milliseconds(absl::GetFlag(FLAGS_request_timeout_ms));
  options.max_concurrent_requests = absl::GetFlag(FLAGS_max_concurrent_requests);
  options.http.max_connections = absl::GetFlag(FLAGS_max_connections);
  options.http.header_timeout = milliseconds(absl::GetFlag(FLAGS_client_header_timeout_ms));
  options.http.read_timeout = milliseconds(absl::GetFlag(FLAGS_client_read_timeout_ms));
  options.http.idle_timeout = milliseconds(absl::GetFlag(FLAGS_client_idle_timeout_ms));
  options.http.busy_poll = std::chrono::microseconds(absl::GetFlag(FLAGS_busy_poll_us));
  const milliseconds shutdown_delay(absl::GetFlag(FLAGS_shutdown_delay_ms));
  if (options.proxy.request_timeout.count() < 0 || options.max_concurrent_requests < 0 ||
      options.http.max_connections < 0 || options.http.busy_poll.count() < 0 ||
      shutdown_delay.count() < 0 || options.http.header_timeout.count() <= 0 ||
      options.http.read_timeout.count() <= 0 || options.http.idle_timeout.count() <= 0) {
    return Fail(absl::InvalidArgumentError(
        "--request_timeout_ms, --max_concurrent_requests, --max_connections, --busy_poll_us and "
        "--shutdown_delay_ms must be >= 0; "
        "--client_header_timeout_ms, --client_read_timeout_ms and --client_idle_timeout_ms "
        "must be positive"));
  }
  llmrouter::gateway::GatewayMetrics metrics(*runner.registry());
  // Files named here are re-read when they change; a bad edit keeps what was in use.
  llmrouter::gateway::ConfigReloader reloader(metrics, absl::Seconds(1));
  auto fail_safe = llmrouter::gateway::FailSafeTable::Follow(absl::GetFlag(FLAGS_failsafe_routes),
                                                             absl::GetFlag(FLAGS_failsafe_file));
  if (!fail_safe.ok()) return Fail(fail_safe.status());
  options.proxy.fail_safe = reloader.Follow("failsafe_routes", *std::move(fail_safe));
  auto credentials =
      llmrouter::gateway::UpstreamCredentials::Follow(absl::GetFlag(FLAGS_upstream_credentials));
  if (!credentials.ok()) return Fail(credentials.status());
  options.proxy.upstream_credentials =
      reloader.Follow("upstream_credentials", *std::move(credentials));
  absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> tls_context =
      llmrouter::gateway::MakeUpstreamTlsContext(absl::GetFlag(FLAGS_upstream_ca_file));
  if (!tls_context.ok()) return Fail(tls_context.status());
  options.proxy.pool.tls_context = *std::move(tls_context);
  if (!absl::GetFlag(FLAGS_api_keys_file).empty() || !absl::GetFlag(FLAGS_api_keys_db).empty()) {
    auto loaded = llmrouter::gateway::ApiKeyStore::Open(
        {absl::GetFlag(FLAGS_api_keys_file), absl::GetFlag(FLAGS_api_keys_db)});
    if (!loaded.ok()) return Fail(loaded.status());
    options.api_keys = reloader.Follow("api_keys", *std::move(loaded));
    spdlog::info("api_keys_loaded keys={}", options.api_keys->size());
  }
  std::unique_ptr<llmrouter::gateway::AccessLog> access_log;
  if (!absl::GetFlag(FLAGS_access_log).empty()) {
    absl::StatusOr<std::unique_ptr<llmrouter::gateway::AccessLog>> opened =
        llmrouter::gateway::AccessLog::Open(
            {absl::GetFlag(FLAGS_access_log), absl::GetFlag(FLAGS_access_log_sample)},
            *runner.registry());
    if (!opened.ok()) return Fail(opened.status());
    access_log = *std::move(opened);
    options.access_log = access_log.get();
  }

  reloader.Start();

  llmrouter::gateway::GrpcDecisionClientOptions decision_options;
  decision_options.grpc_retries = absl::GetFlag(FLAGS_decision_grpc_retries);
  decision_options.stream.streams = absl::GetFlag(FLAGS_decision_streams);
  decision_options.stream.max_age = milliseconds(absl::GetFlag(FLAGS_decision_stream_max_age_ms));
  if (absl::GetFlag(FLAGS_decision_streams) < 1 || decision_options.stream.max_age.count() <= 0) {
    return Fail(absl::InvalidArgumentError(
        "--decision_streams and --decision_stream_max_age_ms must be positive"));
  }
  std::unique_ptr<llmrouter::gateway::GrpcDecisionClient> decision =
      llmrouter::gateway::GrpcDecisionClient::Create(absl::GetFlag(FLAGS_decision_target),
                                                     decision_options);
  {
    // Outcomes feed inventory's load signals and decision's spending limits.
    std::vector<std::unique_ptr<llmrouter::gateway::OutcomeSink>> sinks;
    if (!absl::GetFlag(FLAGS_inventory_target).empty()) {
      std::string reporter_token;
      if (const std::string file = absl::GetFlag(FLAGS_inventory_reporter_token_file);
          !file.empty()) {
        absl::StatusOr<std::string> token = llmrouter::ReadSecretFile(file);
        if (!token.ok()) return Fail(token.status());
        reporter_token = *std::move(token);
      }
      sinks.push_back(llmrouter::gateway::MakeGrpcOutcomeSink(absl::GetFlag(FLAGS_inventory_target),
                                                              std::chrono::seconds(1),
                                                              std::move(reporter_token)));
    }
    std::string usage_token;
    if (const std::string file = absl::GetFlag(FLAGS_decision_reporter_token_file); !file.empty()) {
      absl::StatusOr<std::string> token = llmrouter::ReadSecretFile(file);
      if (!token.ok()) return Fail(token.status());
      usage_token = *std::move(token);
    }
    sinks.push_back(llmrouter::gateway::MakeGrpcUsageSink(
        absl::GetFlag(FLAGS_decision_target), std::chrono::seconds(1), std::move(usage_token)));
    llmrouter::gateway::OutcomeReporterOptions reporter;
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    reporter.reporter = absl::StrCat("gateway@", host, ":", getpid());
    reporter.max_queue =
        static_cast<std::size_t>(std::max(1, absl::GetFlag(FLAGS_outcome_queue_size)));
    options.proxy.outcomes = std::make_shared<llmrouter::gateway::OutcomeReporter>(
        reporter, llmrouter::gateway::MakeFanOutSink(std::move(sinks)), *runner.registry());
    options.proxy.outcomes->Start();
  }
  llmrouter::gateway::GatewayServer server(options, *decision, metrics);
  std::unique_ptr<llmrouter::gateway::RateLimitSync> rate_limit_sync;
  absl::StatusOr<std::optional<llmrouter::RedisOptions>> redis = llmrouter::RedisFromFlags();
  if (!redis.ok()) return Fail(redis.status());
  if (*redis) {
    // A live gateway renews its leases at least every quarter TTL (and every sync interval);
    // a TTL shorter than a few renewals would let a Redis hiccup hand its slots to others.
    if (absl::GetFlag(FLAGS_rate_limit_lease_ttl_ms) < 1000 ||
        absl::GetFlag(FLAGS_rate_limit_lease_ttl_ms) < 4 * absl::GetFlag(FLAGS_rate_limit_sync_ms)) {
      return Fail(absl::InvalidArgumentError(
          "--rate_limit_lease_ttl_ms must be at least 1000 and at least 4 × --rate_limit_sync_ms"));
    }
    llmrouter::gateway::RateLimitSyncOptions sync;
    sync.redis = **std::move(redis);
    sync.replica = llmrouter::RedisReplicaName();
    sync.interval = std::chrono::milliseconds(std::max(1, absl::GetFlag(FLAGS_rate_limit_sync_ms)));
    sync.fail_closed = absl::GetFlag(FLAGS_rate_limits_fail_closed);
    sync.lease_ttl = std::chrono::milliseconds(absl::GetFlag(FLAGS_rate_limit_lease_ttl_ms));
    rate_limit_sync = std::make_unique<llmrouter::gateway::RateLimitSync>(
        std::move(sync), server.rate_limiter(), *runner.registry());
  }

  if (absl::Status s = runner.StartMetrics(); !s.ok()) return Fail(s);
  if (absl::Status s = server.Start(); !s.ok()) return Fail(s);
  runner.AddPort("http_port", server.port());
  spdlog::info(
      "gateway_listening address={}:{} decision_target={} decision_link_target={} threads={} "
      "failsafe_models={}",
      options.http.host, server.port(), absl::GetFlag(FLAGS_decision_target),
      options.proxy.route_link.target, options.http.threads,
      options.proxy.fail_safe->Get()->size());
  if (absl::Status s = runner.WriteReadyFile(); !s.ok()) return Fail(s);

  int signal = llmrouter::WaitForShutdownSignal();
  if (shutdown_delay.count() > 0) {
    // Not ready but still serving: endpoints controllers and load balancers stop sending before
    // the listener closes, so that no new connection is refused while the gateway is in rotation.
    server.BeginStopping();
    runner.ReportNotServing();
    spdlog::info("gateway_leaving_rotation signal={} shutdown_delay_ms={}", signal,
                 shutdown_delay.count());
    if (int again = llmrouter::WaitForShutdownSignal(shutdown_delay); again != 0) {
      spdlog::info("gateway_shutdown_delay_cut signal={}", again);
    }
  }
  spdlog::info("gateway_stopping signal={} in_flight_grace_ms={}", signal,
               service_options->shutdown_grace.count());
  server.Stop(service_options->shutdown_grace);
  rate_limit_sync.reset();  // one last sync of what the last requests counted
  reloader.Stop();
  if (options.proxy.outcomes) options.proxy.outcomes->Stop();
  runner.Shutdown();
  return EXIT_SUCCESS;
}
