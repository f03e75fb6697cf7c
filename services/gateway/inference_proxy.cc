#include "services/gateway/inference_proxy.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/http_wire.h"
#include "common/logging.h"
#include "common/openai_error.h"
#include "services/gateway/client_watch.h"
#include "services/gateway/request_identity.h"
#include "services/gateway/route_request_builder.h"
#include "services/gateway/upstream_exchange.h"

namespace llmrouter::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

std::string_view StdView(absl::string_view s) { return std::string_view(s.data(), s.size()); }
std::string_view StdView(beast::string_view s) { return std::string_view(s.data(), s.size()); }

// `record` (may be null) counts the error's bytes.
asio::awaitable<ProxyOutcome> WriteError(RequestRecord* record, beast::tcp_stream& client,
                                         const HttpRequest& request, bool keep_alive, int status,
                                         std::string_view message, std::string_view code,
                                         Headers headers = {}) {
  if (std::string_view id = RequestIdOf(request); !id.empty()) {
    headers.emplace_back(std::string(kRequestIdHeader), std::string(id));
  }
  std::string body = OpenAiErrorJson(status, message, code);
  if (record != nullptr) record->response_bytes += body.size();
  bool written = co_await WriteHttpResponse(client, request.version(), keep_alive, status,
                                            "application/json", std::move(body), headers);
  co_return ProxyOutcome{status, written && keep_alive};
}

// What one request is admitted against: the limits decision sent for its tenant, the API key it
// came with, and its tokens as reserved at admission (the prompt's estimate plus the output it
// asks for at most).
RateLimitRequest MakeRateLimitRequest(const v1::RateLimits& limits, const HttpRequest& request,
                                      const InspectedRequest& inspected) {
  RateLimitRequest r;
  r.window = std::chrono::milliseconds(std::max<int64_t>(
      1000, limits.window().seconds() * 1000 + limits.window().nanos() / 1000000));
  r.tenant = limits.tenant();
  r.tenant_quota = {limits.tenant_limits().requests(), limits.tenant_limits().tokens(),
                    limits.tenant_limits().concurrent()};
  auto key = request.find(kApiKeyIdHeader);
  if (key != request.end()) r.api_key = std::string(StdView(key->value()));
  r.api_key_quota = {limits.per_api_key().requests(), limits.per_api_key().tokens(),
                     limits.per_api_key().concurrent()};
  r.tokens = uint64_t{inspected.estimated_tokens} + inspected.max_output_tokens;
  return r;
}

// OpenAI's x-ratelimit-* headers, for the kinds that have a limit.
Headers RateLimitHeaders(const RateLimitStatus& s) {
  Headers headers;
  if (s.has_requests) {
    headers.emplace_back("x-ratelimit-limit-requests", std::to_string(s.limit_requests));
    headers.emplace_back("x-ratelimit-remaining-requests", std::to_string(s.remaining_requests));
    headers.emplace_back("x-ratelimit-reset-requests", FormatResetDuration(s.reset_requests));
  }
  if (s.has_tokens) {
    headers.emplace_back("x-ratelimit-limit-tokens", std::to_string(s.limit_tokens));
    headers.emplace_back("x-ratelimit-remaining-tokens", std::to_string(s.remaining_tokens));
    headers.emplace_back("x-ratelimit-reset-tokens", FormatResetDuration(s.reset_tokens));
  }
  if (!s.admitted) {
    // Whole seconds, rounded up: a client that waits this long finds the window reset.
    headers.emplace_back("retry-after", std::to_string((s.retry_after.count() + 999) / 1000));
  }
  return headers;
}

std::string RateLimitMessage(const RateLimitStatus& s, const v1::RateLimits& limits) {
  if (s.store_unavailable) {
    return "Rate limits cannot be checked: their shared store is unavailable and this gateway "
           "fails closed. Please try again in 1s.";
  }
  const std::string window = FormatResetDuration(std::chrono::milliseconds(
      limits.window().seconds() * 1000 + limits.window().nanos() / 1000000));
  std::string what;
  switch (s.exceeded) {
    case RateLimitKind::kRequests:
      what = absl::StrCat("requests per ", window, ": limit ", s.exceeded_limit);
      break;
    case RateLimitKind::kTokens:
      what = absl::StrCat("tokens per ", window, ": limit ", s.exceeded_limit);
      break;
    case RateLimitKind::kConcurrent:
      what = absl::StrCat("concurrent requests: limit ", s.exceeded_limit);
      break;
  }
  return absl::StrCat("Rate limit reached for ", what, " (",
                      s.exceeded_scope == "tenant" ? absl::StrCat("tenant ", limits.tenant())
                                                   : std::string("this API key"),
                      "). Please try again in ", FormatResetDuration(s.retry_after), ".");
}

