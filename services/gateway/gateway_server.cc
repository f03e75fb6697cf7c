#include "services/gateway/gateway_server.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/openai_error.h"
#include "services/gateway/request_identity.h"
#include "services/gateway/route_request_builder.h"

namespace llmrouter::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// Passes calls through to the real client and counts those whose callback has not run yet, so
// that Stop() can wait until no callback will post into the server's io_contexts. The count is
// shared with the callbacks, which may outlive this object.
class GatewayServer::InFlightDecisions : public DecisionClient {
 public:
  explicit InFlightDecisions(DecisionClient& inner) : inner_(inner) {}

  void Route(v1::RouteRequestRequest request, Deadline deadline, RouteCallback done) override {
    count_->fetch_add(1);
    inner_.Route(std::move(request), deadline,
                 [count = count_, done = std::move(done)](auto result) {
                   done(std::move(result));
                   count->fetch_sub(1);
                 });
  }

  void ListModels(v1::ListModelsRequest request, Deadline deadline,
                  ListModelsCallback done) override {
    count_->fetch_add(1);
    inner_.ListModels(std::move(request), deadline,
                      [count = count_, done = std::move(done)](auto result) {
                        done(std::move(result));
                        count->fetch_sub(1);
                      });
  }

  bool Reachable() override { return inner_.Reachable(); }

  // True when every call completed within `limit`.
  bool WaitIdle(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (count_->load() > 0) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

 private:
  DecisionClient& inner_;
  std::shared_ptr<std::atomic<int>> count_ = std::make_shared<std::atomic<int>>(0);
};

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kJson = "application/json";

std::string_view StdView(absl::string_view s) { return std::string_view(s.data(), s.size()); }

std::string_view PathOf(const HttpRequest& request) {
  std::string_view target(request.target().data(), request.target().size());
  return target.substr(0, target.find('?'));
}

// Checks the bearer key and, when it is known, makes its tenant the request's tenant.
bool Authenticate(const ApiKeyStore& keys, HttpRequest& request) {
  auto header = request.find(http::field::authorization);
  if (header == request.end()) return false;
  std::string_view value(header->value().data(), header->value().size());
  constexpr std::string_view kBearer = "bearer ";
  if (value.size() <= kBearer.size() ||
      !absl::StartsWithIgnoreCase(absl::string_view(value.data(), value.size()), "bearer ")) {
    return false;
  }
  std::optional<ApiKeyStore::Identity> identity = keys.Identify(value.substr(kBearer.size()));
  if (!identity) return false;
  request.set("x-router-tenant", identity->tenant);
  request.set(kApiKeyIdHeader, identity->key_id);
  return true;
}

// The HTTP server's options, with connections cut by a client timeout counted in `metrics` and
// each worker thread's proxy state set up before it serves (so the decision link connects at
// start, not at the first request).
HttpServerOptions WithGatewayHooks(HttpServerOptions http, GatewayMetrics& metrics,
                                   InferenceProxy& proxy) {
  http.on_client_timeout = [&metrics](ClientTimeout timeout) { metrics.ClientTimedOut(timeout); };
  http.on_connection = [&metrics](ConnectionEvent event) { metrics.Connection(event); };
  http.on_accept_error = [&metrics](const boost::system::error_code&, std::chrono::milliseconds) {
    metrics.AcceptFailed();
  };
  http.on_thread_start = [&proxy](asio::io_context& context) {
    proxy.StartWorker(context.get_executor());
  };
  return http;
}

// Counts an inference request in the gateway's in-flight count and gauge for as long as it
// lives, however the request's coroutine ends.
class InferenceInFlight {
 public:
  InferenceInFlight(std::atomic<int>& count, prometheus::Gauge& gauge)
      : count_(count), gauge_(gauge), before_(count_.fetch_add(1, std::memory_order_relaxed)) {
    gauge_.Increment();
  }
  ~InferenceInFlight() {
    count_.fetch_sub(1, std::memory_order_relaxed);
    gauge_.Decrement();
  }
  InferenceInFlight(const InferenceInFlight&) = delete;
  InferenceInFlight& operator=(const InferenceInFlight&) = delete;
  // How many were in flight before this one.
  int before() const { return before_; }

 private:
  std::atomic<int>& count_;
  prometheus::Gauge& gauge_;
  const int before_;
};

}  // namespace

