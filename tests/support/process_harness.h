// Starts the project's real binaries for integration tests: each on loopback with free ports,
// discovered through the --ready_file the binary writes once it listens.
#ifndef LLMROUTER_TESTS_SUPPORT_PROCESS_HARNESS_H_
#define LLMROUTER_TESTS_SUPPORT_PROCESS_HARNESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmrouter::testing {

// A fresh temporary directory, removed by nobody: tests leave their logs for inspection.
std::string MakeTempDir(const std::string& prefix);
// Path of a built binary, relative to the build tree ("services/gateway/gateway").
std::string BuildPath(const std::string& relative);
// Path of a file in the source tree.
std::string SourcePath(const std::string& relative);
// A loopback port with nothing listening (bound to learn a free number, then closed):
// connecting to it is refused.
int ClosedLoopbackPort();

// The first sanitizer report (AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer) in a
// program's output, cut to a few kB; empty when there is none. In a sanitized build (docs/
// reliability.md) a child's report fails the test that started it: RunCommand and
// ServiceProcess check their child's output when it exits.
std::string SanitizerReport(const std::string& output);

// What a command that ran to completion printed, and its exit code (-1 when it did not exit).
struct CommandResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `binary` with `args` in an environment holding only `env`, and waits for it to exit.
CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {});

class ServiceProcess {
 public:
  // Starts `binary` with `args` and --ready_file in `dir`, stdout and stderr to
  // `dir`/<name>.log. Waits until the ready file appears (FailedPrecondition with the log's
  // tail if the process exits first, DeadlineExceeded after 30 s).
  static absl::StatusOr<std::unique_ptr<ServiceProcess>> Start(const std::string& name,
                                                               const std::string& binary,
                                                               std::vector<std::string> args,
                                                               const std::string& dir);
  // Sends SIGTERM and waits up to 10 s, then SIGKILL. Fails the running test when the log holds
  // a sanitizer report.
  ~ServiceProcess();

  // A port from the ready file: "grpc_port", "metrics_port", "http_port".
  int port(const std::string& key) const;
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  std::string ReadLog() const;

  void Signal(int sig);
  // Waits for exit up to `timeout_ms`; returns the exit status (or -1 on timeout, 128+sig when
  // killed by a signal). Fails the running test when the log holds a sanitizer report.
  int Wait(int timeout_ms);

 private:
  ServiceProcess() = default;
  void CheckLogForSanitizerReport();

  std::string name_;
  std::string log_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
  bool log_checked_ = false;
  int exit_status_ = 0;
  std::map<std::string, int> ports_;
};

}  // namespace llmrouter::testing

#endif  // LLMROUTER_TESTS_SUPPORT_PROCESS_HARNESS_H_