// An absent content type is taken as JSON, as the OpenAI clients always send it; any other
// type (text/plain, a form) is not parsed as JSON.
bool IsJsonContentType(const HttpRequest& request) {
  auto it = request.find(http::field::content_type);
  if (it == request.end()) return true;
  absl::string_view type(it->value().data(), it->value().size());
  type = absl::StripAsciiWhitespace(type.substr(0, type.find(';')));
  return absl::EqualsIgnoreCase(type, "application/json") ||
         (absl::StartsWithIgnoreCase(type, "application/") &&
          absl::EndsWithIgnoreCase(type, "+json"));
}

bool IsEventStream(std::string_view content_type) {
  return absl::StartsWithIgnoreCase(absl::string_view(content_type.data(), content_type.size()),
                                    "text/event-stream");
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The request as the backend gets it: the client's path and body bytes, and only the headers
// that describe the body. The client's credentials are not the backend's.
UpstreamRequest MakeUpstreamRequest(const HttpRequest& request, const v1::Target& target,
                                    std::string_view body, std::string_view authorization) {
  UpstreamRequest out{http::verb::post, request.target(), 11};
  out.set(http::field::host, target.address());
  auto content_type = request.find(http::field::content_type);
  out.set(http::field::content_type, content_type != request.end()
                                         ? content_type->value()
                                         : beast::string_view("application/json"));
  auto accept = request.find(http::field::accept);
  if (accept != request.end()) out.set(http::field::accept, accept->value());
  // The request's identity and trace context: the backend's logs and spans join the caller's.
  if (std::string_view id = RequestIdOf(request); !id.empty()) {
    out.set(beast::string_view(kRequestIdHeader.data(), kRequestIdHeader.size()),
            beast::string_view(id.data(), id.size()));
  }
  if (std::string child = ChildTraceparent(request); !child.empty()) {
    out.set("traceparent", child);
    auto state = request.find("tracestate");
    if (state != request.end()) out.set("tracestate", state->value());
  }
  if (!authorization.empty()) {
    out.set(http::field::authorization,
            beast::string_view(authorization.data(), authorization.size()));
  }
  out.keep_alive(true);
  out.body() = UpstreamRequest::body_type::value_type(body.data(), body.size());
  out.prepare_payload();
  return out;
}

// The backend's own headers reach the client (rate-limit hints, ...), except those about this
// hop's framing, which the gateway sets itself, the request id (the gateway's stands), and any
// x-router-* it may not claim.
bool IsEndToEnd(const http::fields::value_type& field) {
  switch (field.name()) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_authenticate:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::content_length:
    case http::field::server:
      return false;
    default:
      return !beast::iequals(field.name_string().substr(0, 9), "x-router-") &&
             !beast::iequals(field.name_string(), "x-request-id");
  }
}

void CopyEndToEndHeaders(const http::response_header<>& upstream, http::fields& out) {
  for (const auto& field : upstream) {
    if (IsEndToEnd(field)) out.insert(field.name_string(), field.value());
  }
}

// What PrepareResponse, prepare_payload() and the serializer make of a whole answer of
// `body_bytes`, written straight into `out` without building a second set of fields.
void AppendAnswerHead(unsigned version, const http::response_header<>& upstream,
                      const std::vector<std::pair<std::string, std::string>>& router_headers,
                      bool keep_alive, std::size_t body_bytes, std::string* out) {
  auto append = [out](beast::string_view name, beast::string_view value) {
    AppendHttpField(name, value, out);
  };
  AppendHttpStatusLine(version, upstream.result_int(), {}, out);
  bool content_type = false;
  for (const auto& field : upstream) {
    if (!IsEndToEnd(field)) continue;
    content_type = content_type || field.name() == http::field::content_type;
    append(field.name_string(), field.value());
  }
  if (!content_type) append("Content-Type", "application/json");
  for (const auto& [name, value] : router_headers) append(name, value);
  if (version == 10 && keep_alive) append("Connection", "keep-alive");
  if (version != 10 && !keep_alive) append("Connection", "close");
  append("Content-Length", std::to_string(body_bytes));
  out->append("\r\n");
}

