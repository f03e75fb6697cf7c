#include "tests/support/redis_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "tests/support/process_harness.h"
#include "tests/support/wait_until.h"

extern char** environ;

namespace llmrouter::testing {

namespace {

// Whether a PING on 127.0.0.1:port gets +PONG (or -NOAUTH: up, wanting a password).
bool Answers(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool up = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char ping[] = "PING\r\n";
    if (send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) == sizeof ping - 1) {
      char reply[64] = {};
      ssize_t n = recv(fd, reply, sizeof reply - 1, 0);
      up =
          n > 0 && (std::strncmp(reply, "+PONG", 5) == 0 || std::strncmp(reply, "-NOAUTH", 7) == 0);
    }
  }
  close(fd);
  return up;
}

}  // namespace

RedisServer::RedisServer(const std::string& dir, std::vector<std::string> extra)
    : dir_(dir), extra_(std::move(extra)), port_(ClosedLoopbackPort()) {
  Start();
}

RedisServer::~RedisServer() {
  Thaw();
  Kill();
}

std::string RedisServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

void RedisServer::Start() {
  std::vector<std::string> args = {"redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_,
                                   "--logfile",
                                   absl::StrCat(dir_, "/redis-", ++starts_, ".log")};
  args.insert(args.end(), extra_.begin(), extra_.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "redis-server", nullptr, nullptr, argv.data(), environ);
  ASSERT_EQ(rc, 0) << "cannot start redis-server: " << std::strerror(rc)
                   << " (scripts/bootstrap.sh installs it)";
  pid_ = pid;
  ASSERT_TRUE(WaitUntil([&] { return Answers(port_); })) << "redis-server never answered";
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::Restart() {
  Kill();
  Start();
}

void RedisServer::Freeze() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void RedisServer::Thaw() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

}  // namespace llmrouter::testing