GatewayServer::GatewayServer(GatewayServerOptions options, DecisionClient& decision,
                             GatewayMetrics& metrics)
    : options_(std::move(options)),
      decision_(std::make_shared<InFlightDecisions>(decision)),
      metrics_(metrics),
      proxy_(options_.proxy, *decision_, metrics),
      http_(WithGatewayHooks(options_.http, metrics, proxy_),
            [this](beast::tcp_stream& stream, HttpRequest& request) {
              return Handle(stream, request);
            }) {}

GatewayServer::~GatewayServer() { Stop(std::chrono::milliseconds(0)); }

absl::Status GatewayServer::Start() { return http_.Start(); }

void GatewayServer::Stop(std::chrono::milliseconds grace) {
  http_.Stop(grace);
  // gRPC completes every call by its deadline; the margin only guards against a broken client.
  if (!decision_->WaitIdle(options_.proxy.decision_timeout + std::chrono::seconds(5))) {
    spdlog::error("gateway_stop decision calls still pending after their deadline");
  }
}

asio::awaitable<bool> GatewayServer::Handle(beast::tcp_stream& stream, HttpRequest& request) {
  auto start = std::chrono::steady_clock::now();
  bool keep_alive = request.keep_alive() && !http_.stopping();
  std::string_view path = PathOf(request);
  std::string_view route = "other";
  v1::RequestKind kind = v1::REQUEST_KIND_UNSPECIFIED;
  if (path == "/v1/chat/completions") {
    route = "chat_completions";
    kind = v1::REQUEST_KIND_CHAT_COMPLETION;
  } else if (path == "/v1/completions") {
    route = "completions";
    kind = v1::REQUEST_KIND_COMPLETION;
  } else if (path == "/v1/embeddings") {
    route = "embeddings";
    kind = v1::REQUEST_KIND_EMBEDDING;
  } else if (path == "/v1/models") {
    route = "models";
  } else if (path == "/healthz") {
    route = "healthz";
  } else if (path == "/readyz") {
    route = "readyz";
  }
  const http::verb method = request.method();
  const bool is_inference = kind != v1::REQUEST_KIND_UNSPECIFIED;
  // Which API key a request came with is the gateway's to say, never the client's.
  request.erase(kApiKeyIdHeader);
  if (is_inference) AssignRequestIdentity(request);
  // The request id goes back with every answer to an inference request, refusals included.
  auto identified = [&request](Headers headers) {
    std::string_view id = RequestIdOf(request);
    if (!id.empty()) headers.emplace_back(std::string(kRequestIdHeader), std::string(id));
    return headers;
  };

  // Literals are turned into strings before co_await: g++ 12 fails on array temporaries kept
  // in a coroutine frame.
  int status = 0;
  bool written = true;
  RequestRecord record;
  if (route == "other") {
    status = 404;
    std::string body =
        OpenAiErrorJson(status,
                        absl::StrCat("Invalid URL (", std::string(request.method_string()), " ",
                                     std::string(path), ")"),
                        "unknown_url");
    written = co_await WriteHttpResponse(stream, request.version(), keep_alive, status, kJson,
                                         std::move(body));
  } else if (method != (is_inference ? http::verb::post : http::verb::get)) {
    status = 405;
    std::string allowed = is_inference ? "POST" : "GET";
    std::string body =
        OpenAiErrorJson(status,
                        absl::StrCat("method ", std::string(request.method_string()),
                                     " is not allowed on ", std::string(path), "; use ", allowed),
                        "method_not_allowed");
    Headers headers = {{"allow", allowed}};
    written = co_await WriteHttpResponse(stream, request.version(), keep_alive, status, kJson,
                                         std::move(body), headers);
  } else if (options_.api_keys && (is_inference || route == "models") &&
             !Authenticate(*options_.api_keys, request)) {
    status = 401;
    std::string body = OpenAiErrorJson(
        status, "Incorrect or missing API key. Send it as \"Authorization: Bearer <key>\".",
        "invalid_api_key");
    Headers headers = identified({{"www-authenticate", "Bearer"}});
    written = co_await WriteHttpResponse(stream, request.version(), keep_alive, status, kJson,
                                         std::move(body), headers);
  } else if (is_inference) {
    const int limit = options_.max_concurrent_requests;
    std::optional<InferenceInFlight> in_flight;
    in_flight.emplace(inference_in_flight_, metrics_.requests_in_flight());
    if (limit > 0 && in_flight->before() >= limit) {
      in_flight.reset();
      metrics_.RequestShed();
      status = 503;
      std::string body = OpenAiErrorJson(status,
                                         absl::StrCat("the gateway is serving its limit of ", limit,
                                                      " concurrent requests; retry shortly"),
                                         "overloaded");
      Headers headers = identified({{"retry-after", "1"}});
      written = co_await WriteHttpResponse(stream, request.version(), keep_alive, status, kJson,
                                           std::move(body), headers);
    } else {
      ProxyOutcome outcome = co_await proxy_.Serve(stream, request, kind, keep_alive, &record);
      in_flight.reset();
      status = outcome.http_status;
      written = outcome.keep_alive;
    }
  } else if (route == "models") {
    status = co_await ServeModels(stream, request, keep_alive);
  } else if (route == "healthz") {
    status = 200;
    std::string body = "{\"status\":\"ok\"}";
    written = co_await WriteHttpResponse(stream, request.version(), keep_alive, status, kJson,
                                         std::move(body));
  } else {  // readyz
    const bool fail_safe = options_.proxy.fail_safe && !options_.proxy.fail_safe->Get()->empty();
    std::string body;
    if (http_.stopping()) {
      body = "{\"status\":\"stopping\",\"reason\":\"shutting down\"}";
    } else if (decision_->Reachable()) {
      body = "{\"status\":\"ready\",\"decision\":\"reachable\"}";
    } else if (fail_safe) {
      body = "{\"status\":\"ready\",\"decision\":\"unreachable\",\"routing\":\"failsafe\"}";
    } else {
      body = "{\"status\":\"not_ready\",\"decision\":\"unreachable\"}";
    }
    status = body.find("\"ready\"") != std::string::npos ? 200 : 503;
    written = co_await WriteHttpResponse(stream, request.version(), keep_alive, status, kJson,
                                         std::move(body));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.RequestDone(route, status, seconds);
  if (is_inference && options_.access_log != nullptr && options_.access_log->Sampled()) {
    AccessLogEntry entry;
    entry.time = absl::Now();
    entry.request_id = RequestIdOf(request);
    auto traceparent = request.find("traceparent");
    if (traceparent != request.end()) {
      entry.traceparent =
          std::string_view(traceparent->value().data(), traceparent->value().size());
    }
    entry.route = route;
    entry.status = status;
    entry.seconds = seconds;
    entry.request_bytes = request.body().size();
    entry.record = &record;
    options_.access_log->Write(AccessLogLine(entry));
  }
  co_return keep_alive&& written;
}

asio::awaitable<int> GatewayServer::ServeModels(beast::tcp_stream& stream,
                                                const HttpRequest& request, bool keep_alive) {
  absl::StatusOr<std::string> tenant = TenantOf(request);
  if (!tenant.ok()) {
    std::string body = OpenAiErrorJson(400, StdView(tenant.status().message()));
    co_await WriteHttpResponse(stream, request.version(), keep_alive, 400, kJson, std::move(body));
    co_return 400;
  }
  v1::ListModelsRequest list_request;
  list_request.set_tenant(*std::move(tenant));
  auto decision_start = std::chrono::steady_clock::now();
  absl::StatusOr<v1::ListModelsResponse> models = co_await AsyncListModels(
      *decision_, std::move(list_request),
      std::chrono::system_clock::now() + options_.proxy.decision_timeout, asio::use_awaitable);
  metrics_.DecisionDone(
      models.status(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - decision_start).count());
  if (!models.ok()) {
    DecisionHttpError error = DecisionErrorToHttp(models.status());
    Headers headers;
    if (error.retry_after_seconds > 0) {
      headers.emplace_back("retry-after", std::to_string(error.retry_after_seconds));
    }
    std::string body = OpenAiErrorJson(error.http_status, error.message, error.code);
    co_await WriteHttpResponse(stream, request.version(), keep_alive, error.http_status, kJson,
                               std::move(body), headers);
    co_return error.http_status;
  }
  std::string body = "{\"object\":\"list\",\"data\":[";
  bool first = true;
  for (const v1::ModelInfo& model : models->models()) {
    if (!first) body.push_back(',');
    first = false;
    body.append("{\"id\":");
    AppendJsonString(&body, model.name());
    body.append(",\"object\":\"model\",\"created\":0,\"owned_by\":");
    AppendJsonString(&body, model.owned_by().empty() ? "llm-router" : model.owned_by());
    body.push_back('}');
  }
  body.append("]}");
  co_await WriteHttpResponse(stream, request.version(), keep_alive, 200, kJson, std::move(body));
  co_return 200;
}

}  // namespace llmrouter::gateway
