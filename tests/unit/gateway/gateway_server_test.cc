// GatewayServer in process, with a fake decision service and real HTTP backends on loopback.
#include "services/gateway/gateway_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/http_server.h"
#include "services/gateway/api_key_store.h"
#include "services/gateway/fail_safe_table.h"
#include "services/gateway/outcome_reporter.h"
#include "services/gateway/upstream_credentials.h"
#include "tests/support/http_test_client.h"
#include "tests/support/metric_value.h"
#include "tests/support/process_harness.h"
#include "tests/support/wait_until.h"

namespace llmrouter::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using ::llmrouter::testing::HttpCall;
using ::llmrouter::testing::HttpResult;
using ::llmrouter::testing::MetricValue;
using ::llmrouter::testing::SseData;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

// Answers every call at once with what the test configured, and remembers the questions.
class FakeDecisionClient : public DecisionClient {
 public:
  void Route(v1::RouteRequestRequest request, Deadline, RouteCallback done) override {
    absl::StatusOr<v1::RouteRequestResponse> answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      routes_.push_back(std::move(request));
      answer = route_answer_;
      if (holding_) {
        held_.push_back([done = std::move(done), answer]() mutable { done(std::move(answer)); });
        return;
      }
    }
    done(std::move(answer));
  }
  // While held, route calls wait for ReleaseRoutes(), which answers them from the caller's thread.
  void HoldRoutes() {
    std::lock_guard<std::mutex> lock(mu_);
    holding_ = true;
  }
  void ReleaseRoutes() {
    std::vector<std::function<void()>> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      holding_ = false;
      held.swap(held_);
    }
    for (auto& answer : held) answer();
  }
  void ListModels(v1::ListModelsRequest request, Deadline, ListModelsCallback done) override {
    absl::StatusOr<v1::ListModelsResponse> answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      list_requests_.push_back(std::move(request));
      answer = list_answer_;
    }
    done(std::move(answer));
  }

  bool Reachable() override { return reachable_.load(); }
  void set_reachable(bool reachable) { reachable_.store(reachable); }

  void AnswerRoute(absl::StatusOr<v1::RouteRequestResponse> answer) {
    std::lock_guard<std::mutex> lock(mu_);
    route_answer_ = std::move(answer);
  }
  void AnswerList(absl::StatusOr<v1::ListModelsResponse> answer) {
    std::lock_guard<std::mutex> lock(mu_);
    list_answer_ = std::move(answer);
  }
  std::vector<v1::RouteRequestRequest> routes() {
    std::lock_guard<std::mutex> lock(mu_);
    return routes_;
  }
  std::vector<v1::ListModelsRequest> list_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return list_requests_;
  }

 private:
  std::atomic<bool> reachable_{true};
  std::mutex mu_;
  absl::StatusOr<v1::RouteRequestResponse> route_answer_ = absl::InternalError("not configured");
  absl::StatusOr<v1::ListModelsResponse> list_answer_ = absl::InternalError("not configured");
  std::vector<v1::RouteRequestRequest> routes_;
  std::vector<v1::ListModelsRequest> list_requests_;
  bool holding_ = false;
  std::vector<std::function<void()>> held_;
};

struct SeenRequest {
  std::string target;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  unsigned short peer_port = 0;
};

constexpr char kJsonAnswer[] =
    R"({"id":"c1","object":"chat.completion","choices":[{"message":{"content":"hi"}}],)"
    R"("usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})";
constexpr char kFirstEvent[] = "data: {\"object\":\"chat.completion.chunk\",\"n\":1}\n\n";

// A model backend on loopback, built from the project's own HTTP server.
class TestUpstream {
 public:
  enum class Mode {
    kJson,            // 200 with a JSON body
    kJsonThenClose,   // like kJson, but closes the connection it promised to keep
    kSse,             // first event, then waits for release(), then the rest and [DONE]
    kStatus500,       // 500 with an OpenAI error body
    kBreakMidStream,  // first event, then the connection drops
  };

  explicit TestUpstream(Mode mode) : mode_(mode) {
    HttpServerOptions options;
    options.host = "127.0.0.1";
    server_ = std::make_unique<HttpServer>(
        options, [this](beast::tcp_stream& s, HttpRequest& r) { return Handle(s, r); });
    absl::Status started = server_->Start();
    EXPECT_TRUE(started.ok()) << started;
  }
  ~TestUpstream() { server_->Stop(std::chrono::milliseconds(0)); }

