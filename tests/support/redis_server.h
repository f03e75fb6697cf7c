// A real redis-server for tests, on a free loopback port, without persistence, started and
// stopped (or frozen with SIGSTOP) by the test.
#ifndef LLMROUTER_TESTS_SUPPORT_REDIS_SERVER_H_
#define LLMROUTER_TESTS_SUPPORT_REDIS_SERVER_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace llmrouter::testing {

class RedisServer {
 public:
  // Starts redis-server (its log in `dir`) and waits until it answers; `extra` are more
  // arguments, e.g. {"--requirepass", "secret"}. A server that does not come up fails the test.
  explicit RedisServer(const std::string& dir, std::vector<std::string> extra = {});
  ~RedisServer();

  int port() const { return port_; }
  std::string address() const;
  bool running() const { return pid_ > 0; }

  // Stops it (SIGKILL, so nothing is saved), then starts it again on the same port.
  void Kill();
  void Restart();
  // SIGSTOP / SIGCONT: a hung Redis that still holds its connections.
  void Freeze();
  void Thaw();

 private:
  void Start();

  std::string dir_;
  std::vector<std::string> extra_;
  int port_ = 0;
  pid_t pid_ = -1;
  int starts_ = 0;
};

}  // namespace llmrouter::testing

#endif  // LLMROUTER_TESTS_SUPPORT_REDIS_SERVER_H_
