#include "tools/fake-llm/fake_llm_server.h"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/openai_error.h"

namespace llmrouter {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// The request headers a test checks reached the backend, sent back under names of fake-llm's own
// (a gateway relays them as any end-to-end header).
constexpr std::pair<std::string_view, std::string_view> kEchoedHeaders[] = {
    {"x-request-id", "x-fake-llm-request-id"},
    {"traceparent", "x-fake-llm-traceparent"},
    {"tracestate", "x-fake-llm-tracestate"}};

void AppendEchoedHeaders(const HttpRequest& req, std::string* head) {
  for (const auto& [from, to] : kEchoedHeaders) {
    auto it = req.find(beast::string_view(from.data(), from.size()));
    if (it == req.end()) continue;
    head->append(to).append(": ").append(it->value().data(), it->value().size()).append("\r\n");
  }
}

constexpr auto kHangPoll = std::chrono::milliseconds(50);

// A string borrowed from this thread's pool, so that a warm server formats answers without
// allocating. Each io_context runs on one thread, so a coroutine gives it back where it took it.
class PooledString {
 public:
  PooledString() {
    auto& pool = Pool();
    if (!pool.empty()) {
      s_ = std::move(pool.back());
      pool.pop_back();
    }
  }
  ~PooledString() {
    auto& pool = Pool();
    if (pool.size() < 64 && s_.capacity() <= (1 << 20)) {
      s_.clear();
      pool.push_back(std::move(s_));
    }
  }
  PooledString(const PooledString&) = delete;
  PooledString& operator=(const PooledString&) = delete;
  std::string* get() { return &s_; }

