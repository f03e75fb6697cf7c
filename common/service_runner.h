// One way to start a service: flags, a gRPC server with health and reflection, a Prometheus
// /metrics listener on its own port, a ready file, and graceful stop on SIGTERM/SIGINT.
#ifndef LLMROUTER_COMMON_SERVICE_RUNNER_H_
#define LLMROUTER_COMMON_SERVICE_RUNNER_H_

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/http_server.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc
namespace prometheus {
class Registry;
}  // namespace prometheus

namespace llmrouter {

struct ServiceDefaults {
  std::string name;   // e.g. "decision"; also the health-service name prefix
  int grpc_port = 0;  // 0 when the service has no gRPC server of its own
  int metrics_port = 0;
};

struct ServiceOptions {
  std::string name;
  std::string host = "0.0.0.0";
  int grpc_port = 0;
  int metrics_port = 0;
  // When set, a JSON object of the bound ports is written here once everything listens.
  std::string ready_file;
  std::chrono::milliseconds shutdown_grace{5000};
};

// Reads the common flags (--host, --grpc_port, --metrics_port, --ready_file, --log_level,
// --log_format, --shutdown_grace) after absl::ParseCommandLine; -1 selects the service default.
// Also initialises logging.
absl::StatusOr<ServiceOptions> ServiceOptionsFromFlags(const ServiceDefaults& defaults);

// Blocks SIGTERM and SIGINT in the calling thread and every thread it creates afterwards, so
// that WaitForShutdownSignal() receives them. Call first thing in main().
void BlockShutdownSignals();
// Waits until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForShutdownSignal();
// The same, for `limit` at most; returns 0 when no signal came.
int WaitForShutdownSignal(std::chrono::milliseconds limit);

// A ServiceRunner owns the servers of one process. Not thread-safe: drive it from main().
class ServiceRunner {
 public:
  explicit ServiceRunner(ServiceOptions options);
  ~ServiceRunner();

  const ServiceOptions& options() const { return options_; }
  // The registry every metric of this process belongs to.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // Starts the /metrics listener. Unavailable when the port cannot be bound.
  absl::Status StartMetrics();
  // Starts the gRPC server with `services` plus health and reflection; each service's full name
  // is reported SERVING. Unavailable when the port cannot be bound.
  absl::Status StartGrpc(const std::vector<grpc::Service*>& services,
                         const std::vector<std::string>& service_names);
  // Records an extra listener (e.g. the gateway's HTTP port) for the ready file.
  void AddPort(std::string name, int port);
  // Writes the ready file (if configured) atomically.
  absl::Status WriteReadyFile() const;

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  grpc::Server* grpc_server() { return grpc_server_.get(); }

  // Reports every service of the gRPC server, if there is one, NOT_SERVING, so that health
  // checks take the process out of rotation while it keeps serving.
  void ReportNotServing();
  // Stops /metrics, reports NOT_SERVING, then stops the gRPC server, letting RPCs in flight finish
  // within the grace period.
  void Shutdown();

 private:
  ServiceOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<HttpServer> metrics_server_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::vector<std::string> service_names_;
  std::vector<std::pair<std::string, int>> ports_;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
};

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_SERVICE_RUNNER_H_