  int port() const { return server_->port(); }
  void release() { released_.store(true); }
  // kStatus500 answers carry this Retry-After (set before requests arrive).
  void set_retry_after(std::string seconds) { retry_after_ = std::move(seconds); }
  std::vector<SeenRequest> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  asio::awaitable<bool> Handle(beast::tcp_stream& stream, HttpRequest& request) {
    SeenRequest seen{std::string(request.target()), request.body(), {}, 0};
    for (const auto& field : request) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      seen.headers[name] = std::string(field.value());
    }
    beast::error_code ec;
    seen.peer_port = stream.socket().remote_endpoint(ec).port();
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(seen);
    }
    std::string json = "application/json";
    switch (mode_) {
      case Mode::kJson:
      case Mode::kJsonThenClose: {
        std::vector<std::pair<std::string, std::string>> headers = {{"x-backend", "json"},
                                                                    {"x-router-model", "spoofed"}};
        std::string body = kJsonAnswer;
        bool ok = co_await WriteHttpResponse(stream, request.version(), true, 200, json,
                                             std::move(body), headers);
        co_return ok&& mode_ == Mode::kJson;
      }
      case Mode::kStatus500: {
        std::string body = R"({"error":{"message":"backend exploded"}})";
        std::vector<std::pair<std::string, std::string>> headers;
        if (!retry_after_.empty()) headers.emplace_back("retry-after", retry_after_);
        co_await WriteHttpResponse(stream, request.version(), true, 500, json, body, headers);
        co_return true;
      }
      case Mode::kSse:
      case Mode::kBreakMidStream:
        co_return co_await Stream(stream, request);
    }
    co_return false;
  }

  asio::awaitable<bool> Stream(beast::tcp_stream& stream, HttpRequest& request) {
    http::response<http::empty_body> res{http::status::ok, request.version()};
    res.set(http::field::content_type, "text/event-stream");
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    beast::error_code ec;
    co_await http::async_write_header(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
    std::string first = kFirstEvent;
    co_await asio::async_write(stream, http::make_chunk(asio::buffer(first)),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (mode_ == Mode::kBreakMidStream) {
      stream.socket().close(ec);
      co_return false;
    }
    // Holding the rest back until the client has seen the first event proves that the gateway
    // relays without waiting for the whole body; the bound only keeps a broken run finite.
    asio::steady_timer timer(stream.get_executor());
    for (int i = 0; i < 5000 && !released_.load(); ++i) {
      timer.expires_after(std::chrono::milliseconds(2));
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    for (std::string event :
         {std::string("data: {\"object\":\"chat.completion.chunk\",\"n\":2}\n\n"),
          std::string("data: {\"object\":\"chat.completion.chunk\",\"n\":3,"
                      "\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":3}}\n\n"),
          std::string("data: [DONE]\n\n")}) {
      co_await asio::async_write(stream, http::make_chunk(asio::buffer(event)),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    co_await asio::async_write(stream, http::make_chunk_last(),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  Mode mode_;
  std::string retry_after_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> released_{false};
  std::mutex mu_;
  std::vector<SeenRequest> seen_;
};

// Reads a response piece by piece, each read bounded so that a broken gateway fails the test
// instead of hanging it.
class StreamingClient {
 public:
  StreamingClient(int port, const std::string& body) : stream_(ioc_) {
    beast::error_code ec;
    stream_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                            static_cast<unsigned short>(port)),
                    ec);
    EXPECT_FALSE(ec) << ec.message();
    http::request<http::string_body> req{http::verb::post, "/v1/chat/completions", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req, ec);
    EXPECT_FALSE(ec) << ec.message();
    parser_.body_limit(1 << 20);
  }

  bool ReadHeader() {
    beast::error_code ec;
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read_header(stream_, buffer_, parser_,
                            [&](beast::error_code e, std::size_t) { ec = e; });
    Run();
    return !ec;
  }
  const http::response_parser<http::buffer_body>& parser() const { return parser_; }

  // The next body bytes; nullopt once the body is complete or on error (see error()).
  std::optional<std::string> NextPiece() {
    while (!parser_.is_done()) {
      char piece[4096];
      parser_.get().body().data = piece;
      parser_.get().body().size = sizeof piece;
      beast::error_code ec;
      stream_.expires_after(std::chrono::seconds(10));
      http::async_read_some(stream_, buffer_, parser_,
                            [&](beast::error_code e, std::size_t) { ec = e; });
      Run();
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        error_ = ec.message();
        return std::nullopt;
      }
      std::size_t n = sizeof piece - parser_.get().body().size;
      if (n > 0) return std::string(piece, n);
    }
    return std::nullopt;
  }
  const std::string& error() const { return error_; }

 private:
  void Run() {
    ioc_.restart();
    ioc_.run();
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  std::string error_;
};

v1::Target MakeTarget(const std::string& id, int port, const std::string& model,
                      const std::string& upstream_model = "") {
  v1::Target t;
  t.set_endpoint_id(id);
  t.set_address("127.0.0.1:" + std::to_string(port));
  t.set_scheme("http");
  t.set_model(model);
  t.set_upstream_model(upstream_model);
  return t;
}

constexpr double kEstimatedCost = 0.002;  // what the fake decision says a request costs

const char kChatBody[] =
    R"({"model": "m1", "messages": [{"role": "user", "content": "Say hi"}],  "temperature": 0.5})";

class GatewayServerTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(DefaultOptions()); }
  void LeaveAndExpectTheSlotBack(bool decision_holds);

  static GatewayServerOptions DefaultOptions() {
    GatewayServerOptions options;
    options.http.host = "127.0.0.1";
    options.http.port = 0;
    options.proxy.max_attempts = 3;
    return options;
  }
  void Restart(const GatewayServerOptions& options) {
    if (server_) server_->Stop(std::chrono::milliseconds(0));
    server_ = std::make_unique<GatewayServer>(options, decision_, metrics_);
    absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
  void TearDown() override { server_->Stop(std::chrono::milliseconds(0)); }

  // Returns once every request's handler has finished (the bound only keeps a hang finite).
  void StopServingRequests() { server_->Stop(std::chrono::seconds(10)); }

  void Route(const v1::Target& target, const std::vector<v1::Target>& fallbacks = {}) {
    v1::RouteRequestResponse response;
    response.set_decision_id("dec-0001");
    response.set_policy_revision(7);
    response.set_policy_sha256("3f2a9c0d1e4b5a6978877665544332211000ffeeddccbbaa9988776655443322");
    response.set_estimated_cost_usd(kEstimatedCost);
    *response.mutable_target() = target;
    for (const v1::Target& f : fallbacks) *response.add_fallbacks() = f;
    decision_.AnswerRoute(response);
  }

  HttpResult Chat(const std::string& body = kChatBody,
                  const std::map<std::string, std::string>& headers = {}) {
    return HttpCall(server_->port(), "POST", "/v1/chat/completions", body, headers);
  }

  FakeDecisionClient decision_;
  prometheus::Registry registry_;
  GatewayMetrics metrics_{registry_};
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(GatewayServerTest, ProxiesJsonAndAddsRouterHeaders) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));
  HttpResult r = Chat(kChatBody, {{"authorization", "Bearer client-secret"},
                                  {"x-router-priority", "batch"},
                                  {"x-router-region", "eu-west-1"},
                                  {"x-router-session", "conv-9"},
                                  {"x-router-explain", "true"},
                                  {"X-Custom-Thing", "abc"},
                                  {"accept", "application/json"}});
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  // x-router-explain asked for the decision in the answer: the backend's JSON plus "router".
  EXPECT_EQ(r.body.substr(0, sizeof(kJsonAnswer) - 2),
            std::string(kJsonAnswer, sizeof(kJsonAnswer) - 2));
  EXPECT_THAT(r.body, HasSubstr(",\"router\":{\"decision_id\":\"dec-0001\""));
  EXPECT_EQ(r.header("x-router-model"), "m1");
  EXPECT_EQ(r.header("x-router-endpoint"), "ep-json");
  EXPECT_EQ(r.header("x-router-decision-id"), "dec-0001");
  // The bundle's hash, the same on every decision replica, not this replica's revision number.
  EXPECT_EQ(r.header("x-router-policy-revision"), "3f2a9c0d1e4b");
  EXPECT_THAT(r.body, HasSubstr("\"policy_sha256\":\"3f2a9c0d1e4b5a69"));
  EXPECT_EQ(r.header("x-router-fallbacks"), "0");
  EXPECT_EQ(r.header("x-backend"), "json");  // the backend's own headers come through
  EXPECT_EQ(r.header("content-type"), "application/json");

  std::vector<SeenRequest> seen = upstream.seen();
  ASSERT_THAT(seen, SizeIs(1));
  EXPECT_EQ(seen[0].target, "/v1/chat/completions");
  EXPECT_EQ(seen[0].body, kChatBody);  // byte for byte, whitespace included
  EXPECT_EQ(seen[0].headers.count("authorization"), 0u);
  EXPECT_EQ(seen[0].headers["content-type"], "application/json");
  EXPECT_EQ(seen[0].headers["accept"], "application/json");

  std::vector<v1::RouteRequestRequest> routes = decision_.routes();
  ASSERT_THAT(routes, SizeIs(1));
  const v1::RouteRequestRequest& q = routes[0];
  EXPECT_EQ(q.model(), "m1");
  EXPECT_EQ(q.kind(), v1::REQUEST_KIND_CHAT_COMPLETION);
  EXPECT_EQ(q.tenant(), "default");
  EXPECT_EQ(q.priority(), v1::PRIORITY_TIER_BATCH);
  // The client's region is a request, sent apart from the gateway's own (none configured here);
  // decision honours it only for trusted tenants.
  EXPECT_EQ(q.client_region(), "eu-west-1");
  EXPECT_EQ(q.region(), "");
  EXPECT_EQ(q.session_key(), "conv-9");
  EXPECT_TRUE(q.explain());
  EXPECT_EQ(q.prompt().excerpt(), "Say hi");
  EXPECT_EQ(q.prompt().message_count(), 1u);
  // "Say hi" is 2 tokens, and its chat template 4 + 3.
  EXPECT_EQ(q.prompt().estimated_tokens(), 9u);
  EXPECT_EQ(q.prompt().last_user_message(), "Say hi");
  ASSERT_EQ(q.headers().count("x-custom-thing"), 1u);
  EXPECT_EQ(q.headers().at("x-custom-thing"), "abc");
  EXPECT_EQ(q.headers().count("authorization"), 0u);

  // A request is counted after its response is written: stopping waits for the handler's end.
  StopServingRequests();
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_requests_total",
                        {{"route", "chat_completions"}, {"code", "200"}}),
            1);
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_upstream_attempts_total", {{"result", "ok"}}),
            1);
}

TEST_F(GatewayServerTest, TheGatewaySendsItsOwnRegionBesideTheClients) {
  GatewayServerOptions options = DefaultOptions();
  options.proxy.region = "us-east-1";
  Restart(options);
  TestUpstream upstream(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));
  ASSERT_EQ(Chat(kChatBody, {{"x-router-region", "ap-south-1"}}).status, 200);
  ASSERT_THAT(decision_.routes(), SizeIs(1));
  EXPECT_EQ(decision_.routes()[0].region(), "us-east-1");
  EXPECT_EQ(decision_.routes()[0].client_region(), "ap-south-1");
}

TEST_F(GatewayServerTest, TheClientsRequestIdReachesDecisionAndTheBackendAndComesBack) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));
  HttpResult r = Chat(kChatBody, {{"x-request-id", "req-42"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("x-request-id"), "req-42");
  ASSERT_THAT(decision_.routes(), SizeIs(1));
  EXPECT_EQ(decision_.routes()[0].request_id(), "req-42");
  ASSERT_THAT(upstream.seen(), SizeIs(1));
  EXPECT_EQ(upstream.seen()[0].headers["x-request-id"], "req-42");

  // None, or one too long or not printable: a new one, the same everywhere.
  for (const std::string& bad : {std::string(), std::string(200, 'a'), std::string("a b")}) {
    std::map<std::string, std::string> headers;
    if (!bad.empty()) headers["x-request-id"] = bad;
    HttpResult fresh = Chat(kChatBody, headers);
    ASSERT_EQ(fresh.status, 200);
    const std::string id = fresh.header("x-request-id");
    EXPECT_THAT(id, ::testing::MatchesRegex("[0-9a-f]{32}")) << "for \"" << bad << "\"";
    EXPECT_EQ(decision_.routes().back().request_id(), id);
    EXPECT_EQ(upstream.seen().back().headers["x-request-id"], id);
  }
}

TEST_F(GatewayServerTest, TraceContextGoesToTheBackendAsAChildAndAMalformedOneStartsANewTrace) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));
  const std::string parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  ASSERT_EQ(Chat(kChatBody, {{"traceparent", parent}, {"tracestate", "vendor=opaque"}}).status,
            200);
  std::map<std::string, std::string> seen = upstream.seen().back().headers;
  ASSERT_THAT(seen["traceparent"],
              ::testing::MatchesRegex("00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01"));
  EXPECT_NE(seen["traceparent"], parent) << "the backend's span is a child, not the caller's";
  EXPECT_EQ(seen["tracestate"], "vendor=opaque");

  for (const std::string& bad :
       {std::string("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        std::string("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        std::string("garbage"),
        std::string("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}) {
    HttpResult r = Chat(kChatBody, {{"traceparent", bad}, {"tracestate", "vendor=opaque"}});
    ASSERT_EQ(r.status, 200) << bad;
    seen = upstream.seen().back().headers;
    EXPECT_THAT(seen["traceparent"], ::testing::MatchesRegex("00-[0-9a-f]{32}-[0-9a-f]{16}-01"));
    EXPECT_EQ(seen["traceparent"].find("4bf92f3577b34da6"), std::string::npos) << bad;
    EXPECT_EQ(seen.count("tracestate"), 0u) << "dropped with the trace it belonged to";
  }
}

TEST_F(GatewayServerTest, TenantHeaderReachesDecision) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));
  ASSERT_EQ(Chat(kChatBody, {{"x-router-tenant", "acme"}}).status, 200);
  ASSERT_THAT(decision_.routes(), SizeIs(1));
  EXPECT_EQ(decision_.routes()[0].tenant(), "acme");
}

