// FakeLlmServer served in-process on port 0 and called over real sockets.
// Boost 1.74's coroutine headers need <utility> first with g++ 12.
// clang-format off
#include <utility>
// clang-format on

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "simdjson.h"
#include "tools/fake-llm/fake_llm_server.h"

namespace llmrouter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Reply {
  int status = 0;  // 0 when no header arrived
  std::string body;
  std::string backend;  // x-fake-llm-backend
  std::string content_type;
  bool chunked = false;
  beast::error_code error;  // of the read: partial_message for a cut stream, timeout, ...
};

// One request on its own connection; gives up after `timeout`.
Reply Call(int port, http::verb method, std::string target, std::string body = "",
           std::chrono::milliseconds timeout = std::chrono::seconds(5),
           const std::string& authorization = "") {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  Reply r;
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), r.error);
  if (r.error) return r;
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  req.body() = std::move(body);
  req.prepare_payload();
  http::write(stream, req, r.error);
  if (r.error) return r;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  stream.expires_after(timeout);
  http::async_read(stream, buffer, parser,
                   [&](beast::error_code ec, std::size_t) { r.error = ec; });
  ioc.run();
  if (parser.is_header_done()) {
    const auto& res = parser.get();
    r.status = res.result_int();
    r.body = res.body();  // what arrived, even when the message was cut
    r.backend = std::string(res["x-fake-llm-backend"]);
    r.content_type = std::string(res[http::field::content_type]);
    r.chunked = res.chunked();
  }
  return r;
}

Reply Post(int port, std::string target, std::string body) {
  return Call(port, http::verb::post, std::move(target), std::move(body));
}

// A parsed JSON document; the parser must outlive the elements taken from it.
struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
};
std::unique_ptr<Json> Parse(const std::string& text) {
  auto j = std::make_unique<Json>();
  j->root = j->parser.parse(text);  // throws, failing the test, on malformed JSON
  return j;
}

// The `data:` payloads of an SSE body, in order.
std::vector<std::string> SseData(const std::string& body) {
  std::vector<std::string> out;
  for (absl::string_view event : absl::StrSplit(body, "\n\n", absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(event, "data: ")) << event;
    out.emplace_back(event.substr(6));
  }
  return out;
}

int MetricValue(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      return std::stoi(std::string(line.substr(series.size() + 1)));
    }
  }
  return -1;
}

constexpr char kChat[] =
    R"({"model":"model-a","messages":[{"role":"user","content":"0123456789abcdef"}]})";

class FakeLlmServerTest : public ::testing::Test {
 protected:
  static FakeLlmOptions Defaults() {
    FakeLlmOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.models = {"model-a", "model-b"};
    o.name = "backend-a";
    o.completion_tokens = 6;
    return o;
  }
  void Serve(FakeLlmOptions o) {
    ASSERT_TRUE(ValidateFakeLlmOptions(o).ok());
    server_ = std::make_unique<FakeLlmServer>(std::move(o));
    ASSERT_TRUE(server_->Start().ok());
  }
  void SetUp() override { Serve(Defaults()); }
  int port() const { return server_->port(); }

  std::unique_ptr<FakeLlmServer> server_;
};

TEST_F(FakeLlmServerTest, ChatCompletionHasOpenAiShapeAndNamesTheBackend) {
  Reply r = Post(port(), "/v1/chat/completions", kChat);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.backend, "backend-a");
  EXPECT_EQ(r.content_type, "application/json");
  auto j = Parse(r.body);
  auto& doc = j->root;
  EXPECT_THAT(std::string(doc["id"].get_string().value()), StartsWith("chatcmpl-"));
  EXPECT_EQ(doc["object"].get_string().value(), "chat.completion");
  EXPECT_GT(doc["created"].get_int64().value(), 1600000000);
  EXPECT_EQ(doc["model"].get_string().value(), "model-a");
  EXPECT_EQ(doc["system_fingerprint"].get_string().value(), "fake-llm:backend-a");
  auto choice = doc["choices"].at(0);
  EXPECT_EQ(choice["message"]["role"].get_string().value(), "assistant");
  std::string content(choice["message"]["content"].get_string().value());
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(content, ' ')).size(), 6u) << content;
  EXPECT_EQ(choice["finish_reason"].get_string().value(), "stop");
  EXPECT_EQ(doc["usage"]["prompt_tokens"].get_int64().value(), 4);  // 16 bytes / 4
  EXPECT_EQ(doc["usage"]["completion_tokens"].get_int64().value(), 6);
  EXPECT_EQ(doc["usage"]["total_tokens"].get_int64().value(), 10);
}