// The response header the client gets: the backend's status and end-to-end headers, a content
// type, and the router's own headers.
template <typename Body>
void PrepareResponse(const HttpRequest& request, const http::response_header<>& upstream,
                     const Headers& router_headers, bool keep_alive,
                     http::response<Body>* response) {
  response->version(request.version());
  response->result(upstream.result_int());
  CopyEndToEndHeaders(upstream, *response);
  if (response->find(http::field::content_type) == response->end()) {
    response->set(http::field::content_type, "application/json");
  }
  for (const auto& [name, value] : router_headers) response->set(name, value);
  response->keep_alive(keep_alive);
}

// The policy that decided, as `x-router-policy-revision` shows it: the first 12 hex digits of the
// bundle's SHA-256, the same on every decision replica running it (`routerctl policy history`
// and `policy status` print the same prefix). A decision without a hash (the fail-safe table, or
// a decision replica older than the hash) shows its revision number.
std::string PolicyRevisionHeader(const v1::RouteRequestResponse& decision) {
  constexpr std::size_t kHashDigits = 12;
  if (!decision.policy_sha256().empty()) return decision.policy_sha256().substr(0, kHashDigits);
  return std::to_string(decision.policy_revision());
}

// What decided this request, as one line of JSON: the decision, the target that answered and,
// when decision traced it, every rule and candidate it weighed.
std::string ExplainJson(const v1::RouteRequestResponse& decision, const v1::Target& target,
                        std::size_t fallbacks) {
  std::string out = "{\"decision_id\":";
  AppendJsonString(&out, decision.decision_id());
  out.append(",\"policy_sha256\":");
  AppendJsonString(&out, decision.policy_sha256());
  absl::StrAppend(&out, ",\"policy_revision\":", decision.policy_revision(), ",\"policy_rule\":");
  AppendJsonString(&out, decision.policy_rule());
  out.append(",\"model\":");
  AppendJsonString(&out, target.model());
  out.append(",\"endpoint\":");
  AppendJsonString(&out, target.endpoint_id());
  absl::StrAppend(&out, ",\"fallbacks\":", fallbacks,
                  ",\"estimated_cost_usd\":", decision.estimated_cost_usd());
  if (decision.has_trace()) {
    std::string trace;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    if (google::protobuf::util::MessageToJsonString(decision.trace(), &trace, options).ok()) {
      absl::StrAppend(&out, ",\"trace\":", trace);
    }
  }
  out.push_back('}');
  return out;
}

// Adds "router": <explanation> as the last member of a JSON object answer; leaves anything that
// is not an object alone.
void AddRouterField(const std::string& explanation, std::string* answer) {
  std::size_t end = answer->find_last_not_of(" \t\r\n");
  if (end == std::string::npos || (*answer)[end] != '}') return;
  std::size_t before = answer->find_last_not_of(" \t\r\n", end - 1);
  bool empty_object = before != std::string::npos && (*answer)[before] == '{';
  answer->insert(end, absl::StrCat(empty_object ? "" : ",", "\"router\":", explanation));
}

}  // namespace

struct InferenceProxy::Worker {
  Worker(asio::any_io_executor executor, const InferenceProxyOptions& options,
         GatewayMetrics& metrics)
      : inspector(options.inspector), pool(executor, options.pool), rng(std::random_device{}()) {
    if (!options.route_link.target.empty()) {
      link = std::make_unique<RouteLinkClient>(executor, options.route_link,
                                               &metrics.decision_link_connections());
    }
  }

  RequestInspector inspector;
  UpstreamPool pool;
  std::unique_ptr<RouteLinkClient> link;  // null: gRPC only
  std::mt19937_64 rng;                    // retry back-off jitter

  uint64_t random() { return rng(); }
};

InferenceProxy::InferenceProxy(InferenceProxyOptions options, DecisionClient& decision,
                               GatewayMetrics& metrics)
    : options_(std::move(options)),
      decision_(decision),
      metrics_(metrics),
      retry_budget_(options_.retry),
      rate_limiter_(options_.rate_limit_clock) {}

// HttpServer runs each io_context on one thread of its own, so a thread's worker state serves
// exactly one io_context, and the coroutine always resumes on the thread that started it.
InferenceProxy::Worker& InferenceProxy::LocalWorker(const asio::any_io_executor& executor) {
  thread_local std::unique_ptr<Worker> worker;
  if (!worker) worker = std::make_unique<Worker>(executor, options_, metrics_);
  return *worker;
}

void InferenceProxy::StartWorker(asio::any_io_executor executor) { LocalWorker(executor); }