 private:
  static std::vector<std::string>& Pool() {
    thread_local std::vector<std::string> pool;
    return pool;
  }
  std::string s_;
};

void AppendInt(std::string* out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Per-thread random numbers: with --threads=1 a seed replays the same faults and ids.
std::uint64_t NextRandom(std::uint64_t seed) {
  static std::atomic<std::uint64_t> threads{0};
  thread_local std::uint64_t state = SplitMix64(seed) + threads.fetch_add(1);
  state += 0x9e3779b97f4a7c15ull;
  return SplitMix64(state);
}

asio::awaitable<void> Sleep(std::int64_t ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  beast::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// True once the peer has closed its side or the socket failed; data it sent stays unread.
bool PeerClosed(asio::ip::tcp::socket& socket) {
  char c;
  ssize_t n = ::recv(socket.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

std::optional<InferenceApi> InferenceApiFor(std::string_view path) {
  if (path == "/v1/chat/completions") return InferenceApi::kChatCompletions;
  if (path == "/v1/completions") return InferenceApi::kCompletions;
  if (path == "/v1/embeddings") return InferenceApi::kEmbeddings;
  return std::nullopt;
}

asio::awaitable<bool> SendEvent(beast::tcp_stream& stream, std::string_view event) {
  beast::error_code ec;
  co_await asio::async_write(stream, http::make_chunk(asio::buffer(event.data(), event.size())),
                             asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

}  // namespace

FakeLlmServer::FakeLlmServer(FakeLlmOptions options)
    : options_(std::move(options)),
      backend_header_("x-fake-llm-backend: " + options_.backend_name() + "\r\n"),
      authorization_("Bearer " + options_.api_key),
      writer_(options_),
      metrics_(options_.models.front()),
      limiter_(options_.max_concurrency),
      report_running_(options_.report_running),
      report_waiting_(options_.report_waiting),
      report_kv_cache_(options_.report_kv_cache),
      error_rate_(options_.error_rate) {
  HttpServerOptions http;
  http.host = options_.host;
  http.port = options_.port;
  http.threads = options_.threads;
  http.server_header = "fake-llm";
  server_ = std::make_unique<HttpServer>(
      std::move(http), [this](Stream& stream, HttpRequest& req) { return Handle(stream, req); });
}

FakeLlmServer::~FakeLlmServer() = default;

absl::Status FakeLlmServer::Start() { return server_->Start(); }

void FakeLlmServer::Stop(std::chrono::milliseconds grace) { server_->Stop(grace); }

bool FakeLlmServer::KeepAlive(const HttpRequest& req) const {
  return req.keep_alive() && !server_->stopping();
}

InjectedFault FakeLlmServer::DrawFault() {
  auto draw = [this](double rate) {
    return rate > 0 &&
           static_cast<double>(NextRandom(options_.seed) >> 11) / 9007199254740992.0 < rate;
  };
  if (draw(error_rate_.load(std::memory_order_relaxed))) return InjectedFault::kError;
  if (draw(options_.hang_rate)) return InjectedFault::kHang;
  if (draw(options_.drop_rate)) return InjectedFault::kDrop;
  return InjectedFault::kNone;
}

asio::awaitable<bool> FakeLlmServer::Handle(Stream& stream, HttpRequest& req) {
  beast::string_view target = req.target();
  std::string_view path(target.data(), target.size());
  path = path.substr(0, path.find('?'));
  const http::verb method = req.method();
  if (std::optional<InferenceApi> api = InferenceApiFor(path)) {
    if (method != http::verb::post) {
      co_return co_await WriteError(stream, req, 405, "Method Not Allowed: use POST", {},
                                    "Allow: POST\r\n");
    }
    co_return co_await HandleInference(stream, req, *api);
  }
  if (path == "/health" || path == "/v1/models" || path == "/metrics") {
    if (method != http::verb::get) {
      co_return co_await WriteError(stream, req, 405, "Method Not Allowed: use GET", {},
                                    "Allow: GET\r\n");
    }
    if (path == "/health") co_return co_await Write(stream, req, 200, "text/plain", "ok");
    if (path == "/v1/models") {
      co_return co_await Write(stream, req, 200, "application/json", writer_.models_json());
    }
    std::string text =
        metrics_.Render(limiter_.running(), limiter_.waiting(), options_.max_concurrency,
                        {report_running_.load(), report_waiting_.load(), report_kv_cache_.load()});
    co_return co_await Write(stream, req, 200, "text/plain; version=0.0.4; charset=utf-8", text);
  }
  if (path == "/control") {
    // Test control: POST /control?waiting=N&running=N&kv_cache=F&error_rate=F changes what
    // /metrics reports (-1 restores the real figure) and the injected error rate.
    if (method != http::verb::post) {
      co_return co_await WriteError(stream, req, 405, "Method Not Allowed: use POST", {},
                                    "Allow: POST\r\n");
    }
    std::string_view query(target.data(), target.size());
    query = query.find('?') == std::string_view::npos ? "" : query.substr(query.find('?') + 1);
    for (absl::string_view pair :
         absl::StrSplit(absl::string_view(query.data(), query.size()), '&', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(pair, '=');
      double v;
      if (!absl::SimpleAtod(kv.second, &v)) {
        co_return co_await WriteError(stream, req, 400, "control values must be numbers");
      }
      if (kv.first == "waiting") {
        report_waiting_ = v;
      } else if (kv.first == "running") {
        report_running_ = v;
      } else if (kv.first == "kv_cache") {
        report_kv_cache_ = v;
      } else if (kv.first == "error_rate" && v >= 0 && v <= 1) {
        error_rate_ = v;
      } else {
        co_return co_await WriteError(stream, req, 400,
                                      "control takes waiting, running, kv_cache, error_rate");
      }
    }
    co_return co_await Write(stream, req, 200, "text/plain", "ok");
  }
  beast::string_view verb = req.method_string();
  std::string message = "Invalid URL (";
  message.append(verb.data(), verb.size()).append(" ").append(path).append(")");
  co_return co_await WriteError(stream, req, 404, message);
}

asio::awaitable<bool> FakeLlmServer::HandleInference(Stream& stream, HttpRequest& req,
                                                     InferenceApi api) {
  if (!options_.api_key.empty() &&
      req[http::field::authorization] != beast::string_view(authorization_)) {
    co_return co_await WriteError(
        stream, req, 401, "Incorrect API key provided (fake-llm --api_key)", "invalid_api_key");
  }
  absl::StatusOr<InferenceRequest> parsed = ParseInferenceRequest(api, req.body(), options_.models);
  if (!parsed.ok()) {
    const bool not_found = absl::IsNotFound(parsed.status());
    absl::string_view message = parsed.status().message();
    co_return co_await WriteError(stream, req, not_found ? 404 : 400,
                                  std::string_view(message.data(), message.size()),
                                  not_found ? "model_not_found" : "");
  }
  ConcurrencyLimiter::Slot slot = co_await limiter_.Acquire();
  const InjectedFault fault = DrawFault();
  if (fault != InjectedFault::kNone) metrics_.AddFault(fault);
  if (fault == InjectedFault::kHang) co_return co_await Hang(stream);
  if (options_.latency_ms > 0) co_await Sleep(options_.latency_ms);
  if (fault == InjectedFault::kError) {
    co_return co_await WriteError(stream, req, options_.error_status,
                                  "fake-llm injected this failure (--error_rate)",
                                  "injected_error");
  }
  if (api == InferenceApi::kEmbeddings) {
    if (fault == InjectedFault::kDrop) co_return false;
    PooledString body;
    writer_.WriteEmbeddings(*parsed, body.get());
    metrics_.AddSuccess(false, parsed->prompt_tokens, 0);
    co_return co_await Write(stream, req, 200, "application/json", *body.get());
  }

  char id[40];
  const bool chat = api == InferenceApi::kChatCompletions;
  int id_len = std::snprintf(id, sizeof id, "%s%016llx", chat ? "chatcmpl-" : "cmpl-",
                             static_cast<unsigned long long>(NextRandom(options_.seed)));
  CompletionMeta meta;
  meta.id = std::string_view(id, id_len);
  meta.created = std::time(nullptr);
  meta.model_index = parsed->model_index;
  meta.prompt_tokens = parsed->prompt_tokens;
  meta.completion_tokens = writer_.completion_tokens();
  if (parsed->max_tokens >= 0 && parsed->max_tokens < meta.completion_tokens) {
    meta.completion_tokens = parsed->max_tokens;
    meta.truncated = true;
  }
  if (parsed->stream) {
    co_return co_await WriteStream(stream, req, api, meta, parsed->include_usage,
                                   fault == InjectedFault::kDrop);
  }
  // A JSON answer takes as long as the stream of the same tokens would.
  const std::int64_t generation_ms =
      static_cast<std::int64_t>(options_.per_token_ms) * meta.completion_tokens;
  if (generation_ms > 0) co_await Sleep(generation_ms);
  if (fault == InjectedFault::kDrop) co_return false;
  PooledString body;
  writer_.WriteCompletion(api, meta, body.get());
  metrics_.AddSuccess(meta.truncated, meta.prompt_tokens, meta.completion_tokens);
  co_return co_await Write(stream, req, 200, "application/json", *body.get());
}

asio::awaitable<bool> FakeLlmServer::WriteStream(Stream& stream, HttpRequest& req, InferenceApi api,
                                                 const CompletionMeta& meta, bool include_usage,
                                                 bool drop) {
  const bool keep_alive = KeepAlive(req);
  http::response<http::empty_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "fake-llm");
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-cache");
  const std::string& name = options_.backend_name();
  res.set("x-fake-llm-backend", beast::string_view(name.data(), name.size()));
  for (const auto& [from, to] : kEchoedHeaders) {
    if (auto it = req.find(beast::string_view(from.data(), from.size())); it != req.end()) {
      res.set(beast::string_view(to.data(), to.size()), it->value());
    }
  }
  res.keep_alive(keep_alive);
  res.chunked(true);
  http::response_serializer<http::empty_body> serializer{res};
  beast::error_code ec;
  co_await http::async_write_header(stream, serializer,
                                    asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return false;

  CompletionWriter::StreamEvents events(writer_, api, meta);
  std::string_view first = events.First();
  if (!first.empty() && !co_await SendEvent(stream, first)) co_return false;
  const int tokens = drop ? meta.completion_tokens / 2 : meta.completion_tokens;
  for (int i = 0; i < tokens; ++i) {
    if (options_.per_token_ms > 0) co_await Sleep(options_.per_token_ms);
    if (!co_await SendEvent(stream, events.TokenEvent(i))) co_return false;
  }
  if (drop) co_return false;  // the client sees the body end without the last chunk
  metrics_.AddSuccess(meta.truncated, meta.prompt_tokens, meta.completion_tokens);
  if (!co_await SendEvent(stream, events.Finish())) co_return false;
  if (include_usage && !co_await SendEvent(stream, events.Usage())) co_return false;
  if (!co_await SendEvent(stream, CompletionWriter::StreamEvents::kDone)) co_return false;
  co_await asio::async_write(stream, http::make_chunk_last(),
                             asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec && keep_alive;
}

asio::awaitable<bool> FakeLlmServer::Hang(Stream& stream) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!server_->stopping() && !PeerClosed(stream.socket())) {
    timer.expires_after(kHangPoll);
    beast::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return false;
}

asio::awaitable<bool> FakeLlmServer::Write(Stream& stream, const HttpRequest& req, int status,
                                           std::string_view content_type, std::string_view body,
                                           std::string_view extra_header) {
  // The header is formatted by hand: Beast's fields would allocate per header line.
  const bool keep_alive = KeepAlive(req);
  PooledString head_buf;
  std::string& head = *head_buf.get();
  head.append("HTTP/1.1 ");
  AppendInt(&head, status);
  head.push_back(' ');
  beast::string_view reason = http::obsolete_reason(static_cast<http::status>(status));
  head.append(reason.data(), reason.size());
  head.append("\r\nServer: fake-llm\r\nContent-Type: ").append(content_type).append("\r\n");
  head.append(backend_header_).append(extra_header);
  AppendEchoedHeaders(req, &head);
  head.append(keep_alive ? "Connection: keep-alive\r\nContent-Length: "
                         : "Connection: close\r\nContent-Length: ");
  AppendInt(&head, static_cast<std::int64_t>(body.size()));
  head.append("\r\n\r\n");
  std::array<asio::const_buffer, 2> buffers{asio::buffer(head),
                                            asio::buffer(body.data(), body.size())};
  beast::error_code ec;
  co_await asio::async_write(stream, buffers, asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec && keep_alive;
}

asio::awaitable<bool> FakeLlmServer::WriteError(Stream& stream, const HttpRequest& req, int status,
                                                std::string_view message, std::string_view code,
                                                std::string_view extra_header) {
  std::string body = OpenAiErrorJson(status, message, code);
  co_return co_await Write(stream, req, status, "application/json", body, extra_header);
}

}  // namespace llmrouter
