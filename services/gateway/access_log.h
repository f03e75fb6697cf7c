// The gateway's access log: one JSON line per inference request (configurable off, sampled, or
// to a file), written by a thread of its own from a bounded queue, so that writing never blocks
// a worker; lines that do not fit are dropped and counted. Never the prompt, never an API key.
#ifndef LLMROUTER_SERVICES_GATEWAY_ACCESS_LOG_H_
#define LLMROUTER_SERVICES_GATEWAY_ACCESS_LOG_H_

#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/gateway/request_record.h"

namespace prometheus {
class Counter;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace llmrouter::gateway {

struct AccessLogOptions {
  // "-" or "stdout": standard output; otherwise a file, appended to.
  std::string destination;
  // The share of requests logged, from 0 to 1.
  double sample = 1;
  // Lines waiting to be written; beyond it, lines are dropped.
  std::size_t queue = 10000;
};

// What one line says about a finished request.
struct AccessLogEntry {
  absl::Time time;
  std::string_view request_id;
  std::string_view traceparent;  // the trace id is read from it
  std::string_view route;        // "chat_completions", ...
  int status = 0;
  double seconds = 0;
  std::size_t request_bytes = 0;
  const RequestRecord* record = nullptr;
};

// The line, without its newline: {"time":...,"request_id":...,"trace_id":...,"tenant":...,
// "model":...,"routed_model":...,"endpoint":...,"track":...,"rule":...,"policy":...,
// "status":...,"attempts":...,"ttft_ms":...,"duration_ms":...,"prompt_tokens":...,
// "completion_tokens":...,"estimated_cost_usd":...,"request_bytes":...,"response_bytes":...,"stream":...}.
std::string AccessLogLine(const AccessLogEntry& entry);

class AccessLog {
 public:
  // InvalidArgument for a sample outside [0, 1]; NotFound when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<AccessLog>> Open(AccessLogOptions options,
                                                         prometheus::Registry& registry);
  // Writes what is queued, then stops.
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Whether this request is one the sample logs.
  bool Sampled() const;
  // Queues one line (a newline is added); never blocks on the output.
  void Write(std::string line);

 private:
  AccessLog(AccessLogOptions options, std::FILE* out, bool owned, prometheus::Registry& registry);
  void Run();

  const AccessLogOptions options_;
  std::FILE* const out_;
  const bool owned_;
  prometheus::Family<prometheus::Counter>& lines_;
  prometheus::Counter& written_;
  prometheus::Counter& dropped_;
  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_ACCESS_LOG_H_