TEST_F(FakeLlmServerTest, TextCompletionAnswersTheSecondServedModel) {
  Reply r = Post(port(), "/v1/completions", R"({"model":"model-b","prompt":["abcd","efgh"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = Parse(r.body);
  EXPECT_THAT(std::string(j->root["id"].get_string().value()), StartsWith("cmpl-"));
  EXPECT_EQ(j->root["object"].get_string().value(), "text_completion");
  EXPECT_EQ(j->root["model"].get_string().value(), "model-b");
  EXPECT_EQ(j->root["choices"].at(0)["text"].get_string().value(),
            "the quick brown fox jumps over");
  EXPECT_EQ(j->root["usage"]["prompt_tokens"].get_int64().value(), 2);
}

TEST_F(FakeLlmServerTest, SmallerMaxTokensTruncatesWithFinishReasonLength) {
  Reply r =
      Post(port(), "/v1/chat/completions",
           R"({"model":"model-a","max_tokens":2,"messages":[{"role":"user","content":"x"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = Parse(r.body);
  auto choice = j->root["choices"].at(0);
  EXPECT_EQ(choice["message"]["content"].get_string().value(), "the quick");
  EXPECT_EQ(choice["finish_reason"].get_string().value(), "length");
  EXPECT_EQ(j->root["usage"]["completion_tokens"].get_int64().value(), 2);
}

TEST_F(FakeLlmServerTest, StreamSendsOneEventPerTokenThenUsageAndDone) {
  Reply r = Post(port(), "/v1/chat/completions",
                 R"({"model":"model-a","stream":true,"stream_options":{"include_usage":true},
                     "messages":[{"role":"user","content":"hello"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_TRUE(r.chunked);
  EXPECT_EQ(r.content_type, "text/event-stream");
  EXPECT_EQ(r.backend, "backend-a");
  std::vector<std::string> events = SseData(r.body);
  // role, 6 tokens, finish, usage, [DONE]
  ASSERT_EQ(events.size(), 10u) << r.body;
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    auto j = Parse(events[i]);
    EXPECT_EQ(j->root["object"].get_string().value(), "chat.completion.chunk");
    if (i == 0) {
      EXPECT_EQ(j->root["choices"].at(0)["delta"]["role"].get_string().value(), "assistant");
    } else if (i <= 6) {
      text += j->root["choices"].at(0)["delta"]["content"].get_string().value();
    } else if (i == 7) {
      EXPECT_EQ(j->root["choices"].at(0)["finish_reason"].get_string().value(), "stop");
    } else {
      EXPECT_EQ(j->root["choices"].get_array().size(), 0u);
      EXPECT_EQ(j->root["usage"]["completion_tokens"].get_int64().value(), 6);
      EXPECT_EQ(j->root["usage"]["prompt_tokens"].get_int64().value(), 2);
    }
  }
  EXPECT_EQ(text, "the quick brown fox jumps over");
}

TEST_F(FakeLlmServerTest, CompletionStreamWithoutUsageEndsWithFinishAndDone) {
  Reply r = Post(port(), "/v1/completions",
                 R"({"model":"model-a","stream":true,"max_tokens":3,"prompt":"hi"})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> events = SseData(r.body);
  ASSERT_EQ(events.size(), 5u) << r.body;  // 3 tokens, finish, [DONE]
  auto finish = Parse(events[3]);
  EXPECT_EQ(finish->root["choices"].at(0)["finish_reason"].get_string().value(), "length");
  EXPECT_EQ(events[4], "[DONE]");
  EXPECT_THAT(r.body, Not(HasSubstr("\"usage\"")));
}

TEST_F(FakeLlmServerTest, UnknownModelIs404ModelNotFound) {
  Reply r = Post(port(), "/v1/chat/completions",
                 R"({"model":"gpt-x","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(r.status, 404);
  auto j = Parse(r.body);
  EXPECT_EQ(j->root["error"]["code"].get_string().value(), "model_not_found");
  EXPECT_EQ(j->root["error"]["message"].get_string().value(), "The model `gpt-x` does not exist.");
}

TEST_F(FakeLlmServerTest, MalformedJsonAndMissingModelAre400) {
  Reply bad = Post(port(), "/v1/chat/completions", R"({"model":"model-a","messages":[)");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("not valid JSON"));
  EXPECT_EQ(Parse(bad.body)->root["error"]["type"].get_string().value(), "invalid_request_error");
  Reply missing = Post(port(), "/v1/chat/completions", R"({"messages":[{"content":"x"}]})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_THAT(missing.body, HasSubstr("model is a required property"));
}

TEST_F(FakeLlmServerTest, UnknownPathIs404AndWrongMethodIs405) {
  EXPECT_EQ(Call(port(), http::verb::get, "/v2/nothing").status, 404);
  EXPECT_EQ(Call(port(), http::verb::get, "/v1/chat/completions").status, 405);
  EXPECT_EQ(Call(port(), http::verb::post, "/metrics").status, 405);
  Reply health = Call(port(), http::verb::get, "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok");
  Reply models = Call(port(), http::verb::get, "/v1/models");
  auto j = Parse(models.body);
  EXPECT_EQ(j->root["data"].at(1)["id"].get_string().value(), "model-b");
  EXPECT_EQ(j->root["data"].at(0)["owned_by"].get_string().value(), "fake-llm");
}

TEST_F(FakeLlmServerTest, MetricsUseVllmNamesAndCountRequests) {
  ASSERT_EQ(Post(port(), "/v1/chat/completions", kChat).status, 200);
  Reply r = Call(port(), http::verb::get, "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.content_type, StartsWith("text/plain; version=0.0.4"));
  EXPECT_EQ(MetricValue(r.body, "vllm:num_requests_running{model_name=\"model-a\"}"), 0);
  EXPECT_EQ(MetricValue(r.body, "vllm:num_requests_waiting{model_name=\"model-a\"}"), 0);
  EXPECT_EQ(MetricValue(r.body, "vllm:kv_cache_usage_perc{model_name=\"model-a\"}"), 0);
  EXPECT_EQ(MetricValue(r.body,
                        "vllm:request_success_total{finished_reason=\"stop\","
                        "model_name=\"model-a\"}"),
            1);
  EXPECT_EQ(MetricValue(r.body, "vllm:generation_tokens_total{model_name=\"model-a\"}"), 6);
  EXPECT_THAT(r.body, HasSubstr("# TYPE vllm:request_success_total counter\n"));
  EXPECT_THAT(r.body, HasSubstr("# TYPE vllm:num_requests_waiting gauge\n"));
}

TEST_F(FakeLlmServerTest, EmbeddingsAreDeterministicUnitVectors) {
  const std::string body = R"({"model":"model-a","input":["alpha","beta","alpha"]})";
  Reply r = Post(port(), "/v1/embeddings", body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = Parse(r.body);
  EXPECT_EQ(j->root["object"].get_string().value(), "list");
  EXPECT_EQ(j->root["model"].get_string().value(), "model-a");
  EXPECT_EQ(j->root["usage"]["prompt_tokens"].get_int64().value(), 5);  // 2 + 1 + 2
  auto data = j->root["data"].get_array().value();
  ASSERT_EQ(data.size(), 3u);
  std::vector<std::vector<double>> vectors;
  for (auto item : data) {
    EXPECT_EQ(item["object"].get_string().value(), "embedding");
    vectors.emplace_back();
    double norm = 0;
    for (auto x : item["embedding"].get_array()) {
      vectors.back().push_back(x.get_double().value());
      norm += vectors.back().back() * vectors.back().back();
    }
    EXPECT_EQ(vectors.back().size(), 8u);
    EXPECT_NEAR(norm, 1.0, 1e-5);
  }
  EXPECT_EQ(vectors[0], vectors[2]);
  EXPECT_NE(vectors[0], vectors[1]);
  EXPECT_EQ(Post(port(), "/v1/embeddings", body).body, r.body);

  Reply b64 = Post(port(), "/v1/embeddings",
                   R"({"model":"model-a","input":"alpha","encoding_format":"base64"})");
  auto jb = Parse(b64.body);
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(
      std::string(jb->root["data"].at(0)["embedding"].get_string().value()), &raw));
  ASSERT_EQ(raw.size(), 8 * sizeof(float));
  float first;
  std::memcpy(&first, raw.data(), sizeof first);
  EXPECT_FLOAT_EQ(first, static_cast<float>(vectors[0][0]));
}

TEST_F(FakeLlmServerTest, InjectedErrorsUseTheConfiguredStatus) {
  FakeLlmOptions o = Defaults();
  o.error_rate = 1;
  o.error_status = 503;
  Serve(o);
  Reply r = Post(port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Parse(r.body)->root["error"]["type"].get_string().value(), "server_error");
  EXPECT_EQ(Call(port(), http::verb::get, "/health").status, 200);  // probes still pass
  EXPECT_THAT(
      Call(port(), http::verb::get, "/metrics").body,
      HasSubstr("fake_llm_injected_faults_total{fault=\"error\",model_name=\"model-a\"} 1"));
}

TEST_F(FakeLlmServerTest, AnApiKeyIsRequiredLikeAHostedProvider) {
  FakeLlmOptions o = Defaults();
  o.api_key = "provider-key";
  Serve(o);
  const auto timeout = std::chrono::seconds(5);
  for (const std::string& authorization : {"", "Bearer other-key", "provider-key"}) {
    Reply denied =
        Call(port(), http::verb::post, "/v1/chat/completions", kChat, timeout, authorization);
    EXPECT_EQ(denied.status, 401) << authorization;
    EXPECT_EQ(Parse(denied.body)->root["error"]["code"].get_string().value(), "invalid_api_key");
  }
  Reply ok =
      Call(port(), http::verb::post, "/v1/chat/completions", kChat, timeout, "Bearer provider-key");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Call(port(), http::verb::get, "/health").status, 200);  // probes need no key
  FakeLlmOptions bad = Defaults();
  bad.api_key = "two words";
  EXPECT_EQ(ValidateFakeLlmOptions(bad).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FakeLlmServerTest, DroppedStreamEndsWithoutDone) {
  FakeLlmOptions o = Defaults();
  o.drop_rate = 1;
  Serve(o);
  Reply r = Post(port(), "/v1/chat/completions",
                 R"({"model":"model-a","stream":true,"messages":[{"content":"x"}]})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.error, http::error::partial_message) << r.error.message();
  EXPECT_THAT(r.body, Not(HasSubstr("[DONE]")));
  EXPECT_EQ(SseData(r.body).size(), 4u) << r.body;  // role + half of 6 tokens

  Reply json = Post(port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(json.status, 0);
  EXPECT_EQ(json.error, http::error::end_of_stream) << json.error.message();
}

TEST_F(FakeLlmServerTest, HungRequestsHoldTheirSlotAndOthersWait) {
  FakeLlmOptions o = Defaults();
  o.hang_rate = 1;
  o.max_concurrency = 1;
  o.threads = 2;  // the slot passes between event loops
  Serve(o);
  // Two clients that never read: the first runs (and hangs), the second waits for its slot.
  asio::io_context ioc;
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> clients;
  const std::string request =
      absl::StrCat("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n",
                   "Content-Length: ", sizeof(kChat) - 1, "\r\n\r\n", kChat);
  for (int i = 0; i < 2; ++i) {
    clients.push_back(std::make_unique<asio::ip::tcp::socket>(ioc));
    clients.back()->connect(
        {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port())});
    asio::write(*clients.back(), asio::buffer(request));
  }
  auto gauges = [&] {
    std::string m = Call(port(), http::verb::get, "/metrics").body;
    return std::make_pair(MetricValue(m, "vllm:num_requests_running{model_name=\"model-a\"}"),
                          MetricValue(m, "vllm:num_requests_waiting{model_name=\"model-a\"}"));
  };
  auto wait_for = [&](std::pair<int, int> want) {
    for (int i = 0; i < 400 && gauges() != want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return gauges();
  };
  EXPECT_EQ(wait_for({1, 1}), std::make_pair(1, 1));
  EXPECT_THAT(Call(port(), http::verb::get, "/metrics").body,
              HasSubstr("vllm:kv_cache_usage_perc{model_name=\"model-a\"} 1\n"));
  // Closing the clients frees the slot, which passes to the waiter, which then sees its client
  // gone too.
  clients.clear();
  EXPECT_EQ(wait_for({0, 0}), std::make_pair(0, 0));

  // A hung request is never answered, and does not hold up Stop().
  Reply r =
      Call(port(), http::verb::post, "/v1/chat/completions", kChat, std::chrono::milliseconds(100));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, beast::error::timeout) << r.error.message();
  auto start = std::chrono::steady_clock::now();
  server_->Stop(std::chrono::seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

}  // namespace
}  // namespace llmrouter
