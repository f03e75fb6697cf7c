// Decision's route link holds each connection to its limits (issue 11 finding 2): the largest
// frame, answers waiting unread, the preamble deadline and the connection cap. Raw sockets play
// the misbehaving clients; the server's buffered-bytes count shows its memory.
#include <poll.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <thread>

#include "common/route_link.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/decision/route_link_server.h"
#include "tests/unit/gateway/route_link_test_util.h"

namespace llmrouter {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using testing::Request;
using testing::StartLinkServer;
using testing::WaitFor;
using namespace std::chrono_literals;

// A frame of `n` calls with ids from `first`.
std::string CallsFrame(std::uint64_t first, int n) {
  std::string body;
  for (int i = 0; i < n; ++i) AppendRouteCall(first + i, Request("m"), &body);
  std::string frame;
  AppendRouteLinkFrameHeader(body.size(), &frame);
  return frame + body;
}

std::string Header(std::size_t payload_bytes) {
  std::string header;
  AppendRouteLinkFrameHeader(payload_bytes, &header);
  return header;
}

// A blocking client socket that speaks whatever the test writes.
class RawClient {
 public:
  // `receive_buffer`: SO_RCVBUF set before connecting (0: the system's).
  explicit RawClient(int port, int receive_buffer = 0) : socket_(io_) {
    socket_.open(tcp::v4());
    if (receive_buffer > 0) {
      socket_.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    }
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  void Send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  // Up to `n` bytes, waiting at most 10 s for the first; empty when the server closed (or
  // nothing came).
  std::string Receive(std::size_t n) {
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return "";
    std::string out(n, '\0');
    const ssize_t got = ::recv(socket_.native_handle(), out.data(), n, 0);
    out.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    return out;
  }

  // Whether the server closes the connection (within 10 s), discarding what it sends before.
  bool ServerCloses() {
    for (;;) {
      pollfd p{socket_.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, 10000) != 1) return false;
      char buffer[4096];
      const ssize_t got = ::recv(socket_.native_handle(), buffer, sizeof buffer, 0);
      if (got <= 0) return true;
    }
  }

  // Reads answer frames until `results` results have come; false when the connection ended.
  bool ReadResults(int results) {
    std::string in;
    int seen = 0;
    while (seen < results) {
      std::string_view payload;
      std::size_t frame_bytes = 0;
      if (NextRouteLinkFrame(in, kRouteLinkMaxAnswerFrameBytes, &payload, &frame_bytes) ==
          RouteLinkFrameState::kComplete) {
        v1::RouteStreamResponse answers;
        if (!answers.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
          return false;
        }
        seen += answers.results_size();
        in.erase(0, frame_bytes);
        continue;
      }
      std::string more = Receive(64 << 10);
      if (more.empty()) return false;
      in += more;
    }
    return true;
  }