TEST_F(GatewayServerTest, UnknownPriorityIs400WithoutAskingDecision) {
  HttpResult r = Chat(kChatBody, {{"x-router-priority", "urgent"}, {"x-request-id", "bad-1"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("x-router-priority"));
  EXPECT_THAT(decision_.routes(), SizeIs(0));
  EXPECT_EQ(r.header("x-request-id"), "bad-1") << "errors carry the request id too";
}

TEST_F(GatewayServerTest, ModelIsRewrittenOnlyWhenTheBackendNamesItDifferently) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", upstream.port(), "m1", "org/m1-instruct"));
  ASSERT_EQ(Chat().status, 200);
  std::vector<SeenRequest> seen = upstream.seen();
  ASSERT_THAT(seen, SizeIs(1));
  EXPECT_EQ(
      seen[0].body,
      R"({"model": "org/m1-instruct", "messages": [{"role": "user", "content": "Say hi"}],  "temperature": 0.5})");
}

TEST_F(GatewayServerTest, StreamIsRelayedAsItArrives) {
  TestUpstream upstream(TestUpstream::Mode::kSse);
  Route(MakeTarget("ep-sse", upstream.port(), "m1"));
  StreamingClient client(
      server_->port(),
      R"({"model":"m1","stream":true,"messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(client.ReadHeader());
  EXPECT_EQ(client.parser().get().result_int(), 200u);
  EXPECT_TRUE(client.parser().chunked());
  EXPECT_EQ(client.parser().get()["content-type"], "text/event-stream");
  EXPECT_EQ(client.parser().get()["x-router-endpoint"], "ep-sse");

  // The backend holds the rest back until released: the first event must arrive on its own.
  std::optional<std::string> first = client.NextPiece();
  ASSERT_TRUE(first.has_value()) << client.error();
  std::string body = *first;
  EXPECT_THAT(body, HasSubstr("\"n\":1"));
  EXPECT_THAT(body, Not(HasSubstr("[DONE]")));
  upstream.release();
  while (std::optional<std::string> piece = client.NextPiece()) body += *piece;
  EXPECT_EQ(client.error(), "");
  EXPECT_TRUE(client.parser().is_done());
  EXPECT_THAT(SseData(body), ElementsAre(HasSubstr("\"n\":1"), HasSubstr("\"n\":2"),
                                         HasSubstr("\"n\":3"), "[DONE]"));
}

TEST_F(GatewayServerTest, StreamBrokenMidwayEndsWithAnErrorEvent) {
  TestUpstream upstream(TestUpstream::Mode::kBreakMidStream);
  Route(MakeTarget("ep-sse", upstream.port(), "m1"));
  HttpResult r = Chat(R"({"model":"m1","stream":true,"messages":[]})");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.error, "");  // a complete chunked body, not a truncated one
  std::vector<std::string> events = SseData(r.body);
  ASSERT_THAT(events, SizeIs(2)) << r.body;
  EXPECT_THAT(events[0], HasSubstr("\"n\":1"));
  EXPECT_THAT(events[1], HasSubstr("\"error\":{"));
  EXPECT_THAT(events[1], HasSubstr("upstream_stream_error"));
  EXPECT_EQ(
      MetricValue(registry_, "llmrouter_gateway_upstream_attempts_total", {{"result", "reset"}}),
      1);
}

TEST_F(GatewayServerTest, FallsBackWhenTheFirstTargetAnswers500) {
  TestUpstream failing(TestUpstream::Mode::kStatus500);
  TestUpstream healthy(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-bad", failing.port(), "m1"), {MakeTarget("ep-good", healthy.port(), "m1")});
  HttpResult r = Chat();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-router-endpoint"), "ep-good");
  EXPECT_EQ(r.header("x-router-fallbacks"), "1");
  EXPECT_THAT(failing.seen(), SizeIs(1));
  EXPECT_THAT(healthy.seen(), SizeIs(1));
  EXPECT_EQ(
      MetricValue(registry_, "llmrouter_gateway_upstream_attempts_total", {{"result", "http_5xx"}}),
      1);
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_fallbacks_total"), 1);
}

TEST_F(GatewayServerTest, FallsBackWhenTheFirstTargetRefusesConnections) {
  TestUpstream healthy(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-dead", llmrouter::testing::ClosedLoopbackPort(), "m1"),
        {MakeTarget("ep-good", healthy.port(), "m1")});
  HttpResult r = Chat();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-router-endpoint"), "ep-good");
  EXPECT_EQ(r.header("x-router-fallbacks"), "1");
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_upstream_attempts_total",
                        {{"result", "connect_error"}}),
            1);
}

TEST_F(GatewayServerTest, AllTargetsFailingIs502NamingEachFailure) {
  TestUpstream failing(TestUpstream::Mode::kStatus500);
  Route(MakeTarget("ep-bad", failing.port(), "m1"),
        {MakeTarget("ep-dead", llmrouter::testing::ClosedLoopbackPort(), "m1")});
  HttpResult r = Chat();
  EXPECT_EQ(r.status, 502);
  EXPECT_THAT(r.body, HasSubstr("\"type\":\"server_error\""));
  EXPECT_THAT(r.body, HasSubstr("ep-bad"));
  EXPECT_THAT(r.body, HasSubstr("HTTP 500"));
  EXPECT_THAT(r.body, HasSubstr("ep-dead"));
}

TEST_F(GatewayServerTest, AttemptsAreBoundedByMaxAttempts) {
  TestUpstream failing(TestUpstream::Mode::kStatus500);
  v1::Target bad = MakeTarget("ep-bad", failing.port(), "m1");
  Route(bad, {bad, bad, bad, bad});
  EXPECT_EQ(Chat().status, 502);
  EXPECT_THAT(failing.seen(), SizeIs(3));
}

TEST_F(GatewayServerTest, KeepsUpstreamConnectionsAlive) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));
  ASSERT_EQ(Chat().status, 200);
  ASSERT_EQ(Chat().status, 200);
  std::vector<SeenRequest> seen = upstream.seen();
  ASSERT_THAT(seen, SizeIs(2));
  EXPECT_EQ(seen[0].peer_port, seen[1].peer_port);  // one pooled connection served both
}

TEST_F(GatewayServerTest, StalePooledConnectionIsRetriedOnAFreshOne) {
  TestUpstream upstream(TestUpstream::Mode::kJsonThenClose);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));
  ASSERT_EQ(Chat().status, 200);
  HttpResult second = Chat();
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.header("x-router-fallbacks"), "0");
  std::vector<SeenRequest> seen = upstream.seen();
  ASSERT_THAT(seen, SizeIs(2));
  EXPECT_NE(seen[0].peer_port, seen[1].peer_port);
}

TEST_F(GatewayServerTest, UnknownModelIs404ModelNotFound) {
  decision_.AnswerRoute(absl::NotFoundError("model \"gpt-x\" is not known"));
  HttpResult r = Chat(R"({"model":"gpt-x","messages":[]})");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("\"code\":\"model_not_found\""));
  EXPECT_THAT(r.body, HasSubstr("\"type\":\"invalid_request_error\""));
  EXPECT_THAT(r.body, HasSubstr("model \\\"gpt-x\\\" is not known"));
  EXPECT_EQ(
      MetricValue(registry_, "llmrouter_gateway_decision_errors_total", {{"code", "NOT_FOUND"}}),
      1);
}

