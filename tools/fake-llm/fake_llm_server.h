// FakeLlmServer: an OpenAI-compatible model backend that answers instantly or as slowly and as
// unreliably as it is told to. It serves the demo, the integration tests and the benchmarks.
#ifndef LLMROUTER_TOOLS_FAKE_LLM_FAKE_LLM_SERVER_H_
#define LLMROUTER_TOOLS_FAKE_LLM_FAKE_LLM_SERVER_H_

// Boost 1.74's coroutine headers need <utility> first with g++ 12.
// clang-format off
#include <utility>
// clang-format on

#include <atomic>
#include <chrono>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "common/http_server.h"
#include "tools/fake-llm/completion_writer.h"
#include "tools/fake-llm/concurrency_limiter.h"
#include "tools/fake-llm/fake_llm_metrics.h"
#include "tools/fake-llm/fake_llm_options.h"
#include "tools/fake-llm/inference_request.h"

namespace llmrouter {

// Routes:
//   POST /v1/chat/completions, /v1/completions  JSON or SSE stream ("stream": true)
//   POST /v1/embeddings                         deterministic unit vectors per input
//   GET  /v1/models, /health, /metrics          (vLLM metric names)
// Every inference answer carries the header x-fake-llm-backend: <backend name>, and the request's
// x-request-id, traceparent and tracestate as x-fake-llm-request-id, -traceparent, -tracestate.
// With an api_key, an inference request without `Authorization: Bearer <api_key>` gets 401 first.
//
// A valid inference request waits for a slot (max_concurrency), then for latency_ms, then meets
// the injected faults, each drawn independently in this order: error (an OpenAI error with
// error_status), hang (no answer, keeping the slot, until the client or the server goes away), drop
// (JSON: close without answering; stream: close after half the tokens, without the last chunk).
//
// Start() and Stop() are called from one thread; requests are served on `threads` threads.
class FakeLlmServer {
 public:
  // `options` must have passed ValidateFakeLlmOptions.
  explicit FakeLlmServer(FakeLlmOptions options);
  ~FakeLlmServer();
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;

  // Unavailable when the address cannot be bound.
  absl::Status Start();
  int port() const { return server_->port(); }
  // Stops accepting and lets requests in flight finish (hung ones give up at once) for up to
  // `grace`.
  void Stop(std::chrono::milliseconds grace);

  const FakeLlmOptions& options() const { return options_; }

 private:
  using Stream = boost::beast::tcp_stream;

  boost::asio::awaitable<bool> Handle(Stream& stream, HttpRequest& req);
  boost::asio::awaitable<bool> HandleInference(Stream& stream, HttpRequest& req, InferenceApi api);
  boost::asio::awaitable<bool> WriteStream(Stream& stream, HttpRequest& req, InferenceApi api,
                                           const CompletionMeta& meta, bool include_usage,
                                           bool drop);
  // Holds the connection without answering; returns once the peer closes or Stop() begins.
  boost::asio::awaitable<bool> Hang(Stream& stream);
  // Writes a complete response; `extra_header` is a whole "Name: value\r\n" line or empty.
  boost::asio::awaitable<bool> Write(Stream& stream, const HttpRequest& req, int status,
                                     std::string_view content_type, std::string_view body,
                                     std::string_view extra_header = {});
  boost::asio::awaitable<bool> WriteError(Stream& stream, const HttpRequest& req, int status,
                                          std::string_view message, std::string_view code = {},
                                          std::string_view extra_header = {});
  bool KeepAlive(const HttpRequest& req) const;
  InjectedFault DrawFault();

  const FakeLlmOptions options_;
  const std::string backend_header_;  // "x-fake-llm-backend: <name>\r\n"
  const std::string authorization_;   // "Bearer <api_key>", checked when api_key is set
  const CompletionWriter writer_;
  FakeLlmMetrics metrics_;
  ConcurrencyLimiter limiter_;
  // What POST /control changes at run time: the load /metrics reports (-1: the real figure)
  // and the injected error rate. Starts from the options.
  std::atomic<double> report_running_;
  std::atomic<double> report_waiting_;
  std::atomic<double> report_kv_cache_;
  std::atomic<double> error_rate_;
  // Last, so that it stops (and its coroutines end) before the members they use go away.
  std::unique_ptr<HttpServer> server_;
};

}  // namespace llmrouter

#endif  // LLMROUTER_TOOLS_FAKE_LLM_FAKE_LLM_SERVER_H_