  void Close() {
    boost::system::error_code ec;
    socket_.close(ec);
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

class RouteLinkLimitsTest : public ::testing::Test {
 protected:
  double Rejected(const std::string& reason) { return rejected_.Add({{"reason", reason}}).Value(); }
  decision::RouteLinkServerMetrics Metrics() { return {nullptr, &rejected_, &read_pauses_}; }

  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& rejected_ =
      prometheus::BuildCounter().Name("rejected_total").Register(registry_);
  prometheus::Counter& read_pauses_ =
      prometheus::BuildCounter().Name("read_pauses_total").Register(registry_).Add({});
};

TEST_F(RouteLinkLimitsTest, AFrameOverTheCapClosesItsConnection) {
  auto server = StartLinkServer({}, Metrics());
  RawClient client(server->port());
  client.Send(std::string(kRouteLinkPreamble) + Header(kRouteLinkMaxFrameBytes + 1));
  EXPECT_TRUE(client.ServerCloses());
  EXPECT_EQ(Rejected("frame_too_large"), 1);
}

TEST_F(RouteLinkLimitsTest, AFrameAtTheCapIsAnsweredOnItsConnection) {
  auto server = StartLinkServer({}, Metrics());
  RawClient client(server->port());
  // One call padded to exactly the largest frame; its varints grow with the padding.
  v1::RouteRequestRequest request = Request("m");
  std::string body;
  std::size_t padding = kRouteLinkMaxFrameBytes - 64;
  for (int i = 0; i < 4 && body.size() != kRouteLinkMaxFrameBytes; ++i) {
    if (i > 0) padding = padding + kRouteLinkMaxFrameBytes - body.size();
    request.set_request_id(std::string(padding, 'x'));
    body.clear();
    AppendRouteCall(1, request, &body);
  }
  ASSERT_EQ(body.size(), kRouteLinkMaxFrameBytes);
  client.Send(std::string(kRouteLinkPreamble) + Header(body.size()) + body);
  EXPECT_TRUE(client.ReadResults(1));
}

// A header is only a claim: the server's buffer grows with the bytes that arrive, so a header
// announcing a whole frame followed by a few kilobytes costs a few kilobytes.
TEST_F(RouteLinkLimitsTest, AnAnnouncedFrameIsNotReservedBeforeItsBytesArrive) {
  auto server = StartLinkServer({}, Metrics());
  const std::size_t idle = server->buffered_bytes();
  RawClient client(server->port());
  client.Send(std::string(kRouteLinkPreamble) + Header(kRouteLinkMaxFrameBytes) +
              std::string(12 << 10, '\0'));
  // The first read buffer (16 KiB) fills past its half, so the buffer grows once the bytes
  // are in.
  ASSERT_TRUE(WaitFor([&] { return server->buffered_bytes() > idle + (20 << 10); }));
  EXPECT_LT(server->peak_buffered_bytes(), idle + (128 << 10));
  EXPECT_EQ(server->connections(), 1);
}

// A gateway (or anyone) that sends calls and never reads the answers: the server stops reading
// once the unwritten answers pass the budget, so its memory stays bounded while the client's
// calls wait in the kernel; once the client reads, everything is answered.
TEST_F(RouteLinkLimitsTest, AClientThatNeverReadsStopsBeingReadFrom) {
  decision::RouteLinkServerOptions options;
  options.max_unwritten_bytes = 64 << 10;
  // Answers of 2 KiB to calls of about 20 bytes: 40 MB of answers for the calls below.
  auto server =
      StartLinkServer(options, Metrics(), [](const v1::RouteCall& call, v1::RouteResult* result) {
        result->set_id(call.id());
        result->mutable_response()->set_decision_id(std::string(2048, 'd'));
      });
  constexpr int kFrames = 2000;
  constexpr int kCallsPerFrame = 10;
  RawClient client(server->port(), /*receive_buffer=*/16 << 10);
  std::thread writer([&] {
    client.Send(std::string(kRouteLinkPreamble));
    for (int i = 0; i < kFrames; ++i) client.Send(CallsFrame(i * kCallsPerFrame, kCallsPerFrame));
  });
  EXPECT_TRUE(WaitFor([&] { return read_pauses_.Value() >= 1; }));
  const std::size_t bound = 1 << 20;  // the budget, one frame's answers, buffers' doubling
  EXPECT_LT(server->peak_buffered_bytes(), bound);

  EXPECT_TRUE(client.ReadResults(kFrames * kCallsPerFrame));
  writer.join();
  EXPECT_LT(server->peak_buffered_bytes(), bound);
}

TEST_F(RouteLinkLimitsTest, AConnectionWithoutAPreambleIsClosedAtTheDeadline) {
  decision::RouteLinkServerOptions options;
  options.preamble_timeout = 500ms;
  auto server = StartLinkServer(options, Metrics());
  RawClient prompt(server->port());
  prompt.Send(std::string(kRouteLinkPreamble));
  RawClient silent(server->port());
  RawClient partial(server->port());
  partial.Send(std::string(kRouteLinkPreamble.substr(0, 3)));
  EXPECT_TRUE(silent.ServerCloses());
  EXPECT_TRUE(partial.ServerCloses());
  EXPECT_EQ(Rejected("preamble_timeout"), 2);
  // The client that sent its preamble in time is still served past the deadline.
  prompt.Send(CallsFrame(1, 1));
  EXPECT_TRUE(prompt.ReadResults(1));
  EXPECT_EQ(Rejected("preamble_timeout"), 2);
}

TEST_F(RouteLinkLimitsTest, ConnectionsOverTheCapAreClosedAtOnceAndCounted) {
  decision::RouteLinkServerOptions options;
  options.max_connections = 2;
  auto server = StartLinkServer(options, Metrics());
  auto first = std::make_unique<RawClient>(server->port());
  RawClient second(server->port());
  ASSERT_TRUE(WaitFor([&] { return server->connections() == 2; }));
  RawClient third(server->port());
  EXPECT_TRUE(third.ServerCloses());
  EXPECT_EQ(Rejected("connection_cap"), 1);
  // The two within the cap are served.
  second.Send(std::string(kRouteLinkPreamble) + CallsFrame(1, 1));
  EXPECT_TRUE(second.ReadResults(1));
  // A place that frees up is taken again.
  first.reset();
  ASSERT_TRUE(WaitFor([&] { return server->connections() == 1; }));
  RawClient fourth(server->port());
  fourth.Send(std::string(kRouteLinkPreamble) + CallsFrame(2, 1));
  EXPECT_TRUE(fourth.ReadResults(1));
}

}  // namespace
}  // namespace llmrouter