asio::awaitable<ProxyOutcome> InferenceProxy::Serve(beast::tcp_stream& client, HttpRequest& request,
                                                    v1::RequestKind kind, bool keep_alive,
                                                    RequestRecord* record) {
  const RetryBudget::Request in_flight(retry_budget_);
  Call call{client,
            request,
            keep_alive,
            std::chrono::steady_clock::now(),
            LocalWorker(client.get_executor()),
            record};
  // 1. What the client asks for.
  if (!IsJsonContentType(request)) {
    co_return co_await WriteError(
        record, client, request, keep_alive, 415,
        "the request body must be JSON: send it with content-type: application/json",
        "unsupported_media_type");
  }
  absl::StatusOr<InspectedRequest> inspected = call.worker.inspector.Inspect(request.body());
  if (!inspected.ok()) {
    co_return co_await WriteError(record, client, request, keep_alive, 400,
                                  StdView(inspected.status().message()), "");
  }
  absl::StatusOr<v1::RouteRequestRequest> route =
      BuildRouteRequest(request, *inspected, kind, options_.region);
  if (!route.ok()) {
    co_return co_await WriteError(record, client, request, keep_alive, 400,
                                  StdView(route.status().message()), "");
  }
  const std::string tenant = route->tenant();
  const bool explain = route->explain();
  if (record != nullptr) {
    record->tenant = tenant;
    record->requested_model = inspected->model;
    record->stream = inspected->stream;
  }
  // 2. Where it goes.
  absl::StatusOr<v1::RouteRequestResponse> decision =
      co_await Decide(call.worker, *std::move(route), inspected->model);
  if (!decision.ok()) {
    DecisionHttpError error = DecisionErrorToHttp(decision.status());
    Headers headers;
    if (error.retry_after_seconds > 0) {
      headers.emplace_back("retry-after", std::to_string(error.retry_after_seconds));
    }
    co_return co_await WriteError(record, client, request, keep_alive, error.http_status,
                                  error.message, error.code, std::move(headers));
  }
  if (record != nullptr) {
    record->decision_id = decision->decision_id();
    record->rule = decision->policy_rule();
    record->policy = PolicyRevisionHeader(*decision);
    record->estimated_cost_usd = decision->estimated_cost_usd();
  }
  // 3. What the tenant's rate limits allow.
  RateLimiter::Lease rate_limit;
  Headers rate_limit_headers;
  if (decision->has_rate_limits()) {
    const RateLimitStatus limits = rate_limiter_.Admit(
        MakeRateLimitRequest(decision->rate_limits(), request, *inspected), &rate_limit);
    rate_limit_headers = RateLimitHeaders(limits);
    if (!limits.admitted) {
      metrics_.RateLimited(decision->rate_limits().tenant(), RateLimitKindName(limits.exceeded));
      co_return co_await WriteError(record, client, request, keep_alive, 429,
                                    RateLimitMessage(limits, decision->rate_limits()),
                                    "rate_limit_exceeded", std::move(rate_limit_headers));
    }
  }
  // 4. The targets of the plan in turn, until one answers.
  co_return co_await TryTargets(call, *inspected, *decision, tenant, explain, &rate_limit,
                                rate_limit_headers);
}

asio::awaitable<absl::StatusOr<v1::RouteRequestResponse>> InferenceProxy::Decide(
    Worker& worker, v1::RouteRequestRequest route, std::string_view model) {
  auto decision_start = std::chrono::steady_clock::now();
  absl::StatusOr<v1::RouteRequestResponse> decision;
  bool ask_grpc = true;
  if (worker.link && worker.link->ready()) {
    decision = co_await AsyncRoute(*worker.link, route, decision_start + options_.decision_timeout,
                                   asio::use_awaitable);
    ask_grpc = !decision.ok() && IsRouteLinkFailure(decision.status());
  }
  if (ask_grpc) {
    // No link, or one that could not carry the call: gRPC, within what is left of the deadline.
    if (worker.link) metrics_.DecisionLinkFallback();
    decision = co_await AsyncRoute(decision_, std::move(route),
                                   std::chrono::system_clock::now() + options_.decision_timeout -
                                       (std::chrono::steady_clock::now() - decision_start),
                                   asio::use_awaitable);
  }
  metrics_.DecisionDone(decision.status(), SecondsSince(decision_start));
  // Decision unreachable or too slow: the static table answers for the models it knows.
  if (!decision.ok() && options_.fail_safe &&
      (decision.status().code() == absl::StatusCode::kUnavailable ||
       decision.status().code() == absl::StatusCode::kDeadlineExceeded)) {
    absl::StatusOr<v1::RouteRequestResponse> fail_safe = options_.fail_safe->Get()->Route(model);
    if (fail_safe.ok()) {
      // Counted per request; logged at most once a second, or an outage floods the log.
      if (fail_safe_log_.ShouldLog()) {
        spdlog::warn("gateway_failsafe_route model={} decision_error=\"{}\" routed_since_last={}",
                     model, decision.status().message(), fail_safe_log_.TakeSuppressed());
      }
      metrics_.FailSafeRoute();
      decision = *std::move(fail_safe);
    }
  }
  co_return decision;
}