TEST_F(GatewayServerTest, DecisionFailuresMapToHttpStatuses) {
  struct Case {
    absl::Status status;
    int http_status;
    std::string fragment;
  };
  for (const Case& c : std::vector<Case>{
           {absl::UnavailableError("no healthy endpoint serves model m1"), 503,
            "no healthy endpoint serves model m1"},
           {absl::DeadlineExceededError("deadline"), 503, "routing decision timed out"},
           {absl::PermissionDeniedError("tenant may not use m1"), 403, "tenant may not use m1"},
           {absl::ResourceExhaustedError("shed"), 429, "shed"},
           {absl::InvalidArgumentError("bad constraint"), 400, "bad constraint"}}) {
    decision_.AnswerRoute(c.status);
    HttpResult r = Chat();
    EXPECT_EQ(r.status, c.http_status) << c.status;
    EXPECT_THAT(r.body, HasSubstr(c.fragment));
    EXPECT_THAT(r.body, HasSubstr("\"error\":{"));
    if (c.http_status == 429) {
      EXPECT_EQ(r.header("retry-after"), "1");
    }
  }
}

TEST_F(GatewayServerTest, MalformedJsonIs400AndDecisionIsNotAsked) {
  HttpResult r = Chat("{\"model\": \"x\", ");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("\"type\":\"invalid_request_error\""));
  EXPECT_THAT(r.body, HasSubstr("not valid JSON"));
  EXPECT_THAT(decision_.routes(), SizeIs(0));
  HttpResult missing = Chat(R"({"messages":[]})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_THAT(missing.body, HasSubstr("model"));
}

TEST_F(GatewayServerTest, CompletionsAndEmbeddingsTakeTheSameProxyPath) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));
  EXPECT_EQ(
      HttpCall(server_->port(), "POST", "/v1/completions", R"({"model":"m1","prompt":"p"})").status,
      200);
  EXPECT_EQ(
      HttpCall(server_->port(), "POST", "/v1/embeddings?x=1", R"({"model":"m1","input":["a","b"]})")
          .status,
      200);
  std::vector<v1::RouteRequestRequest> routes = decision_.routes();
  ASSERT_THAT(routes, SizeIs(2));
  EXPECT_EQ(routes[0].kind(), v1::REQUEST_KIND_COMPLETION);
  EXPECT_EQ(routes[1].kind(), v1::REQUEST_KIND_EMBEDDING);
  EXPECT_EQ(routes[1].prompt().excerpt(), "a\nb");
  std::vector<SeenRequest> seen = upstream.seen();
  ASSERT_THAT(seen, SizeIs(2));
  EXPECT_EQ(seen[0].target, "/v1/completions");
  EXPECT_EQ(seen[1].target, "/v1/embeddings?x=1");
}

TEST_F(GatewayServerTest, ModelListHasTheOpenAiShape) {
  v1::ListModelsResponse models;
  v1::ModelInfo* a = models.add_models();
  a->set_name("llama-3-8b");
  a->set_owned_by("meta");
  models.add_models()->set_name("qwen");
  decision_.AnswerList(models);
  HttpResult r = HttpCall(server_->port(), "GET", "/v1/models", "", {{"x-router-tenant", "acme"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"object":"list","data":[)"
                    R"({"id":"llama-3-8b","object":"model","created":0,"owned_by":"meta"},)"
                    R"({"id":"qwen","object":"model","created":0,"owned_by":"llm-router"}]})");
  ASSERT_THAT(decision_.list_requests(), SizeIs(1));
  EXPECT_EQ(decision_.list_requests()[0].tenant(), "acme");
}

TEST_F(GatewayServerTest, HealthUnknownPathsAndWrongMethods) {
  EXPECT_EQ(HttpCall(server_->port(), "GET", "/healthz").status, 200);
  EXPECT_EQ(HttpCall(server_->port(), "GET", "/readyz").status, 200);
  HttpResult unknown = HttpCall(server_->port(), "GET", "/v2/nothing");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr("Invalid URL (GET /v2/nothing)"));
  HttpResult wrong = HttpCall(server_->port(), "GET", "/v1/chat/completions");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("allow"), "POST");
  EXPECT_THAT(wrong.body, HasSubstr("\"error\":{"));
  StopServingRequests();
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_requests_total",
                        {{"route", "other"}, {"code", "404"}}),
            1);
}

TEST_F(GatewayServerTest, BeginStoppingTurnsReadinessOffButKeepsServing) {
  server_->BeginStopping();
  HttpResult ready = HttpCall(server_->port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, HasSubstr("\"reason\":\"shutting down\""));
  TestUpstream upstream(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));
  HttpResult served = Chat();
  EXPECT_EQ(served.status, 200) << served.body;
  // Clients move their next request to a new connection, which a load balancer sends elsewhere.
  EXPECT_EQ(served.header("connection"), "close");
}

// A backend that accepts connections (the kernel does, from its backlog) and never answers.
class SilentUpstream {
 public:
  SilentUpstream() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {}
  int port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_;
};

std::shared_ptr<const Reloadable<FailSafeTable>> FailSafe(const std::string& text) {
  absl::StatusOr<FailSafeTable> table = FailSafeTable::Parse(text);
  EXPECT_TRUE(table.ok()) << table.status();
  return Reloadable<FailSafeTable>::Fixed(table.ok() ? *table : FailSafeTable());
}

TEST_F(GatewayServerTest, DecisionUnavailableRoutesByTheFailSafeTable) {
  TestUpstream dead_first(TestUpstream::Mode::kStatus500);
  TestUpstream healthy(TestUpstream::Mode::kJson);
  GatewayServerOptions options = DefaultOptions();
  options.proxy.fail_safe =
      FailSafe(absl::StrCat("m1=127.0.0.1:", dead_first.port(), "|127.0.0.1:", healthy.port()));
  Restart(options);
  for (absl::Status failure : {absl::UnavailableError("connection refused"),
                               absl::DeadlineExceededError("deadline exceeded")}) {
    decision_.AnswerRoute(failure);
    HttpResult r = Chat();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-router-decision-id"), "failsafe");
    EXPECT_EQ(r.header("x-router-endpoint"), absl::StrCat("failsafe:127.0.0.1:", healthy.port()));
    EXPECT_EQ(r.header("x-router-fallbacks"), "1");
  }
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_failsafe_routes_total"), 2);

  // A model the table does not know keeps decision's answer; so do errors that are answers.
  HttpResult unknown = Chat(R"({"model":"m2","messages":[]})");
  EXPECT_EQ(unknown.status, 503);
  decision_.AnswerRoute(absl::NotFoundError("model \"m1\" is not known"));
  EXPECT_EQ(Chat().status, 404);
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_failsafe_routes_total"), 2);
}

TEST_F(GatewayServerTest, ReadinessFollowsDecisionUnlessFailSafeIsConfigured) {
  EXPECT_EQ(HttpCall(server_->port(), "GET", "/readyz").status, 200);
  decision_.set_reachable(false);
  HttpResult down = HttpCall(server_->port(), "GET", "/readyz");
  EXPECT_EQ(down.status, 503);
  EXPECT_THAT(down.body, HasSubstr("unreachable"));

  GatewayServerOptions options = DefaultOptions();
  options.proxy.fail_safe = FailSafe("m1=127.0.0.1:9");
  Restart(options);
  HttpResult fail_safe = HttpCall(server_->port(), "GET", "/readyz");
  EXPECT_EQ(fail_safe.status, 200);
  EXPECT_THAT(fail_safe.body, HasSubstr("failsafe"));
}

TEST_F(GatewayServerTest, RequestsBeyondTheConcurrencyLimitAreShedWith503) {
  GatewayServerOptions options = DefaultOptions();
  options.max_concurrent_requests = 1;
  Restart(options);
  TestUpstream upstream(TestUpstream::Mode::kSse);
  Route(MakeTarget("ep-sse", upstream.port(), "m1"));
  StreamingClient holding(server_->port(), R"({"model":"m1","stream":true,"messages":[]})");
  ASSERT_TRUE(holding.ReadHeader());  // the stream is in flight, held by the backend
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_requests_in_flight"), 1);

  HttpResult shed = Chat();
  EXPECT_EQ(shed.status, 503);
  EXPECT_EQ(shed.header("retry-after"), "1");
  EXPECT_THAT(shed.body, HasSubstr("\"code\":\"overloaded\""));
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_shed_requests_total"), 1);
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_requests_in_flight"), 1)
      << "a shed request is not in flight";

  upstream.release();
  while (holding.NextPiece()) {
  }
  EXPECT_TRUE(holding.parser().is_done());
  // The handler lets go of its slot just after the last byte is written.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (MetricValue(registry_, "llmrouter_gateway_requests_in_flight") != 0 &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_requests_in_flight"), 0);
  TestUpstream json(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", json.port(), "m1"));
  EXPECT_EQ(Chat().status, 200);  // the slot is free again
}

// A JSON client with the only concurrency slot sends a request for a silent backend and leaves
// once decision was asked (while decision still holds its answer, if `decision_holds`); the slot
// must come back to the next client, and the request count as 499.
void GatewayServerTest::LeaveAndExpectTheSlotBack(bool decision_holds) {
  GatewayServerOptions options = DefaultOptions();
  options.max_concurrent_requests = 1;
  options.proxy.upstream_timeout = std::chrono::milliseconds(60000);
  Restart(options);
  SilentUpstream silent;
  Route(MakeTarget("ep-silent", silent.port(), "m1"));
  if (decision_holds) decision_.HoldRoutes();
  {
    asio::io_context ioc;
    asio::ip::tcp::socket client(ioc);
    client.connect(
        {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server_->port())});
    const std::string body = R"({"model":"m1","messages":[{"role":"user","content":"hi"}]})";
    asio::write(client,
                asio::buffer(absl::StrCat("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
                                          "content-type: application/json\r\ncontent-length: ",
                                          body.size(), "\r\n\r\n", body)));
    for (int i = 0; i < 1000 && decision_.routes().empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_THAT(decision_.routes(), SizeIs(1));
  }  // the client leaves
  if (decision_holds) {
    // Time for the gateway's event loop to see the close with nothing waiting for it (the case
    // that was missed); the watch must notice it however long this is.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    decision_.ReleaseRoutes();
  }
  TestUpstream json(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", json.port(), "m1"));
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline && (status = Chat().status) == 503) {
  }
  EXPECT_EQ(status, 200) << "the slot stayed taken by the client that left";
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_requests_total",
                        {{"route", "chat_completions"}, {"code", "499"}}),
            1);
}

