#include "common/http_server.h"

// clang-format off
#include <utility>  // Boost 1.74's coroutine headers need it first with g++ 12.
// clang-format on

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>

#include "tests/support/http_test_client.h"

namespace llmrouter {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Echoes the body; "/slow" answers after 300 ms.
boost::asio::awaitable<bool> Echo(boost::beast::tcp_stream& stream, HttpRequest& req) {
  if (req.target() == "/slow") {
    asio::steady_timer t(stream.get_executor(), std::chrono::milliseconds(300));
    co_await t.async_wait(asio::use_awaitable);
  }
  bool ok = co_await WriteHttpResponse(stream, req.version(), req.keep_alive(), 200, "text/plain",
                                       "echo:" + req.body());
  co_return ok;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions o;
    o.host = "127.0.0.1";
    o.max_body_bytes = 1024;
    o.max_header_bytes = 2048;
    o.threads = 2;
    server_ = std::make_unique<HttpServer>(o, Echo);
    ASSERT_TRUE(server_->Start().ok());
  }
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesAndKeepsConnectionsAlive) {
  auto r = testing::HttpCall(server_->port(), "POST", "/x", "hello");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "echo:hello");
  // Two requests on one connection.
  std::string raw = testing::RawExchange(
      server_->port(),
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA"
      "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nB");
  EXPECT_THAT(raw, HasSubstr("echo:A"));
  EXPECT_THAT(raw, HasSubstr("echo:B"));
}

TEST_F(HttpServerTest, OversizedBodyGets413InOpenAiShape) {
  auto r = testing::HttpCall(server_->port(), "POST", "/x", std::string(5000, 'a'));
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("\"type\":\"invalid_request_error\""));
  EXPECT_THAT(r.body, HasSubstr("exceeds the limit of 1024 bytes"));
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitGets413) {
  std::string chunk(2000, 'b');
  std::string raw = testing::RawExchange(
      server_->port(), "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" +
                           chunk + "\r\n0\r\n\r\n");
  EXPECT_THAT(raw, StartsWith("HTTP/1.1 413"));
}

TEST_F(HttpServerTest, OversizedHeadersGet431) {
  auto r = testing::HttpCall(server_->port(), "GET", "/x", "", {{"x-big", std::string(4000, 'h')}});
  EXPECT_EQ(r.status, 431);
}

TEST_F(HttpServerTest, MalformedRequestGets400AndServerSurvives) {
  std::string raw = testing::RawExchange(server_->port(), "GARBAGE\r\n\r\n");
  EXPECT_THAT(raw, StartsWith("HTTP/1.1 400"));
  EXPECT_EQ(testing::HttpCall(server_->port(), "POST", "/x", "ok").status, 200);
}

TEST_F(HttpServerTest, AnswersExpectContinue) {
  std::string raw = testing::RawExchange(
      server_->port(),
      "POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
      "Connection: close\r\n\r\nhi");
  EXPECT_THAT(raw, StartsWith("HTTP/1.1 100 Continue"));
  EXPECT_THAT(raw, HasSubstr("echo:hi"));
}

TEST_F(HttpServerTest, StopLetsRequestsInFlightFinish) {
  auto pending = std::async(
      std::launch::async, [&] { return testing::HttpCall(server_->port(), "POST", "/slow", "z"); });
  while (server_->requests_in_flight() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server_->Stop(std::chrono::seconds(5));
  auto r = pending.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "echo:z");
  // Stopped: new connections are refused.
  EXPECT_EQ(testing::HttpCall(server_->port(), "GET", "/x").status, 0);
}

}  // namespace
}  // namespace llmrouter