asio::awaitable<ProxyOutcome> InferenceProxy::TryTargets(Call& call,
                                                         const InspectedRequest& inspected,
                                                         const v1::RouteRequestResponse& decision,
                                                         const std::string& tenant, bool explain,
                                                         RateLimiter::Lease* rate_limit,
                                                         const Headers& rate_limit_headers) {
  std::vector<const v1::Target*> targets;
  if (decision.has_target() && !decision.target().address().empty()) {
    targets.push_back(&decision.target());
  }
  for (const v1::Target& fallback : decision.fallbacks()) targets.push_back(&fallback);
  if (targets.size() > static_cast<std::size_t>(std::max(1, options_.max_attempts))) {
    targets.resize(std::max(1, options_.max_attempts));
  }
  if (targets.empty()) {
    co_return co_await WriteError(call.record, call.client, call.request, call.keep_alive, 502,
                                  "routing decision named no target", "upstream_error",
                                  rate_limit_headers);
  }
  TargetPlan plan{
      decision,   tenant,
      explain,    options_.upstream_credentials ? options_.upstream_credentials->Get() : nullptr,
      rate_limit, rate_limit_headers};
  const auto overall_deadline = options_.request_timeout.count() > 0
                                    ? call.start + options_.request_timeout
                                    : std::chrono::steady_clock::time_point::max();
  // While the gateway waits on backends, a client that leaves cancels the wait (and frees its
  // slot) instead of holding both until a backend answers.
  UpstreamExchange* current = nullptr;
  asio::steady_timer pause(call.client.get_executor());
  ClientWatch watch(call.client, [&] {
    if (current != nullptr) current->Abort();
    pause.cancel();
  });
  std::vector<std::string> failures;
  RetryBudget::Retry retry;
  std::string_view retry_after_address;  // asked for a pause, and how long
  std::chrono::milliseconds retry_after{0};
  for (std::size_t attempt = 0; attempt < targets.size() && !watch.gone(); ++attempt) {
    const v1::Target& target = *targets[attempt];
    if (attempt > 0) {
      // A retry: within the budget, after a jittered back-off (or the pause this backend asked
      // for, if it asked).
      retry = retry_budget_.TryRetry();
      if (!retry) {
        metrics_.RetryBudgetExhausted();
        failures.push_back("retry budget exhausted (too many retries in flight)");
        break;
      }
      std::chrono::milliseconds wait =
          RetryBackoff(retry_budget_.options(), static_cast<int>(attempt), call.worker.random());
      if (target.address() == retry_after_address) wait = std::max(wait, retry_after);
      if (std::chrono::steady_clock::now() + wait >= overall_deadline) {
        co_return co_await WriteDeadlineError(call, failures, rate_limit_headers);
      }
      if (wait.count() > 0) {
        pause.expires_after(wait);
        beast::error_code ignored;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        if (watch.gone()) break;
      }
      metrics_.FallbackTaken();
    }
    std::chrono::milliseconds attempt_timeout = options_.upstream_timeout;
    if (overall_deadline != std::chrono::steady_clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          overall_deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) co_return co_await WriteDeadlineError(call, failures, rate_limit_headers);
      attempt_timeout = std::min(attempt_timeout, left);
    }
    if (!target.scheme().empty() && target.scheme() != "http" && target.scheme() != "https") {
      metrics_.UpstreamAttempt(AttemptResult::kConnectError);
      failures.push_back(absl::StrCat(target.endpoint_id(), ": scheme \"", target.scheme(),
                                      "\" is not supported"));
      continue;
    }
    UpstreamExchange exchange(call.worker.pool, target.address(), target.scheme() == "https",
                              attempt_timeout);
    current = &exchange;
    AttemptFailure failure;
    std::optional<ProxyOutcome> answered =
        co_await TryTarget(call, inspected, plan, target, attempt, exchange, watch, &failure);
    current = nullptr;
    if (answered) co_return *answered;
    failures.push_back(std::move(failure.message));
    if (failure.retry_after) {
      if (*failure.retry_after > retry_budget_.options().max_retry_after) {
        // A long pause asked for: this backend is not tried again within the request.
        const std::string_view address = target.address();
        targets.erase(std::remove_if(targets.begin() + attempt + 1, targets.end(),
                                     [&](const v1::Target* t) { return t->address() == address; }),
                      targets.end());
      } else {
        retry_after_address = target.address();
        retry_after = *failure.retry_after;
      }
    }
  }
  if (watch.gone()) co_return ProxyOutcome{kClientClosedRequest, false};
  co_return co_await WriteError(call.record, call.client, call.request, call.keep_alive, 502,
                                absl::StrCat("all ", failures.size(), " upstream attempts failed: ",
                                             absl::StrJoin(failures, "; ")),
                                "upstream_error", rate_limit_headers);
}

