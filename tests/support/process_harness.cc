#include "tests/support/process_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace llmrouter::testing {

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base ? base : "/tmp", "/", prefix, "-XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* dir = mkdtemp(buf.data());
  return dir ? std::string(dir) : std::string();
}

std::string BuildPath(const std::string& relative) {
  return absl::StrCat(LLMROUTER_BINARY_DIR, "/", relative);
}

std::string SourcePath(const std::string& relative) {
  return absl::StrCat(LLMROUTER_SOURCE_DIR, "/", relative);
}

int ClosedLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

static std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

static std::string ShellQuote(const std::string& s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

std::string SanitizerReport(const std::string& output) {
  static const std::regex kStart(
      "(ERROR|SUMMARY): (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|"
      "runtime error: ");
  std::smatch m;
  if (!std::regex_search(output, m, kStart)) return "";
  size_t from = output.rfind('\n', m.position(0));
  from = from == std::string::npos ? 0 : from + 1;
  return output.substr(from, 6000);
}

CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env) {
  CommandResult result;
  std::string err_path = MakeTempDir("llmrouter-command") + "/stderr";
  std::string cmd = "env -i";
  for (const auto& [k, v] : env) absl::StrAppend(&cmd, " ", k, "=", ShellQuote(v));
  absl::StrAppend(&cmd, " ", ShellQuote(binary));
  for (const std::string& a : args) absl::StrAppend(&cmd, " ", ShellQuote(a));
  absl::StrAppend(&cmd, " 2>", ShellQuote(err_path), " </dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return result;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) result.out.append(buf, n);
  int status = pclose(p);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = Slurp(err_path);
  if (std::string report = SanitizerReport(result.err); !report.empty()) {
    ADD_FAILURE() << binary << " printed a sanitizer report:\n" << report;
  }
  std::remove(err_path.c_str());
  std::remove(err_path.substr(0, err_path.rfind('/')).c_str());
  return result;
}

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::Start(const std::string& name,
                                                                      const std::string& binary,
                                                                      std::vector<std::string> args,
                                                                      const std::string& dir) {
  std::unique_ptr<ServiceProcess> p(new ServiceProcess());
  p->name_ = name;
  p->log_path_ = absl::StrCat(dir, "/", name, ".log");
  const std::string ready = absl::StrCat(dir, "/", name, ".ready");
  unlink(ready.c_str());
  args.insert(args.begin(), binary);
  args.push_back(absl::StrCat("--ready_file=", ready));
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    int fd = open(p->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    // The child must not inherit the test's blocked signals.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  p->pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (access(ready.c_str(), R_OK) == 0) {
      std::string json = Slurp(ready);
      std::regex re("\"([a-z_]+)\":([0-9]+)");
      for (std::sregex_iterator it(json.begin(), json.end(), re), end; it != end; ++it) {
        p->ports_[(*it)[1]] = std::stoi((*it)[2]);
      }
      return p;
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      p->exited_ = true;
      std::string log = Slurp(p->log_path_);
      if (log.size() > 2000) log = log.substr(log.size() - 2000);
      return absl::FailedPreconditionError(
          absl::StrCat(name, " exited during start-up (status ", status, "):\n", log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(name, " did not become ready in 30 s"));
}

ServiceProcess::~ServiceProcess() {
  if (pid_ <= 0) return;
  if (!exited_) {
    Signal(SIGTERM);
    if (Wait(10000) == -1) {
      Signal(SIGKILL);
      Wait(5000);
    }
  }
  CheckLogForSanitizerReport();
}

void ServiceProcess::CheckLogForSanitizerReport() {
  if (log_checked_) return;
  log_checked_ = true;
  if (std::string report = SanitizerReport(ReadLog()); !report.empty()) {
    ADD_FAILURE() << name_ << " (" << log_path_ << ") printed a sanitizer report:\n" << report;
  }
}

int ServiceProcess::port(const std::string& key) const {
  auto it = ports_.find(key);
  return it == ports_.end() ? -1 : it->second;
}

std::string ServiceProcess::ReadLog() const { return Slurp(log_path_); }

void ServiceProcess::Signal(int sig) {
  if (!exited_ && pid_ > 0) kill(pid_, sig);
}

int ServiceProcess::Wait(int timeout_ms) {
  if (exited_) return exit_status_;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      CheckLogForSanitizerReport();
      return exit_status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace llmrouter::testing
