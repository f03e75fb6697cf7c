#include "common/service_runner.h"

#include "grpc/health/v1/health.pb.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_tuning.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/tls_credentials.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, host, "0.0.0.0", "Address every listener binds to");
ABSL_FLAG(int, grpc_port, -1, "gRPC port; 0 picks a free port; -1 uses the service default");
ABSL_FLAG(int, metrics_port, -1,
          "Prometheus /metrics port; 0 picks a free port; -1 uses the service default");
ABSL_FLAG(std::string, ready_file, "",
          "When set, a JSON object with the bound ports is written here once the service is up");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error");
ABSL_FLAG(std::string, log_format, "text", "text (key=value) or json");
ABSL_FLAG(int, shutdown_grace_ms, 5000,
          "On SIGTERM, how long work in flight may take to finish before it is cut");

namespace llmrouter {

namespace asio = boost::asio;
namespace beast = boost::beast;

absl::StatusOr<ServiceOptions> ServiceOptionsFromFlags(const ServiceDefaults& defaults) {
  // Debian's Abseil is built with Mutex deadlock detection on, which gRPC's hot paths pay for
  // on every lock; the project's lock order is checked by the thread-safety annotations.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  RETURN_IF_ERROR(
      InitLogging(defaults.name, absl::GetFlag(FLAGS_log_level), absl::GetFlag(FLAGS_log_format)));
  ServiceOptions o;
  o.name = defaults.name;
  o.host = absl::GetFlag(FLAGS_host);
  int grpc_port = absl::GetFlag(FLAGS_grpc_port);
  int metrics_port = absl::GetFlag(FLAGS_metrics_port);
  o.grpc_port = grpc_port < 0 ? defaults.grpc_port : grpc_port;
  o.metrics_port = metrics_port < 0 ? defaults.metrics_port : metrics_port;
  if (o.grpc_port > 65535 || o.metrics_port > 65535) {
    return absl::InvalidArgumentError("ports must be between 0 and 65535");
  }
  o.ready_file = absl::GetFlag(FLAGS_ready_file);
  int grace = absl::GetFlag(FLAGS_shutdown_grace_ms);
  if (grace < 0) return absl::InvalidArgumentError("--shutdown_grace_ms must be >= 0");
  o.shutdown_grace = std::chrono::milliseconds(grace);
  // A broken certificate mount stops the service rather than leaving it without TLS.
  RETURN_IF_ERROR(ValidateTlsFiles(TlsFilesFromFlags()));
  return o;
}

namespace {

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockShutdownSignals() {
  sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A closed peer must surface as an error on the socket, not kill the process.
  signal(SIGPIPE, SIG_IGN);
}

int WaitForShutdownSignal() {
  sigset_t set = ShutdownSignals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

int WaitForShutdownSignal(std::chrono::milliseconds limit) {
  sigset_t set = ShutdownSignals();
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 0;
    timespec timeout{static_cast<time_t>(left.count() / 1000000000),
                     static_cast<long>(left.count() % 1000000000)};
    int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig > 0) return sig;
    if (errno == EAGAIN) return 0;
    // EINTR: another signal interrupted the wait; wait for the time left.
  }
}

ServiceRunner::ServiceRunner(ServiceOptions options)
    : options_(std::move(options)), registry_(std::make_shared<prometheus::Registry>()) {}

ServiceRunner::~ServiceRunner() { Shutdown(); }

absl::Status ServiceRunner::StartMetrics() {
  HttpServerOptions o;
  o.host = options_.host;
  o.port = options_.metrics_port;
  o.max_body_bytes = 0;
  std::shared_ptr<prometheus::Registry> registry = registry_;
  metrics_server_ = std::make_unique<HttpServer>(
      o, [registry](beast::tcp_stream& stream, HttpRequest& req) -> asio::awaitable<bool> {
        if (req.method() != beast::http::verb::get || req.target() != "/metrics") {
          co_return co_await WriteHttpResponse(stream, req.version(), req.keep_alive(), 404,
                                               "text/plain", "only GET /metrics is served here\n");
        }
        std::string text = prometheus::TextSerializer().Serialize(registry->Collect());
        co_return co_await WriteHttpResponse(stream, req.version(), req.keep_alive(), 200,
                                             "text/plain; version=0.0.4; charset=utf-8",
                                             std::move(text));
      });
  RETURN_IF_ERROR(metrics_server_->Start());
  metrics_port_ = metrics_server_->port();
  AddPort("metrics_port", metrics_port_);
  spdlog::info("metrics_listening address={}:{}", options_.host, metrics_port_);
  return absl::OkStatus();
}

absl::Status ServiceRunner::StartGrpc(const std::vector<grpc::Service*>& services,
                                      const std::vector<std::string>& service_names) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // Links grpc.health.v1's descriptor, so that reflection describes the health service too.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::ServerBuilder builder;
  std::string bind = absl::StrCat(options_.host, ":", options_.grpc_port);
  builder.AddListeningPort(bind, ServerCredentialsFromFlags(), &grpc_port_);
  ApplyGrpcTuning(builder);
  for (grpc::Service* s : services) builder.RegisterService(s);
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || grpc_port_ == 0) {
    grpc_server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", bind));
  }
  service_names_ = service_names;
  grpc::HealthCheckServiceInterface* health = grpc_server_->GetHealthCheckService();
  health->SetServingStatus(true);
  for (const std::string& n : service_names_) health->SetServingStatus(n, true);
  AddPort("grpc_port", grpc_port_);
  spdlog::info("grpc_listening address={}:{} services={}", options_.host, grpc_port_,
               absl::StrJoin(service_names_, ","));
  return absl::OkStatus();
}

void ServiceRunner::AddPort(std::string name, int port) {
  ports_.emplace_back(std::move(name), port);
}

absl::Status ServiceRunner::WriteReadyFile() const {
  if (options_.ready_file.empty()) return absl::OkStatus();
  std::string json = "{";
  for (size_t i = 0; i < ports_.size(); ++i) {
    absl::StrAppend(&json, i ? "," : "", "\"", ports_[i].first, "\":", ports_[i].second);
  }
  absl::StrAppend(&json, ",\"pid\":", getpid(), "}\n");
  std::string tmp = options_.ready_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json;
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), options_.ready_file.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp));
  }
  return absl::OkStatus();
}

void ServiceRunner::ReportNotServing() {
  if (!grpc_server_) return;
  grpc::HealthCheckServiceInterface* health = grpc_server_->GetHealthCheckService();
  health->SetServingStatus(false);
  for (const std::string& n : service_names_) health->SetServingStatus(n, false);
}

void ServiceRunner::Shutdown() {
  if (metrics_server_) metrics_server_->Stop(std::chrono::milliseconds(500));
  metrics_server_.reset();
  if (!grpc_server_) return;
  ReportNotServing();
  grpc_server_->Shutdown(std::chrono::system_clock::now() + options_.shutdown_grace);
  grpc_server_->Wait();
  grpc_server_.reset();
  spdlog::info("grpc_stopped");
}

}  // namespace llmrouter