asio::awaitable<ProxyOutcome> InferenceProxy::WriteDeadlineError(
    Call& call, const std::vector<std::string>& failures, const Headers& rate_limit_headers) {
  co_return co_await WriteError(
      call.record, call.client, call.request, call.keep_alive, 504,
      absl::StrCat("no backend answered within the request deadline of ",
                   options_.request_timeout.count(), " ms: ", absl::StrJoin(failures, "; ")),
      "upstream_timeout", rate_limit_headers);
}

asio::awaitable<std::optional<ProxyOutcome>> InferenceProxy::TryTarget(
    Call& call, const InspectedRequest& inspected, const TargetPlan& plan, const v1::Target& target,
    std::size_t attempt, UpstreamExchange& exchange, const ClientWatch& watch,
    AttemptFailure* failure) {
  // Only the model name changes, and only when the backend knows the model by another name.
  std::string rewritten;
  std::string_view body = call.request.body();
  if (!target.upstream_model().empty() && target.upstream_model() != inspected.model) {
    rewritten = RequestInspector::RewriteModel(body, inspected, target.upstream_model());
    body = rewritten;
  }
  UpstreamRequest upstream_request = MakeUpstreamRequest(
      call.request, target, body,
      plan.credentials ? plan.credentials->AuthorizationFor(target.address()) : std::string_view());
  const Attempt record{&target,
                       &plan.tenant,
                       &plan.decision.decision_id(),
                       plan.decision.estimated_cost_usd(),
                       call.start,
                       std::chrono::steady_clock::now(),
                       plan.rate_limit,
                       call.record};
  AttemptResult result = co_await exchange.Start(upstream_request);
  // The response has begun: gaps in its body get the full per-attempt allowance.
  exchange.set_timeout(options_.upstream_timeout);
  if (watch.gone()) {
    RecordOutcome(record, 0, "client_gone", {}, 0);
    co_return std::nullopt;
  }
  if (result != AttemptResult::kOk) {
    metrics_.UpstreamAttempt(result);
    const bool answered = result == AttemptResult::kHttp5xx || result == AttemptResult::kHttp429;
    RecordOutcome(record, answered ? static_cast<int>(exchange.header().result_int()) : 0,
                  AttemptResultName(result), {}, 0);
    failure->message = absl::StrCat(target.endpoint_id(), ": ", exchange.error());
    if (answered) {
      auto it = exchange.header().find(http::field::retry_after);
      if (it != exchange.header().end())
        failure->retry_after = ParseRetryAfter(StdView(it->value()));
    }
    co_return std::nullopt;
  }

  const auto& upstream = exchange.header();
  const int status = static_cast<int>(upstream.result_int());
  Headers headers = {
      {"x-router-model", target.model()},
      {"x-router-endpoint", target.endpoint_id()},
      {"x-router-decision-id", plan.decision.decision_id()},
      {"x-router-policy-revision", PolicyRevisionHeader(plan.decision)},
      {"x-router-fallbacks", std::to_string(attempt)},
  };
  if (std::string_view id = RequestIdOf(call.request); !id.empty()) {
    headers.emplace_back(std::string(kRequestIdHeader), std::string(id));
  }
  if (!plan.decision.policy_rule().empty()) {
    headers.emplace_back("x-router-policy-rule", plan.decision.policy_rule());
  }
  headers.insert(headers.end(), plan.rate_limit_headers.begin(), plan.rate_limit_headers.end());
  std::string explanation;
  if (plan.explain) {
    explanation = ExplainJson(plan.decision, target, attempt);
    headers.emplace_back("x-router-explain", explanation);
  }

  if (exchange.streaming()) {
    // A stream: relay each piece as it arrives. From the first byte on there is no way back.
    co_return co_await Relay(call.client, call.request, exchange, headers, call.keep_alive, record);
  }
  // Read it all before answering, so that a backend failing half-way is still a fallback.
  std::string answer;
  absl::Status read = co_await exchange.ReadAll(&answer);
  if (watch.gone()) {
    RecordOutcome(record, status, "client_gone", {}, 0);
    co_return std::nullopt;
  }
  if (!read.ok()) {
    const bool timeout = read.code() == absl::StatusCode::kDeadlineExceeded;
    metrics_.UpstreamAttempt(timeout ? AttemptResult::kTimeout : AttemptResult::kReset);
    failure->message = absl::StrCat(target.endpoint_id(), ": ", read.message());
    RecordOutcome(record, 0, timeout ? "timeout" : "reset", {}, 0);
    co_return std::nullopt;
  }
  metrics_.UpstreamAttempt(AttemptResult::kOk);
  exchange.Finish();
  RecordOutcome(record, status, "", FindUsage(answer), SecondsSince(record.start));
  if (plan.explain && status == 200) AddRouterField(explanation, &answer);
  std::string head;
  head.reserve(512);
  AppendAnswerHead(call.request.version(), upstream, headers, call.keep_alive, answer.size(),
                   &head);
  beast::error_code ec;
  if (call.record != nullptr) call.record->response_bytes += answer.size();
  co_await WriteHttpHeadAndBody(call.client, head, answer, ec);
  co_return ProxyOutcome{status, !ec && call.keep_alive};
}

