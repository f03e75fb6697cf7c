// The route link end to end in one process: decision's RouteLinkServer with a scripted answer
// function, the gateway's RouteLinkClient on its own event loop, and raw sockets for the
// protocol's failure cases.
#include "common/route_link.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/wait_until.h"
#include "tests/unit/gateway/route_link_test_util.h"

namespace llmrouter {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using ::testing::HasSubstr;
using Result = absl::StatusOr<v1::RouteRequestResponse>;
using namespace std::chrono_literals;
using ::llmrouter::testing::WaitUntil;
using testing::ClientLoop;
using testing::Request;

std::unique_ptr<decision::RouteLinkServer> StartServer(int port = 0) {
  decision::RouteLinkServerOptions options;
  options.port = port;
  return testing::StartLinkServer(options);
}

TEST(RouteLinkFrameTest, AppendedCallsAreARouteStreamRequest) {
  std::string body;
  AppendRouteCall(7, Request("a"), &body);
  v1::RouteRequestRequest big = Request("b");
  big.set_request_id(std::string(300, 'x'));  // a length beyond one varint byte
  AppendRouteCall(1ull << 40, big, &body);
  v1::RouteStreamRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(body));
  ASSERT_EQ(parsed.calls_size(), 2);
  EXPECT_EQ(parsed.calls(0).id(), 7u);
  EXPECT_EQ(parsed.calls(0).request().model(), "a");
  EXPECT_EQ(parsed.calls(1).id(), 1ull << 40);
  EXPECT_EQ(parsed.calls(1).request().request_id().size(), 300u);
}

TEST(RouteLinkFrameTest, FramesAreFoundWholeOrNotAtAll) {
  v1::RouteStreamResponse message;
  message.add_results()->set_id(3);
  std::string wire;
  AppendRouteLinkFrame(message, &wire);
  std::string_view payload;
  std::size_t frame_bytes = 0;
  for (std::size_t cut = 0; cut < wire.size(); ++cut) {
    EXPECT_EQ(
        NextRouteLinkFrame(std::string_view(wire).substr(0, cut), 1024, &payload, &frame_bytes),
        RouteLinkFrameState::kIncomplete)
        << cut;
    // Once the header is there the whole frame's size is known, so a reader can make room.
    EXPECT_EQ(frame_bytes, cut < kRouteLinkFrameHeaderBytes ? 0 : wire.size()) << cut;
  }
  const std::string two = wire + "next";
  ASSERT_EQ(NextRouteLinkFrame(two, 1024, &payload, &frame_bytes), RouteLinkFrameState::kComplete);
  EXPECT_EQ(frame_bytes, wire.size());
  v1::RouteStreamResponse parsed;
  ASSERT_TRUE(parsed.ParseFromArray(payload.data(), static_cast<int>(payload.size())));
  EXPECT_EQ(parsed.results(0).id(), 3u);
  EXPECT_EQ(NextRouteLinkFrame(std::string("\x01\x00\x00\x00", 4), 1024, &payload, &frame_bytes),
            RouteLinkFrameState::kTooLarge);
}

TEST(RouteLinkTest, ConcurrentCallsEachGetTheirOwnAnswer) {
  auto server = StartServer();
  ClientLoop client(absl::StrCat("127.0.0.1:", server->port()));
  ASSERT_TRUE(client.WaitReady());
  std::vector<std::string> models;
  for (int i = 0; i < 500; ++i) models.push_back(absl::StrCat("m", i));
  std::vector<Result> results = client.Route(models);
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << results[i].status();
    EXPECT_EQ(results[i]->decision_id(), absl::StrCat("d-m", i));
  }
}

TEST(RouteLinkTest, DecisionErrorsKeepTheirCodeAndAreNotLinkFailures) {
  auto server = StartServer();
  ClientLoop client(absl::StrCat("dns:///127.0.0.1:", server->port()));
  ASSERT_TRUE(client.WaitReady());
  std::vector<Result> results = client.Route({"missing", "known"});
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(results[0].status().message(), HasSubstr("\"missing\" is not known"));
  EXPECT_FALSE(gateway::IsRouteLinkFailure(results[0].status()));
  ASSERT_TRUE(results[1].ok());
  EXPECT_EQ(results[1]->decision_id(), "d-known");
}

TEST(RouteLinkTest, WithoutAConnectionCallsFailAsLinkFailures) {
  auto probe = StartServer();
  const int port = probe->port();
  probe.reset();  // nothing listens there now
  ClientLoop client(absl::StrCat("127.0.0.1:", port));
  EXPECT_FALSE(client.Ready());
  std::vector<Result> results = client.Route({"a"});
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(gateway::IsRouteLinkFailure(results[0].status()));
  // Decision comes (back) on that port: the link reconnects by itself.
  auto server = StartServer(port);
  ASSERT_TRUE(client.WaitReady());
  std::vector<Result> later = client.Route({"a"});
  ASSERT_TRUE(later[0].ok()) << later[0].status();
}

// Accepts connections and reads them, but never answers.
class SilentServer {
 public:
  SilentServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~SilentServer() {
    asio::post(io_, [this] {
      acceptor_.close();
      for (auto& s : sockets_) s->close();
    });
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  // Whether bytes beyond the preamble arrived: a call has reached the server.
  bool GotACall() const { return received_.load() > kRouteLinkPreamble.size(); }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      sockets_.push_back(std::make_shared<tcp::socket>(std::move(socket)));
      Drain(sockets_.back());
      Accept();
    });
  }
  void Drain(std::shared_ptr<tcp::socket> socket) {
    socket->async_read_some(asio::buffer(buffer_),
                            [this, socket](boost::system::error_code ec, std::size_t n) {
                              received_.fetch_add(n);
                              if (!ec) Drain(socket);
                            });
  }
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  char buffer_[4096];
  std::atomic<std::size_t> received_{0};
  std::thread thread_;
};