// Hardening review: a JSON client that disconnected kept its concurrency slot, and its backend
// request ran on, until the backend answered (up to --upstream_timeout_ms, a minute here).
TEST_F(GatewayServerTest, AJsonClientThatLeavesFreesItsSlotAndItsBackendRequest) {
  LeaveAndExpectTheSlotBack(/*decision_holds=*/false);
}

// CI once saw the slot kept: a client leaving between two operations of the backend exchange
// (after the request was written, before the answer was awaited) cancelled nothing. A close
// that comes before the watch begins, while decision is asked, must be noticed too.
TEST_F(GatewayServerTest, AClientThatLeftWhileDecisionWasAskedIsNoticed) {
  LeaveAndExpectTheSlotBack(/*decision_holds=*/true);
}

// A backend answering 429 or 503 with Retry-After is tried again only after that pause, and not
// within the request at all when it asks for longer than the policy's max_retry_after.
TEST_F(GatewayServerTest, RetryAfterKeepsALongPausedBackendOutOfTheRequest) {
  TestUpstream busy(TestUpstream::Mode::kStatus500);
  TestUpstream healthy(TestUpstream::Mode::kJson);
  busy.set_retry_after("120");
  Route(MakeTarget("ep-busy", busy.port(), "m1"), {MakeTarget("ep-busy-again", busy.port(), "m1"),
                                                   MakeTarget("ep-ok", healthy.port(), "m1")});
  HttpResult r = Chat();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-router-endpoint"), "ep-ok");
  EXPECT_EQ(r.header("x-router-fallbacks"), "1") << "ep-busy-again was skipped";
}

TEST_F(GatewayServerTest, RetriesStopWhenTheRetryBudgetIsSpent) {
  GatewayServerOptions options = DefaultOptions();
  options.proxy.retry.min_retry_concurrency = 0;
  options.proxy.retry.budget_ratio = 0;
  Restart(options);
  TestUpstream dead(TestUpstream::Mode::kStatus500);
  TestUpstream healthy(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-dead", dead.port(), "m1"), {MakeTarget("ep-ok", healthy.port(), "m1")});
  HttpResult r = Chat();
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_THAT(r.body, HasSubstr("retry budget exhausted"));
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_retry_budget_exhausted_total"), 1);
}

// Hardening review: a text/plain body was parsed as JSON.
TEST_F(GatewayServerTest, NonJsonBodiesAre415WithoutAskingDecision) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));
  for (const char* type :
       {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}) {
    HttpResult r = HttpCall(server_->port(), "POST", "/v1/chat/completions", kChatBody,
                            {{"content-type", type}});
    EXPECT_EQ(r.status, 415) << type;
    EXPECT_THAT(r.body, HasSubstr("\"code\":\"unsupported_media_type\""));
  }
  EXPECT_THAT(decision_.routes(), SizeIs(0));
  for (const char* type : {"application/json", "application/json; charset=utf-8",
                           "Application/JSON", "application/vnd.api+json"}) {
    EXPECT_EQ(HttpCall(server_->port(), "POST", "/v1/chat/completions", kChatBody,
                       {{"content-type", type}})
                  .status,
              200)
        << type;
  }
}