asio::awaitable<ProxyOutcome> InferenceProxy::Relay(beast::tcp_stream& client,
                                                    const HttpRequest& request,
                                                    UpstreamExchange& exchange,
                                                    const Headers& headers, bool keep_alive,
                                                    const Attempt& attempt) {
  const v1::Target& target = *attempt.target;
  const std::string& decision_id = *attempt.decision_id;
  SseUsageScanner usage;
  double ttft = 0;
  const int status = static_cast<int>(exchange.header().result_int());
  const bool chunked = request.version() >= 11;
  if (!chunked) keep_alive = false;  // HTTP/1.0: the body ends when the connection closes
  http::response<http::empty_body> response;
  PrepareResponse(request, exchange.header(), headers, keep_alive, &response);
  if (chunked) response.chunked(true);
  const bool event_stream = IsEventStream(StdView(response[http::field::content_type]));
  http::response_serializer<http::empty_body> serializer{response};
  beast::error_code ec;
  client.expires_after(options_.upstream_timeout);
  co_await http::async_write_header(client, serializer,
                                    asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    metrics_.UpstreamAttempt(AttemptResult::kOk);  // the backend answered; the client left
    RecordOutcome(attempt, status, "client_gone", {}, 0);
    co_return ProxyOutcome{status, false};
  }
  // The last two bytes relayed, to know whether the stream stopped between two SSE events.
  char tail[2] = {'\n', '\n'};
  for (;;) {
    absl::StatusOr<std::string_view> piece = co_await exchange.ReadSome();
    if (!piece.ok() && exchange.aborted()) {
      // The client left while the backend was quiet: not the backend's failure.
      metrics_.UpstreamAttempt(AttemptResult::kOk);
      RecordOutcome(attempt, status, "client_gone", usage.usage(), ttft);
      co_return ProxyOutcome{status, false};
    }
    if (!piece.ok()) {
      spdlog::warn(
          "upstream_stream_broken endpoint={} decision_id={} request_id={} trace_id={} "
          "error=\"{}\"",
          target.endpoint_id(), decision_id, RequestIdOf(request), TraceIdOf(request),
          piece.status().message());
      metrics_.UpstreamAttempt(piece.status().code() == absl::StatusCode::kDeadlineExceeded
                                   ? AttemptResult::kTimeout
                                   : AttemptResult::kReset);
      RecordOutcome(
          attempt, status,
          piece.status().code() == absl::StatusCode::kDeadlineExceeded ? "timeout" : "reset",
          usage.usage(), ttft);
      if (!chunked || !event_stream) {
        // Not SSE: an unterminated body is the only way left to say that it broke.
        co_return ProxyOutcome{status, false};
      }
      // An event cut in the middle is closed first, so that the error arrives as its own event.
      std::string event = tail[0] == '\n' && tail[1] == '\n' ? "" : "\n\n";
      absl::StrAppend(&event, "data: ",
                      OpenAiErrorJson(502,
                                      absl::StrCat("the model backend broke off the stream: ",
                                                   piece.status().message()),
                                      "upstream_stream_error"),
                      "\n\n");
      co_await asio::async_write(client, http::make_chunk(asio::buffer(event)),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) {
        co_await asio::async_write(client, http::make_chunk_last(),
                                   asio::redirect_error(asio::use_awaitable, ec));
      }
      client.expires_never();
      co_return ProxyOutcome{status, !ec && keep_alive};
    }
    client.expires_after(options_.upstream_timeout);
    if (piece->empty()) {
      metrics_.UpstreamAttempt(AttemptResult::kOk);
      exchange.Finish();
      RecordOutcome(attempt, status, "", usage.usage(), ttft);
      if (chunked) {
        co_await asio::async_write(client, http::make_chunk_last(),
                                   asio::redirect_error(asio::use_awaitable, ec));
      }
      client.expires_never();
      co_return ProxyOutcome{status, !ec && keep_alive};
    }
    if (piece->size() >= 2) {
      tail[0] = (*piece)[piece->size() - 2];
    } else {
      tail[0] = tail[1];
    }
    tail[1] = piece->back();
    if (event_stream) usage.Feed(*piece);
    if (ttft == 0) {
      ttft = SecondsSince(attempt.start);
      metrics_.FirstToken(SecondsSince(attempt.request_start));
    }
    if (attempt.request_record != nullptr) attempt.request_record->response_bytes += piece->size();
    if (chunked) {
      co_await asio::async_write(client,
                                 http::make_chunk(asio::buffer(piece->data(), piece->size())),
                                 asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await asio::async_write(client, asio::buffer(piece->data(), piece->size()),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
      // The client left: the backend's connection goes too, which stops its generation.
      metrics_.UpstreamAttempt(AttemptResult::kOk);
      RecordOutcome(attempt, status, "client_gone", usage.usage(), ttft);
      co_return ProxyOutcome{status, false};
    }
  }
}

void InferenceProxy::RecordOutcome(const Attempt& attempt, int http_status, std::string_view error,
                                   const TokenUsage& usage, double ttft_seconds) {
  const v1::Target& target = *attempt.target;
  GatewayMetrics::VariantAttempt variant;
  variant.model = target.model();
  variant.endpoint = target.endpoint_id();
  variant.track = target.track();
  variant.http_status = http_status;
  variant.cancelled = error == "client_gone";
  variant.seconds = SecondsSince(attempt.start);
  variant.ttft_seconds = ttft_seconds;
  if (usage.found) {
    variant.prompt_tokens = usage.prompt_tokens;
    variant.completion_tokens = usage.completion_tokens;
  }
  metrics_.Variant(variant);
  if (RequestRecord* r = attempt.request_record; r != nullptr) {
    ++r->attempts;
    r->routed_model = target.model();
    r->endpoint = target.endpoint_id();
    r->track = target.track().empty() ? "stable" : target.track();
    if (ttft_seconds > 0) r->ttft_seconds = ttft_seconds;
    if (usage.found) {
      r->prompt_tokens = usage.prompt_tokens;
      r->completion_tokens = usage.completion_tokens;
    }
  }
  if (usage.found) {
    metrics_.Usage(*attempt.tenant, target.model(), usage.prompt_tokens, usage.completion_tokens,
                   attempt.estimated_cost_usd);
    if (attempt.rate_limit != nullptr) {
      attempt.rate_limit->Reconcile(uint64_t{usage.prompt_tokens} + usage.completion_tokens);
    }
  }
  if (!options_.outcomes) return;
  v1::Outcome outcome;
  outcome.set_endpoint_id(target.endpoint_id());
  outcome.set_model(target.model());
  outcome.set_track(target.track());
  outcome.set_decision_id(*attempt.decision_id);
  outcome.set_tenant(*attempt.tenant);
  outcome.set_http_status(static_cast<uint32_t>(http_status));
  outcome.set_error(std::string(error));
  auto to_duration = [](double seconds, google::protobuf::Duration* out) {
    int64_t nanos = static_cast<int64_t>(seconds * 1e9);
    out->set_seconds(nanos / 1000000000);
    out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  };
  to_duration(SecondsSince(attempt.start), outcome.mutable_latency());
  if (ttft_seconds > 0) to_duration(ttft_seconds, outcome.mutable_time_to_first_token());
  outcome.set_prompt_tokens(usage.prompt_tokens);
  outcome.set_completion_tokens(usage.completion_tokens);
  // Decision's estimate is the cost of an answered request; a failed attempt cost nothing.
  if (http_status >= 200 && http_status < 300) outcome.set_cost_usd(attempt.estimated_cost_usd);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  outcome.mutable_finished_at()->set_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(now).count());
  options_.outcomes->Report(std::move(outcome));
}

}  // namespace llmrouter::gateway
