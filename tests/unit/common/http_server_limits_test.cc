// HttpServer under a flood of connections: the connection cap, and accept errors (out of file
// descriptors) that back off instead of spinning (issue 11, finding 7).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

// clang-format off
#include <utility>  // Boost 1.74's coroutine headers need it first with g++ 12.
// clang-format on

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/accept_backoff.h"
#include "common/http_server.h"
#include "tests/support/http_test_client.h"

namespace llmrouter {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;

boost::asio::awaitable<bool> Hello(boost::beast::tcp_stream& stream, HttpRequest& req) {
  co_return co_await WriteHttpResponse(stream, req.version(), req.keep_alive(), 200, "text/plain",
                                       "hello");
}

// Polls `done` until it holds; the generous limit only bounds a failing run.
bool Eventually(const std::function<bool()>& done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < give_up) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return false;
}

TEST(AcceptBackoffTest, DoublesFromOneMillisecondToOneSecondAndResetsOnSuccess) {
  AcceptBackoff backoff;
  std::vector<int64_t> waits;
  for (int i = 0; i < 13; ++i) waits.push_back(backoff.Failed().count());
  EXPECT_THAT(waits, ElementsAre(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1000, 1000));
  backoff.Succeeded();
  EXPECT_EQ(backoff.Failed().count(), 1);
}

TEST(HttpServerLimitsTest, AConnectionOverTheCapIsClosedAtOnceAndCounted) {
  std::atomic<int> opened{0}, closed{0}, rejected{0};
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.threads = 2;
  options.max_connections = 2;
  options.on_connection = [&](ConnectionEvent e) {
    (e == ConnectionEvent::kOpened ? opened : e == ConnectionEvent::kClosed ? closed : rejected)++;
  };
  HttpServer server(options, Hello);
  ASSERT_TRUE(server.Start().ok());

  testing::HttpTestConnection first(server.port()), second(server.port());
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(first.Send(request));
  ASSERT_EQ(first.ReadResponse().status, 200);
  ASSERT_TRUE(second.Send(request));
  ASSERT_EQ(second.ReadResponse().status, 200);
  EXPECT_EQ(server.connections(), 2);

  // The third is accepted and closed without a byte of answer.
  testing::HttpTestConnection third(server.port());
  std::string received;
  EXPECT_TRUE(third.WaitForClose(std::chrono::seconds(30), &received));
  EXPECT_EQ(received, "");
  EXPECT_EQ(rejected.load(), 1);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(opened.load(), 2);

  // Once one closes, there is room again.
  ASSERT_TRUE(first.Send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  ASSERT_EQ(first.ReadResponse().status, 200);
  ASSERT_TRUE(Eventually([&] { return server.connections() == 1; }));
  EXPECT_EQ(closed.load(), 1);
  testing::HttpTestConnection fourth(server.port());
  ASSERT_TRUE(fourth.Send(request));
  EXPECT_EQ(fourth.ReadResponse().status, 200);
  EXPECT_EQ(rejected.load(), 1);
  server.Stop(milliseconds(0));
}

// Takes every free file descriptor of the process (under a lowered soft limit) until released.
class DescriptorExhaustion {
 public:
  DescriptorExhaustion() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit low = saved_;
    low.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, 512);
    setrlimit(RLIMIT_NOFILE, &low);
    for (;;) {
      int fd = dup(STDERR_FILENO);
      if (fd < 0) break;
      held_.push_back(fd);
    }
    exhausted_ = errno == EMFILE;
  }
  ~DescriptorExhaustion() {
    Release();
    setrlimit(RLIMIT_NOFILE, &saved_);
  }
  bool exhausted() const { return exhausted_; }
  // Frees one descriptor for the caller's next socket.
  void FreeOne() {
    close(held_.back());
    held_.pop_back();
  }
  void Release() {
    for (int fd : held_) close(fd);
    held_.clear();
  }

 private:
  rlimit saved_{};
  std::vector<int> held_;
  bool exhausted_ = false;
};

// A blocking loopback connection made with plain syscalls (no descriptors beyond the socket).
int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(HttpServerLimitsTest, AcceptErrorsBackOffInsteadOfSpinning) {
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  // The checked build (ASan + UBSan) cannot run out of descriptors: UBSan's vptr check probes
  // memory through a pipe and reports a false "invalid vptr" when it cannot make one. The
  // release build runs this test.
  GTEST_SKIP() << "exhausting file descriptors breaks UBSan's vptr check";
#endif
#endif
  std::mutex mu;
  std::vector<int64_t> waits;  // guarded by mu
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.on_accept_error = [&](const boost::system::error_code& ec, milliseconds wait) {
    EXPECT_EQ(ec.value(), EMFILE) << ec.message();
    std::lock_guard<std::mutex> lock(mu);
    waits.push_back(wait.count());
  };
  HttpServer server(options, Hello);
  ASSERT_TRUE(server.Start().ok());
  auto failures = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return waits.size();
  };

  int client = -1, later = -1;
  {
    DescriptorExhaustion exhaustion;
    ASSERT_TRUE(exhaustion.exhausted());
    exhaustion.FreeOne();
    client = ConnectTo(server.port());  // queued in the backlog; the server has no fd to take it
    ASSERT_GE(client, 0);
    ASSERT_TRUE(Eventually([&] { return failures() >= 5; }));
    {
      std::lock_guard<std::mutex> lock(mu);
      // Each failure waits twice as long as the one before: no spinning, however long it lasts.
      EXPECT_THAT(std::vector<int64_t>(waits.begin(), waits.begin() + 5),
                  ElementsAre(1, 2, 4, 8, 16));
    }
  }  // descriptors come back: the queued connection is accepted and served
  ASSERT_TRUE(Eventually([&] { return server.connections() == 1; }));
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(write(client, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  char answer[256] = {};
  ASSERT_GT(read(client, answer, sizeof answer - 1), 0);
  EXPECT_THAT(std::string(answer), ::testing::StartsWith("HTTP/1.1 200"));
  close(client);

  // A success starts the back-off again from 1 ms.
  const std::size_t before = failures();
  {
    DescriptorExhaustion exhaustion;
    ASSERT_TRUE(exhaustion.exhausted());
    exhaustion.FreeOne();
    later = ConnectTo(server.port());
    ASSERT_GE(later, 0);
    ASSERT_TRUE(Eventually([&] { return failures() > before; }));
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(waits[before], 1);
  }
  close(later);
  server.Stop(milliseconds(0));
}

}  // namespace
}  // namespace llmrouter