TEST_F(GatewayServerTest, ConnectionsOverTheCapAreClosedAndCounted) {
  GatewayServerOptions options = DefaultOptions();
  options.http.max_connections = 1;
  Restart(options);
  llmrouter::testing::HttpTestConnection first(server_->port());
  ASSERT_TRUE(first.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(first.ReadResponse().status, 200);
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_connections"), 1);

  llmrouter::testing::HttpTestConnection second(server_->port());
  std::string received;
  EXPECT_TRUE(second.WaitForClose(std::chrono::seconds(30), &received));
  EXPECT_EQ(received, "");
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_connections_rejected_total"), 1);
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_connections"), 1);
}

TEST_F(GatewayServerTest, OverallDeadlineEndsTheAttemptsWith504) {
  GatewayServerOptions options = DefaultOptions();
  options.proxy.request_timeout = std::chrono::milliseconds(300);
  options.proxy.upstream_timeout = std::chrono::milliseconds(60000);
  Restart(options);
  SilentUpstream first, second;
  Route(MakeTarget("ep-silent-1", first.port(), "m1"),
        {MakeTarget("ep-silent-2", second.port(), "m1")});
  HttpResult r = Chat();
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_THAT(r.body, HasSubstr("request deadline of 300 ms"));
  EXPECT_THAT(r.body, HasSubstr("ep-silent-1"));
  EXPECT_EQ(
      MetricValue(registry_, "llmrouter_gateway_upstream_attempts_total", {{"result", "timeout"}}),
      1);
}

TEST(FailSafeTableTest, ParsesEntriesAndRoutesInOrder) {
  absl::StatusOr<FailSafeTable> table = FailSafeTable::Parse(
      "# comment\nm1 = 10.0.0.1:8000 | backend.svc:8000\n\nm2=[::1]:9000,m3=h:1 # trailing\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 3u);
  absl::StatusOr<v1::RouteRequestResponse> route = table->Route("m1");
  ASSERT_TRUE(route.ok());
  EXPECT_EQ(route->decision_id(), "failsafe");
  EXPECT_EQ(route->target().address(), "10.0.0.1:8000");
  EXPECT_EQ(route->target().model(), "m1");
  ASSERT_EQ(route->fallbacks_size(), 1);
  EXPECT_EQ(route->fallbacks(0).address(), "backend.svc:8000");
  EXPECT_EQ(table->Route("m4").status().code(), absl::StatusCode::kNotFound);
}

TEST(FailSafeTableTest, RejectsMalformedEntriesNamingThem) {
  absl::StatusOr<FailSafeTable> no_equals = FailSafeTable::Parse("m1 10.0.0.1:8000");
  EXPECT_EQ(no_equals.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_equals.status().message()), HasSubstr("m1 10.0.0.1:8000"));
  absl::StatusOr<FailSafeTable> no_port = FailSafeTable::Parse("m1=10.0.0.1");
  EXPECT_EQ(no_port.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_port.status().message()), HasSubstr("not host:port"));
  EXPECT_EQ(FailSafeTable::FromFile("/nonexistent/failsafe").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(GatewayServerTest, ApiKeysAuthenticateAndNameTheTenant) {
  std::string path = "/tmp/llmrouter-gw-keys-" + std::to_string(getpid());
  std::ofstream(path) << Sha256Hex("sk-acme") << " acme\n";
  auto keys = ApiKeyStore::Load(path);
  ASSERT_TRUE(keys.ok()) << keys.status();
  GatewayServerOptions options = DefaultOptions();
  options.api_keys = std::move(*keys);
  Restart(options);
  TestUpstream upstream(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));

  for (const std::map<std::string, std::string>& headers :
       std::vector<std::map<std::string, std::string>>{
           {}, {{"authorization", "Bearer sk-wrong"}}, {{"authorization", "sk-acme"}}}) {
    HttpResult denied = Chat(kChatBody, headers);
    EXPECT_EQ(denied.status, 401);
    EXPECT_THAT(denied.body, HasSubstr("\"type\":\"authentication_error\""));
    EXPECT_THAT(denied.body, HasSubstr("\"code\":\"invalid_api_key\""));
    EXPECT_EQ(denied.header("www-authenticate"), "Bearer");
  }
  EXPECT_EQ(HttpCall(server_->port(), "GET", "/v1/models").status, 401);
  EXPECT_EQ(HttpCall(server_->port(), "GET", "/healthz").status, 200);  // probes need no key
  EXPECT_THAT(decision_.routes(), SizeIs(0));

  // The key's tenant wins over a tenant header the caller made up.
  HttpResult ok =
      Chat(kChatBody, {{"authorization", "bearer sk-acme"}, {"x-router-tenant", "someone-else"}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  ASSERT_THAT(decision_.routes(), SizeIs(1));
  EXPECT_EQ(decision_.routes()[0].tenant(), "acme");
  ASSERT_THAT(upstream.seen(), SizeIs(1));
  EXPECT_EQ(upstream.seen()[0].headers.count("authorization"), 0u);
}

TEST_F(GatewayServerTest, BackendsGetTheOperatorsCredentialNeverTheClients) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  setenv("LLMROUTER_TEST_UPSTREAM_KEY", "provider-secret", 1);
  auto credentials = UpstreamCredentials::Parse(
      absl::StrCat("127.0.0.1:", upstream.port(), "=env:LLMROUTER_TEST_UPSTREAM_KEY"));
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  GatewayServerOptions options = DefaultOptions();
  options.proxy.upstream_credentials =
      Reloadable<UpstreamCredentials>::Fixed(*std::move(credentials));
  Restart(options);
  Route(MakeTarget("ep-json", upstream.port(), "m1"));
  ASSERT_EQ(Chat(kChatBody, {{"authorization", "Bearer client-key"}}).status, 200);
  ASSERT_THAT(upstream.seen(), SizeIs(1));
  EXPECT_EQ(upstream.seen()[0].headers["authorization"], "Bearer provider-secret");
}

class RecordingSink : public OutcomeSink {
 public:
  absl::Status Send(const v1::ReportOutcomesRequest& batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const v1::Outcome& o : batch.outcomes()) outcomes_.push_back(o);
    return absl::OkStatus();
  }
  std::vector<v1::Outcome> outcomes() {
    std::lock_guard<std::mutex> lock(mu_);
    return outcomes_;
  }

 private:
  std::mutex mu_;
  std::vector<v1::Outcome> outcomes_;
};

// Sends the gateway's outcome reports to a RecordingSink, which `options` owns.
RecordingSink* RecordOutcomes(GatewayServerOptions& options, prometheus::Registry& registry) {
  auto sink = std::make_unique<RecordingSink>();
  RecordingSink* recorded = sink.get();
  options.proxy.outcomes =
      std::make_shared<OutcomeReporter>(OutcomeReporterOptions{"test"}, std::move(sink), registry);
  return recorded;
}

// The access log's lines, read after the log is closed.
std::vector<std::string> LinesOf(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(GatewayServerTest, TheAccessLogHasALinePerRequestWithItsRoutingTimingAndTokens) {
  const std::string path = llmrouter::testing::MakeTempDir("llmrouter-access-log") + "/access.log";
  auto log = AccessLog::Open({path, 1.0}, registry_);
  ASSERT_TRUE(log.ok()) << log.status();
  GatewayServerOptions options = DefaultOptions();
  options.access_log = log->get();
  Restart(options);
  TestUpstream failing(TestUpstream::Mode::kStatus500);
  TestUpstream json(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-bad", failing.port(), "m1"), {MakeTarget("ep-json", json.port(), "m1")});
  const auto json_answer = Chat(kChatBody, {{"x-router-tenant", "acme"},
                                            {"x-request-id", "req-1"},
                                            {"authorization", "Bearer sk-secret-key"}});
  ASSERT_EQ(json_answer.status, 200);
  TestUpstream sse(TestUpstream::Mode::kSse);
  sse.release();
  Route(MakeTarget("ep-sse", sse.port(), "m1"));
  const auto sse_answer =
      Chat(R"({"model":"m1","stream":true,"stream_options":{"include_usage":true},)"
           R"("messages":[{"role":"user","content":"my secret prompt"}]})",
           {{"x-request-id", "req-2"},
            {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
  ASSERT_EQ(sse_answer.status, 200);
  StopServingRequests();
  log->reset();  // writes what is queued
  std::vector<std::string> lines = LinesOf(path);
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_THAT(lines[0],
              ::testing::MatchesRegex(
                  R"(\{"time":"20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]{8}\.[0-9]{3}Z",.*)"));
  EXPECT_THAT(lines[0], ::testing::MatchesRegex(R"(.*"duration_ms":[0-9]+\.[0-9]{3},.*)"));
  EXPECT_THAT(lines[0], HasSubstr(R"("request_id":"req-1")"));
  EXPECT_THAT(lines[0], HasSubstr(R"("tenant":"acme","model":"m1","routed_model":"m1")"));
  EXPECT_THAT(lines[0], HasSubstr(R"("endpoint":"ep-json","track":"stable")"));
  EXPECT_THAT(lines[0], HasSubstr(R"("decision_id":"dec-0001")"));
  EXPECT_THAT(lines[0], HasSubstr(R"("policy":"3f2a9c0d1e4b")"));
  EXPECT_THAT(lines[0], HasSubstr(R"("status":200,"attempts":2,)"));
  EXPECT_THAT(lines[0], HasSubstr(R"("prompt_tokens":5,"completion_tokens":2,)"));
  EXPECT_THAT(lines[1], HasSubstr(R"("trace_id":"4bf92f3577b34da6a3ce929d0e0e4736")"));
  EXPECT_THAT(lines[1], HasSubstr(R"("endpoint":"ep-sse")"));
  EXPECT_THAT(lines[1], HasSubstr(R"("completion_tokens":3,)"));
  EXPECT_THAT(lines[1], HasSubstr(R"("stream":true)"));
  EXPECT_THAT(lines[1], Not(HasSubstr(R"("ttft_ms":0.000)"))) << "a streamed answer has a TTFT";
  // The body bytes the client received, relayed whole or piece by piece.
  EXPECT_THAT(lines[0], HasSubstr(absl::StrCat("\"response_bytes\":", json_answer.body.size())));
  EXPECT_THAT(lines[1], HasSubstr(absl::StrCat("\"response_bytes\":", sse_answer.body.size())));
  for (const std::string& line : lines) {
    EXPECT_THAT(line, Not(HasSubstr("secret"))) << "never the prompt, never a key";
  }
  EXPECT_EQ(
      MetricValue(registry_, "llmrouter_gateway_access_log_lines_total", {{"result", "written"}}),
      2);
}

TEST(AccessLogTest, ASampleOfNoneWritesNothingAndAFullQueueDropsAndCounts) {
  prometheus::Registry registry;
  const std::string dir = llmrouter::testing::MakeTempDir("llmrouter-access-log");
  auto none = AccessLog::Open({dir + "/none.log", 0.0}, registry);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE((*none)->Sampled());
  auto full = AccessLog::Open({dir + "/full.log", 1.0, /*queue=*/0}, registry);
  ASSERT_TRUE(full.ok());
  EXPECT_TRUE((*full)->Sampled());
  for (int i = 0; i < 5; ++i) (*full)->Write("{}");
  EXPECT_EQ(
      MetricValue(registry, "llmrouter_gateway_access_log_lines_total", {{"result", "dropped"}}),
      5);
  EXPECT_EQ(AccessLog::Open({dir + "/x.log", 1.5}, registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AccessLog::Open({dir + "/no/such/dir/x.log", 1.0}, registry).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(GatewayServerTest, OutcomesAndTokenUsageAreRecordedPerTenantAndModel) {
  GatewayServerOptions options = DefaultOptions();
  RecordingSink* recorded = RecordOutcomes(options, registry_);
  Restart(options);
  TestUpstream failing(TestUpstream::Mode::kStatus500);
  TestUpstream json(TestUpstream::Mode::kJson);
  Route(MakeTarget("ep-bad", failing.port(), "m1"), {MakeTarget("ep-json", json.port(), "m1")});
  ASSERT_EQ(Chat(kChatBody, {{"x-router-tenant", "acme"}}).status, 200);

  TestUpstream sse(TestUpstream::Mode::kSse);
  sse.release();
  Route(MakeTarget("ep-sse", sse.port(), "m1"));
  HttpResult streamed =
      Chat(R"({"model":"m1","stream":true,"stream_options":{"include_usage":true},"messages":[]})",
           {{"x-router-tenant", "acme"}});
  ASSERT_EQ(streamed.status, 200);
  StopServingRequests();
  options.proxy.outcomes->Flush();

  std::vector<v1::Outcome> outcomes = recorded->outcomes();
  ASSERT_THAT(outcomes, SizeIs(3));
  EXPECT_EQ(outcomes[0].endpoint_id(), "ep-bad");
  EXPECT_EQ(outcomes[0].http_status(), 500u);
  EXPECT_EQ(outcomes[0].error(), "http_5xx");
  EXPECT_EQ(outcomes[0].cost_usd(), 0);  // a failed attempt costs nothing
  EXPECT_EQ(outcomes[1].endpoint_id(), "ep-json");
  EXPECT_EQ(outcomes[1].http_status(), 200u);
  EXPECT_EQ(outcomes[1].tenant(), "acme");
  EXPECT_EQ(outcomes[1].decision_id(), "dec-0001");
  EXPECT_EQ(outcomes[1].prompt_tokens(), 5u);
  EXPECT_EQ(outcomes[1].completion_tokens(), 2u);
  EXPECT_DOUBLE_EQ(outcomes[1].cost_usd(), kEstimatedCost);
  EXPECT_EQ(outcomes[2].endpoint_id(), "ep-sse");
  EXPECT_EQ(outcomes[2].completion_tokens(), 3u);
  EXPECT_TRUE(outcomes[2].has_time_to_first_token());
  EXPECT_DOUBLE_EQ(outcomes[2].cost_usd(), kEstimatedCost);

  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_tokens_total",
                        {{"tenant", "acme"}, {"model", "m1"}, {"type", "prompt"}}),
            9);
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_tokens_total",
                        {{"tenant", "acme"}, {"model", "m1"}, {"type", "completion"}}),
            5);
}

// A streaming client that leaves while the backend is quiet ends the relay at once, and the
// attempt is reported as the client's leaving: not as a reset against the backend's health.
TEST_F(GatewayServerTest, AStreamingClientThatLeavesIsNotCountedAgainstTheBackend) {
  GatewayServerOptions options = DefaultOptions();
  RecordingSink* recorded = RecordOutcomes(options, registry_);
  Restart(options);
  TestUpstream sse(TestUpstream::Mode::kSse);  // sends one event, then holds the rest back
  Route(MakeTarget("ep-sse", sse.port(), "m1"));
  {
    StreamingClient leaving(server_->port(), R"({"model":"m1","stream":true,"messages":[]})");
    ASSERT_TRUE(leaving.ReadHeader());
    ASSERT_TRUE(leaving.NextPiece().has_value());
  }  // the client leaves while the backend says nothing
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (MetricValue(registry_, "llmrouter_gateway_requests_in_flight") != 0 &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(MetricValue(registry_, "llmrouter_gateway_requests_in_flight"), 0)
      << "the relay waited on the quiet backend";
  sse.release();
  StopServingRequests();
  options.proxy.outcomes->Flush();
  std::vector<v1::Outcome> outcomes = recorded->outcomes();
  ASSERT_THAT(outcomes, SizeIs(1));
  EXPECT_EQ(outcomes[0].endpoint_id(), "ep-sse");
  EXPECT_EQ(outcomes[0].error(), "client_gone");
  EXPECT_EQ(
      MetricValue(registry_, "llmrouter_gateway_upstream_attempts_total", {{"result", "reset"}}),
      0);
}

// Rate limits (issue 13): decision sends the tenant's limits with its answer; the gateway counts
// and answers 429 with OpenAI's headers. The clock starts a 10 s window.
class RateLimitTest : public GatewayServerTest {
 protected:
  void SetUp() override {
    GatewayServerOptions options = DefaultOptions();
    options.proxy.rate_limit_clock = [this] { return now_ms_.load(); };
    Restart(options);
  }
  void RouteWithLimits(const v1::Target& target, const v1::RateLimits& limits) {
    v1::RouteRequestResponse response;
    response.set_decision_id("dec-0001");
    *response.mutable_target() = target;
    *response.mutable_rate_limits() = limits;
    decision_.AnswerRoute(response);
  }
  static v1::RateLimits Limits(uint32_t requests, uint64_t tokens, uint32_t concurrent,
                               uint32_t per_key_requests = 0) {
    v1::RateLimits limits;
    limits.mutable_window()->set_seconds(10);
    limits.set_tenant("acme");
    limits.mutable_tenant_limits()->set_requests(requests);
    limits.mutable_tenant_limits()->set_tokens(tokens);
    limits.mutable_tenant_limits()->set_concurrent(concurrent);
    limits.mutable_per_api_key()->set_requests(per_key_requests);
    return limits;
  }
  double Limited(const std::string& kind) {
    return MetricValue(registry_, "llmrouter_gateway_rate_limited_total",
                       {{"tenant", "acme"}, {"kind", kind}});
  }
  std::atomic<int64_t> now_ms_{1'000'000'000'000};
};

TEST_F(RateLimitTest, RequestsOverTheLimitGet429WithOpenAisHeaders) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  RouteWithLimits(MakeTarget("ep-json", upstream.port(), "m1"), Limits(2, 0, 0));
  for (int i = 0; i < 2; ++i) {
    HttpResult ok = Chat();
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.header("x-ratelimit-limit-requests"), "2");
    EXPECT_EQ(ok.header("x-ratelimit-remaining-requests"), std::to_string(1 - i));
    EXPECT_EQ(ok.header("x-ratelimit-reset-requests"), "10s");
    EXPECT_EQ(ok.header("x-ratelimit-limit-tokens"), "") << "no token limit";
  }
  now_ms_ += 2500;
  HttpResult limited = Chat();
  EXPECT_EQ(limited.status, 429);
  EXPECT_THAT(limited.body, HasSubstr("\"code\":\"rate_limit_exceeded\""));
  EXPECT_THAT(limited.body, HasSubstr("Rate limit reached for requests per 10s: limit 2 (tenant "
                                      "acme). Please try again in 8s."));
  EXPECT_EQ(limited.header("retry-after"), "8");
  EXPECT_EQ(limited.header("x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(limited.header("x-ratelimit-reset-requests"), "8s");
  EXPECT_EQ(Limited("requests"), 1);
  EXPECT_THAT(upstream.seen(), SizeIs(2)) << "the refused request reached no backend";
  now_ms_ += 7500;  // the next window
  EXPECT_EQ(Chat().status, 200);
}

TEST_F(RateLimitTest, EveryAnswerCarriesTheHeadersErrorsIncluded) {
  // A request past the gateway's deadline (504), and a decision that names no target (502).
  GatewayServerOptions options = DefaultOptions();
  options.proxy.rate_limit_clock = [this] { return now_ms_.load(); };
  options.proxy.request_timeout = std::chrono::milliseconds(300);
  Restart(options);
  SilentUpstream silent, also_silent;
  v1::RouteRequestResponse response;
  *response.mutable_target() = MakeTarget("ep-silent", silent.port(), "m1");
  *response.add_fallbacks() = MakeTarget("ep-silent-2", also_silent.port(), "m1");
  *response.mutable_rate_limits() = Limits(5, 0, 0);
  decision_.AnswerRoute(response);
  HttpResult late = Chat();
  EXPECT_EQ(late.status, 504) << late.body;
  EXPECT_EQ(late.header("x-ratelimit-limit-requests"), "5");
  EXPECT_EQ(late.header("x-ratelimit-remaining-requests"), "4");
  RouteWithLimits(v1::Target(), Limits(5, 0, 0));
  HttpResult nowhere = Chat();
  EXPECT_EQ(nowhere.status, 502) << nowhere.body;
  EXPECT_EQ(nowhere.header("x-ratelimit-remaining-requests"), "3");
}

TEST_F(RateLimitTest, TokensAreReservedFromTheEstimateAndCorrectedByTheReportedUsage) {
  TestUpstream upstream(TestUpstream::Mode::kJson);  // reports 5 + 2 tokens
  RouteWithLimits(MakeTarget("ep-json", upstream.port(), "m1"), Limits(0, 250, 0));
  const std::string asks_100 =
      R"({"model":"m1","max_tokens":100,"messages":[{"role":"user","content":"Say hi"}]})";
  // Each reserves its prompt's estimate plus 100; without the correction to the 7 tokens used,
  // the third would not fit in 250.
  for (int i = 0; i < 3; ++i) {
    HttpResult ok = Chat(asks_100);
    ASSERT_EQ(ok.status, 200) << i << ": " << ok.body;
    EXPECT_EQ(ok.header("x-ratelimit-limit-tokens"), "250");
  }
  HttpResult too_big =
      Chat(R"({"model":"m1","max_tokens":1000,"messages":[{"role":"user","content":"Say hi"}]})");
  EXPECT_EQ(too_big.status, 429);
  EXPECT_THAT(too_big.body, HasSubstr("tokens per 10s: limit 250"));
  EXPECT_EQ(Limited("tokens"), 1);
}

TEST_F(RateLimitTest, ConcurrentRequestsAreLimitedUntilOneEnds) {
  TestUpstream sse(TestUpstream::Mode::kSse);
  RouteWithLimits(MakeTarget("ep-sse", sse.port(), "m1"), Limits(0, 0, 1));
  StreamingClient holding(server_->port(), R"({"model":"m1","stream":true,"messages":[]})");
  ASSERT_TRUE(holding.ReadHeader());
  HttpResult second = Chat();
  EXPECT_EQ(second.status, 429);
  EXPECT_THAT(second.body, HasSubstr("concurrent requests: limit 1"));
  EXPECT_EQ(second.header("retry-after"), "1");
  EXPECT_EQ(Limited("concurrent"), 1);
  sse.release();
  while (holding.NextPiece()) {
  }
  TestUpstream json(TestUpstream::Mode::kJson);
  RouteWithLimits(MakeTarget("ep-json", json.port(), "m1"), Limits(0, 0, 1));
  int status = 0;
  ASSERT_TRUE(testing::WaitUntil([&] { return (status = Chat().status) != 429; }));
  EXPECT_EQ(status, 200);
}

TEST_F(RateLimitTest, EachApiKeyHasItsOwnAllowanceAndClientsCannotClaimAKey) {
  std::string path = "/tmp/llmrouter-gw-limit-keys-" + std::to_string(getpid());
  std::ofstream(path) << Sha256Hex("sk-one") << " acme\n" << Sha256Hex("sk-two") << " acme\n";
  auto keys = ApiKeyStore::Load(path);
  ASSERT_TRUE(keys.ok()) << keys.status();
  GatewayServerOptions options = DefaultOptions();
  options.api_keys = std::move(*keys);
  options.proxy.rate_limit_clock = [this] { return now_ms_.load(); };
  Restart(options);
  TestUpstream upstream(TestUpstream::Mode::kJson);
  RouteWithLimits(MakeTarget("ep-json", upstream.port(), "m1"), Limits(10, 0, 0, 1));
  const std::string one_id = Sha256Hex("sk-one").substr(0, 12);
  HttpResult first = Chat(kChatBody, {{"authorization", "Bearer sk-one"}});
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.header("x-ratelimit-limit-requests"), "1") << "the key's limit is the tighter";
  HttpResult again = Chat(kChatBody, {{"authorization", "Bearer sk-one"}});
  EXPECT_EQ(again.status, 429);
  EXPECT_THAT(again.body, HasSubstr("(this API key)"));
  // Another key of the tenant, claiming the first key's id: counted as itself.
  HttpResult two = Chat(
      kChatBody, {{"authorization", "Bearer sk-two"}, {"x-router-api-key-id", "someone-else"}});
  EXPECT_EQ(two.status, 200);
  ASSERT_THAT(upstream.seen(), SizeIs(2));
  EXPECT_EQ(upstream.seen()[1].headers.count("x-router-api-key-id"), 0u) << "never forwarded";
}

TEST_F(RateLimitTest, WithoutKeysAClientsKeyIdIsIgnored) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  RouteWithLimits(MakeTarget("ep-json", upstream.port(), "m1"), Limits(0, 0, 0, 1));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Chat(kChatBody, {{"x-router-api-key-id", "made-up"}}).status, 200);
  }
}

TEST(GatewayMetricsTest, TenantAndModelLabelsAreBounded) {
  prometheus::Registry registry;
  GatewayMetrics metrics(registry);
  for (std::size_t i = 0; i < GatewayMetrics::kMaxLabelValues + 20; ++i) {
    metrics.Usage("tenant-" + std::to_string(i), "m1", 1, 1, 0);
  }
  std::size_t series = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name == "llmrouter_gateway_tokens_total") series = family.metric.size();
  }
  EXPECT_EQ(series, 2 * (GatewayMetrics::kMaxLabelValues + 1));  // prompt and completion
  EXPECT_EQ(MetricValue(registry, "llmrouter_gateway_tokens_total",
                        {{"tenant", "other"}, {"type", "prompt"}}),
            20);
}