TEST(RouteLinkTest, AnUnansweredCallExpiresAtItsDeadlineAndTheStalledLinkIsReplaced) {
  SilentServer silent;
  ClientLoop client(absl::StrCat("127.0.0.1:", silent.port()));
  ASSERT_TRUE(client.WaitReady());
  const auto start = std::chrono::steady_clock::now();
  std::vector<Result> results = client.Route({"a", "b"}, 100ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  for (const Result& r : results) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_FALSE(gateway::IsRouteLinkFailure(r.status()));
  }
  // Nothing was answered on that connection: it is broken off and a new one is opened.
  EXPECT_TRUE(client.WaitReady());
}

TEST(RouteLinkTest, AStalledConnectionHandsItsOtherCallsToGrpcBeforeTheirDeadlines) {
  SilentServer silent;
  ClientLoop client(absl::StrCat("127.0.0.1:", silent.port()));
  ASSERT_TRUE(client.WaitReady());
  auto late = std::async(std::launch::async, [&] { return client.Route({"late"}, 20s); });
  ASSERT_TRUE(WaitUntil([&] { return silent.GotACall(); }));
  const auto start = std::chrono::steady_clock::now();
  std::vector<Result> early = client.Route({"early"}, 100ms);
  EXPECT_EQ(early[0].status().code(), absl::StatusCode::kDeadlineExceeded);
  std::vector<Result> rest = late.get();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(rest[0].status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(gateway::IsRouteLinkFailure(rest[0].status()));
  EXPECT_THAT(rest[0].status().message(), HasSubstr("stalled"));
}

TEST(RouteLinkTest, ACallInFlightWhenDecisionStopsFailsAsALinkFailure) {
  SilentServer* silent = new SilentServer;
  ClientLoop client(absl::StrCat("127.0.0.1:", silent->port()));
  ASSERT_TRUE(client.WaitReady());
  std::thread stopper([&] {
    WaitUntil([&] { return silent->GotACall(); });
    delete silent;  // closes the connection with the call unanswered
  });
  std::vector<Result> results = client.Route({"a"}, 10s);
  stopper.join();
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(gateway::IsRouteLinkFailure(results[0].status()));
  EXPECT_THAT(results[0].status().message(), HasSubstr("broke"));
  EXPECT_TRUE(client.WaitReady(false));
}

// Sends `bytes` on a fresh connection and returns whether the server closed it.
bool ServerClosesAfter(int port, const std::string& bytes) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(socket, asio::buffer(bytes));
  char c;
  boost::system::error_code ec;
  asio::read(socket, asio::buffer(&c, 1), ec);
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

TEST(RouteLinkServerTest, ProtocolViolationsCloseThatConnectionOnly) {
  auto server = StartServer();
  ClientLoop client(absl::StrCat("127.0.0.1:", server->port()));
  ASSERT_TRUE(client.WaitReady());
  EXPECT_TRUE(ServerClosesAfter(server->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(
      ServerClosesAfter(server->port(), std::string(kRouteLinkPreamble) + "\x7f\xff\xff\xff"));
  EXPECT_TRUE(ServerClosesAfter(server->port(), std::string(kRouteLinkPreamble) +
                                                    std::string("\0\0\0\3", 4) +
                                                    "\xff\xff\xff"));  // not a RouteStreamRequest
  std::vector<Result> results = client.Route({"still"});
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[0]->decision_id(), "d-still");
}

TEST(RouteLinkServerTest, StopSaysGoingAwayAndTheGatewayClosesOnceAnswered) {
  auto server = StartServer();
  ClientLoop client(absl::StrCat("127.0.0.1:", server->port()));
  ASSERT_TRUE(client.WaitReady());
  ASSERT_TRUE(client.Route({"a"})[0].ok());
  // The server waits for its gateways to close; a client that ignored "going away" would keep
  // Stop() waiting for the whole grace period.
  const auto start = std::chrono::steady_clock::now();
  server->Stop(10s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(client.WaitReady(false));
}

// Issue 11 finding 3: a gateway whose decision went away gracefully kept refusing the link
// after it reconnected to the restarted decision, while its gauge said the link was up.
TEST(RouteLinkServerTest, AfterGoingAwayTheGatewayCarriesCallsOnTheRestartedDecision) {
  prometheus::Registry registry;
  prometheus::Gauge& up =
      prometheus::BuildGauge().Name("route_link_connections").Register(registry).Add({});
  auto server = StartServer();
  const int port = server->port();
  ClientLoop client(absl::StrCat("127.0.0.1:", port), 5s, &up);
  ASSERT_TRUE(client.WaitReady());
  ASSERT_TRUE(client.Route({"a"})[0].ok());
  server->Stop(10s);
  ASSERT_TRUE(client.WaitReady(false));
  EXPECT_EQ(up.Value(), 0);

  server = StartServer(port);
  ASSERT_TRUE(client.WaitReady());
  std::vector<Result> results = client.Route({"b"});
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[0]->decision_id(), "d-b");
  EXPECT_EQ(up.Value(), 1);
}

}  // namespace
}  // namespace llmrouter
