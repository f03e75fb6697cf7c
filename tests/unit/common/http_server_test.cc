#include "common/http_server.h"

// clang-format off
#include <utility>  // Boost 1.74's coroutine headers need it first with g++ 12.
// clang-format on

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>

#include "tests/support/http_test_client.h"

namespace llmrouter {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;
using ::testing::Not;
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
  void SetUp() override { Restart(Options()); }

  HttpServerOptions Options() {
    HttpServerOptions o;
    o.host = "127.0.0.1";
    o.max_body_bytes = 1024;
    o.max_header_bytes = 2048;
    o.threads = 2;
    o.on_client_timeout = [this](ClientTimeout t) { ++timeouts_[static_cast<int>(t)]; };
    return o;
  }
  void Restart(HttpServerOptions o) {
    if (server_) server_->Stop(std::chrono::milliseconds(0));
    server_ = std::make_unique<HttpServer>(std::move(o), Echo);
    ASSERT_TRUE(server_->Start().ok());
  }
  int timeouts(ClientTimeout t) const { return timeouts_[static_cast<int>(t)].load(); }

  std::array<std::atomic<int>, 3> timeouts_{};
  std::unique_ptr<HttpServer> server_;
};

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

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

TEST_F(HttpServerTest, BusyPollingWorkersServeTimeTimersAndStop) {
  HttpServerOptions o = Options();
  o.busy_poll = std::chrono::microseconds(200);
  Restart(o);
  for (int i = 0; i < 20; ++i) {
    auto r = testing::HttpCall(server_->port(), "POST", "/x", "p");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "echo:p");
  }
  // A handler that waits on a timer past the polling window still completes (the worker
  // sleeps and wakes for it).
  auto slow = testing::HttpCall(server_->port(), "POST", "/slow", "s");
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.body, "echo:s");
  // And a stop ends the polling loop.
  server_->Stop(std::chrono::milliseconds(100));
  EXPECT_EQ(testing::HttpCall(server_->port(), "GET", "/x").status, 0);
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

TEST_F(HttpServerTest, ARequestStillInFlightAfterTheGraceIsClosedWhenStopReturns) {
  testing::HttpTestConnection slow(server_->port());
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.Send("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz"));
  while (server_->requests_in_flight() == 0) std::this_thread::sleep_for(milliseconds(5));
  server_->Stop(milliseconds(0));  // the 300 ms handler is cut
  // The client learns at once, while the server object still exists.
  EXPECT_TRUE(slow.WaitForClose(std::chrono::seconds(10)));
  EXPECT_EQ(server_->requests_in_flight(), 0);
}

TEST_F(HttpServerTest, HeaderTrickledByteByByteIsCutAtTheHeaderTimeout) {
  HttpServerOptions o = Options();
  o.header_timeout = milliseconds(300);
  o.max_header_bytes = 8192;
  Restart(o);
  // Sending it all would take over a minute; every byte comes well within any gap limit.
  const std::string header = "POST /x HTTP/1.1\r\nHost: x\r\nx-pad: " + std::string(6000, 'p') +
                             "\r\nContent-Length: 1\r\n\r\n";
  auto begin = Clock::now();
  testing::HttpTestConnection slowloris(server_->port());
  ASSERT_TRUE(slowloris.connected());
  EXPECT_LT(slowloris.Trickle(header, milliseconds(10)), header.size());
  testing::HttpResult r = slowloris.ReadResponse();
  EXPECT_GE(Clock::now() - begin, o.header_timeout);
  EXPECT_EQ(r.status, 408) << r.error;
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_THAT(r.body, HasSubstr("\"code\":\"request_timeout\""));
  EXPECT_THAT(r.body, HasSubstr("request header not complete within 300 ms"));
  EXPECT_TRUE(slowloris.WaitForClose(std::chrono::seconds(20)));
  EXPECT_EQ(timeouts(ClientTimeout::kHeader), 1);

  // A connection that never sends a byte gets the same time, and no answer.
  testing::HttpTestConnection silent(server_->port());
  std::string received;
  EXPECT_TRUE(silent.WaitForClose(std::chrono::seconds(20), &received));
  EXPECT_EQ(received, "");
  EXPECT_EQ(timeouts(ClientTimeout::kHeader), 2);
  // The server keeps serving.
  EXPECT_EQ(testing::HttpCall(server_->port(), "POST", "/x", "ok").body, "echo:ok");
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedQuietlyAfterTheIdleTimeoutOnly) {
  HttpServerOptions o = Options();
  o.idle_timeout = milliseconds(2000);
  Restart(o);
  testing::HttpTestConnection client(server_->port());
  ASSERT_TRUE(client.connected());
  const std::string request = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA";
  // Each request comes well within the idle timeout, all of them together after it: the idle
  // time counts from the last response.
  // The idle time starts when the server has written the last response: after the client sent
  // the last request, and before the client has read the response (measuring from there lost
  // the response's delivery time, and a close 1999.7 ms later failed the test once).
  Clock::time_point last_request;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) std::this_thread::sleep_for(milliseconds(800));
    last_request = Clock::now();
    ASSERT_TRUE(client.Send(request)) << "request " << i;
    testing::HttpResult r = client.ReadResponse();
    ASSERT_EQ(r.status, 200) << "request " << i << ": " << r.error;
    EXPECT_EQ(r.body, "echo:A");
  }
  std::string received;
  EXPECT_TRUE(client.WaitForClose(std::chrono::seconds(30), &received));
  EXPECT_GE(Clock::now() - last_request, o.idle_timeout);
  EXPECT_EQ(received, "");  // closed without a word
  EXPECT_EQ(timeouts(ClientTimeout::kIdle), 1);
  EXPECT_EQ(timeouts(ClientTimeout::kHeader) + timeouts(ClientTimeout::kRead), 0);
}

TEST_F(HttpServerTest, SlowBodyGets408AndNeverReachesTheHandler) {
  HttpServerOptions o = Options();
  o.read_timeout = milliseconds(500);
  Restart(o);
  testing::HttpTestConnection client(server_->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\n\r\n"));
  const std::string body(600, 'b');  // a minute at the pace below
  EXPECT_LT(client.Trickle(body, milliseconds(100)), body.size());
  testing::HttpResult r = client.ReadResponse();
  EXPECT_EQ(r.status, 408) << r.error;
  EXPECT_THAT(r.body, HasSubstr("request not complete within 500 ms"));
  EXPECT_THAT(r.body, Not(HasSubstr("echo:")));
  EXPECT_TRUE(client.WaitForClose(std::chrono::seconds(20)));
  EXPECT_EQ(timeouts(ClientTimeout::kRead), 1);
}

TEST_F(HttpServerTest, BeginStoppingKeepsAcceptingButClosesEveryConnection) {
  server_->BeginStopping();
  EXPECT_TRUE(server_->stopping());
  testing::HttpTestConnection client(server_->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA"));
  testing::HttpResult r = client.ReadResponse();
  EXPECT_EQ(r.body, "echo:A");
  EXPECT_TRUE(client.WaitForClose(std::chrono::seconds(20)));
  server_->Stop(std::chrono::seconds(1));
  EXPECT_FALSE(testing::HttpTestConnection(server_->port()).connected());
}

}  // namespace
}  // namespace llmrouter