TEST_F(GatewayServerTest, ExplainAddsTheTraceToAHeaderAndTheJsonAnswer) {
  TestUpstream upstream(TestUpstream::Mode::kJson);
  v1::RouteRequestResponse response;
  response.set_decision_id("dec-0002");
  response.set_policy_revision(3);
  response.set_policy_rule("cheap-first");
  *response.mutable_target() = MakeTarget("ep-json", upstream.port(), "m1");
  response.mutable_trace()->add_notes("rule cheap-first matched");
  decision_.AnswerRoute(response);

  HttpResult plain = Chat();
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.body, kJsonAnswer);
  EXPECT_EQ(plain.header("x-router-explain"), "");

  HttpResult explained = Chat(kChatBody, {{"x-router-explain", "1"}});
  ASSERT_EQ(explained.status, 200) << explained.body;
  EXPECT_THAT(explained.header("x-router-explain"), HasSubstr("\"policy_rule\":\"cheap-first\""));
  EXPECT_THAT(explained.header("x-router-explain"), HasSubstr("rule cheap-first matched"));
  std::string expected_prefix(kJsonAnswer, sizeof(kJsonAnswer) - 2);  // without the final '}'
  EXPECT_EQ(explained.body.substr(0, expected_prefix.size()), expected_prefix);
  EXPECT_THAT(explained.body, HasSubstr(",\"router\":{\"decision_id\":\"dec-0002\""));
  EXPECT_THAT(explained.body, HasSubstr("\"endpoint\":\"ep-json\""));
  EXPECT_EQ(explained.body.back(), '}');
  EXPECT_EQ(explained.header("content-length"), std::to_string(explained.body.size()));
}

// An https backend with a self-signed certificate for localhost/127.0.0.1 that the test
// generates; serves one connection (keep-alive) on its own thread.
class TlsUpstream {
 public:
  explicit TlsUpstream(const std::string& dir)
      : cert_(dir + "/cert.pem"),
        context_(asio::ssl::context::tls_server),
        acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
        dir + "/key.pem -out " + cert_ + " >/dev/null 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0);
    context_.use_certificate_chain_file(cert_);
    context_.use_private_key_file(dir + "/key.pem", asio::ssl::context::pem);
    thread_ = std::thread([this] { ServeOne(); });
  }
  ~TlsUpstream() { thread_.join(); }
  int port() const { return acceptor_.local_endpoint().port(); }
  const std::string& cert() const { return cert_; }
  int served() const { return served_.load(); }

 private:
  void ServeOne() {
    beast::error_code ec;
    asio::ip::tcp::socket socket(ioc_);
    acceptor_.accept(socket, ec);
    if (ec) return;
    beast::ssl_stream<asio::ip::tcp::socket&> stream(socket, context_);
    stream.handshake(asio::ssl::stream_base::server, ec);
    beast::flat_buffer buffer;
    while (!ec) {
      http::request<http::string_body> req;
      http::read(stream, buffer, req, ec);
      if (ec) break;
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "application/json");
      res.body() = kJsonAnswer;
      res.prepare_payload();
      served_.fetch_add(1);  // before the answer leaves: the test reads it once the answer is in
      http::write(stream, res, ec);
    }
  }

  std::string cert_;
  asio::io_context ioc_;
  asio::ssl::context context_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<int> served_{0};
  std::thread thread_;
};

v1::Target HttpsTarget(int port) {
  v1::Target t = MakeTarget("ep-tls", port, "m1");
  t.set_address("localhost:" + std::to_string(port));
  t.set_scheme("https");
  return t;
}

TEST_F(GatewayServerTest, HttpsBackendsAreVerifiedAgainstTheConfiguredCa) {
  std::string dir = "/tmp/llmrouter-gw-tls-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  TlsUpstream upstream(dir);
  auto context = MakeUpstreamTlsContext(upstream.cert());
  ASSERT_TRUE(context.ok()) << context.status();
  GatewayServerOptions options = DefaultOptions();
  options.proxy.pool.tls_context = *context;
  Restart(options);
  Route(HttpsTarget(upstream.port()));
  HttpResult r = Chat();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, kJsonAnswer);
  EXPECT_EQ(r.header("x-router-endpoint"), "ep-tls");
  ASSERT_EQ(Chat().status, 200);  // over the same pooled TLS connection
  StopServingRequests();
  EXPECT_EQ(upstream.served(), 2);
}

TEST_F(GatewayServerTest, HttpsBackendWithAnUntrustedCertificateIsAFailedAttempt) {
  std::string dir = "/tmp/llmrouter-gw-tls-untrusted-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  TlsUpstream upstream(dir);  // its certificate is in no trust store the gateway uses
  Route(HttpsTarget(upstream.port()));
  HttpResult r = Chat();
  EXPECT_EQ(r.status, 502);
  EXPECT_THAT(r.body, HasSubstr("TLS handshake with localhost:"));
  EXPECT_EQ(upstream.served(), 0);
}

TEST(UpstreamTlsContextTest, AMissingCaFileIsAnError) {
  EXPECT_EQ(MakeUpstreamTlsContext("/nonexistent/ca.pem").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmrouter::gateway
