// The fault suite (issue 11): the whole stack, real processes on loopback, under a steady load of
// chat requests (JSON and streamed) while its parts are killed (SIGKILL), stopped (SIGTERM) and
// restarted, a backend dies in the middle of its streams, policies are applied 20 times, and the
// attacks of the hardening review are replayed. Each test asserts that every client request got
// a well-formed answer (a complete answer, a stream closed by [DONE] or by an error event, or an
// OpenAI-shaped error), that the route link carries calls again within 2 s of a restarted
// decision being ready, and that endpoints are HEALTHY again within one probe interval × healthy
// threshold of their backend returning (plus one health tick, the granularity at which inventory
// applies probe results, and 200 ms for the probes' own time and the test's polling).
// docs/reliability.md records the figures the tests print.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/route_link.h"
#include "llmrouter/v1/inventory.grpc.pb.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"
#include "tests/support/test_processes.h"
#include "tests/support/wait_until.h"

namespace llmrouter::testing {
namespace {

namespace v1 = llmrouter::v1;
using std::chrono::milliseconds;

constexpr char kModel[] = "fault-model";
constexpr int kProbeIntervalMs = 300;
constexpr int kHealthyThreshold = 2;
constexpr int kHealthTickMs = 100;
// How soon endpoints must be HEALTHY again once their backend (or inventory) is back.
// The probes' own time (a connect and a request on loopback) and the test's polling come on top.
constexpr milliseconds kHealthyAgainWithin(kProbeIntervalMs* kHealthyThreshold + kHealthTickMs +
                                           200);
// How soon the route link must carry calls again once a restarted decision is ready.
constexpr milliseconds kFastPathWithin(2000);

constexpr char kAdminToken[] = "fault-admin";
constexpr char kWriteToken[] = "fault-writer";
constexpr char kReporterToken[] = "fault-reporter";

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

HttpResult Chat(int port, bool stream, const std::map<std::string, std::string>& headers = {}) {
  return HttpCall(
      port, "POST", "/v1/chat/completions",
      absl::StrCat(R"({"model":")", kModel, R"(","messages":[{"role":"user","content":"Say hi"}])",
                   stream ? R"(,"stream":true})" : "}"),
      headers);
}

// Empty when `r` is a well-formed answer to a chat request; otherwise what is wrong with it.
std::string Malformation(const HttpResult& r, bool stream) {
  if (r.status == 0) return absl::StrCat("no answer: ", r.error);
  if (r.status != 200) {
    // An OpenAI-shaped error: {"error": {"message": ..., ...}}.
    if (r.body.rfind("{\"error\":{", 0) == 0 && r.body.find("\"message\":") != std::string::npos) {
      return "";
    }
    return absl::StrCat("HTTP ", r.status,
                        " with a body that is not an OpenAI error: ", r.body.substr(0, 200));
  }
  if (!r.error.empty()) return absl::StrCat("HTTP 200 cut short: ", r.error);
  if (!stream) {
    return r.body.find("\"choices\"") != std::string::npos
               ? ""
               : absl::StrCat("HTTP 200 without choices: ", r.body.substr(0, 200));
  }
  std::vector<std::string> events = SseData(r.body);
  if (events.empty()) return "a stream without events";
  if (events.back() == "[DONE]" || events.back().rfind("{\"error\":", 0) == 0) return "";
  return absl::StrCat("a stream that ended on neither [DONE] nor an error event: ",
                      events.back().substr(0, 200));
}

// Clients sending chat requests one after another (odd ones streamed) until stopped, keeping
// count of what they got.
class Load {
 public:
  Load(int port, int clients) {
    for (int i = 0; i < clients; ++i) {
      threads_.emplace_back([this, port, stream = i % 2 == 1] {
        while (!stop_.load()) {
          HttpResult r = Chat(port, stream);
          std::string wrong = Malformation(r, stream);
          std::lock_guard<std::mutex> lock(mu_);
          ++answers_;
          if (!wrong.empty()) malformed_.push_back(std::move(wrong));
          if (r.status == 200 && r.header("x-router-decision-id") == "failsafe") ++failsafe_;
          if (r.status != 200 && errors_by_status_[r.status]++ == 0) {
            std::cout << "[fault-suite] first HTTP " << r.status << ": " << r.body.substr(0, 300)
                      << "\n";
          }
          if (stream && r.status == 200 && wrong.empty() && SseData(r.body).back() != "[DONE]") {
            ++cut_streams_;
          }
        }
      });
    }
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_.store(true);
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int answers() {
    std::lock_guard<std::mutex> lock(mu_);
    return answers_;
  }
  // Waits until `n` more answers have arrived (the load is flowing).
  bool Flowing(int n = 10) {
    const int from = answers();
    return WaitUntil([&] { return answers() >= from + n; });
  }
  // Stops the clients and checks every answer they got; prints the tally.
  void StopAndExpectOnlyWellFormedAnswers(const std::string& scenario) {
    Stop();
    std::lock_guard<std::mutex> lock(mu_);
    std::string errors;
    for (const auto& [status, n] : errors_by_status_) absl::StrAppend(&errors, " ", status, "×", n);
    std::cout << "[fault-suite] " << scenario << ": " << answers_ << " answers, " << failsafe_
              << " by the fail-safe table, " << cut_streams_
              << " streams ended by an error event, errors:" << (errors.empty() ? " none" : errors)
              << ", malformed: " << malformed_.size() << "\n";
    EXPECT_GT(answers_, 20) << "the load did not flow";
    EXPECT_THAT(malformed_, ::testing::IsEmpty());
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  int answers_ = 0;
  int failsafe_ = 0;
  int cut_streams_ = 0;
  std::map<int, int> errors_by_status_;
  std::vector<std::string> malformed_;
};

class FaultSuiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("llmrouter-fault-suite");
    a_ = StartBackend("a", 0);
    b_ = StartBackend("b", 0);
    ASSERT_TRUE(a_ && b_);
    a_port_ = a_->port("http_port");
    b_port_ = b_->port("http_port");
    WriteFile(dir_ + "/endpoints.yaml",
              absl::StrCat("endpoints:\n  - {id: a, model: ", kModel,
                           ", address: \"127.0.0.1:", a_port_, "\"}\n  - {id: b, model: ", kModel,
                           ", address: \"127.0.0.1:", b_port_, "\"}\n"));
    WriteFile(dir_ + "/health.yaml",
              absl::StrCat("probe: {interval: ", kProbeIntervalMs, "ms, timeout: 200ms, ",
                           "unhealthy_threshold: 2, healthy_threshold: ", kHealthyThreshold,
                           "}\nscrape_interval: 300ms\n"
                           // Two refused connections eject, for longer than any test runs.
                           "outlier: {consecutive_failures: 2, base_ejection: 60s}\n"));
    WriteFile(dir_ + "/policy.yaml", PolicyBundle(0));
    WriteFile(dir_ + "/admin.token", kAdminToken);
    WriteFile(dir_ + "/write.token", kWriteToken);
    WriteFile(dir_ + "/reporter.token", kReporterToken);
    // While decision is away, the gateway answers from its fail-safe table.
    WriteFile(dir_ + "/failsafe.txt", absl::StrCat(kModel, "=127.0.0.1:", b_port_, "\n"));
    inventory_ = StartInventory(0, "inventory");
    ASSERT_TRUE(inventory_);
    inventory_port_ = inventory_->port("grpc_port");
    decision_ = StartDecision(0, 0, "decision");
    ASSERT_TRUE(decision_);
    decision_port_ = decision_->port("grpc_port");
    link_port_ = decision_->port("route_link_port");
    WriteFile(dir_ + "/gateway-reporter.token", kReporterToken);
    gateway_ =
        StartService(dir_, "gateway", "services/gateway/gateway",
                     {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
                      absl::StrCat("--decision_target=127.0.0.1:", decision_port_),
                      absl::StrCat("--decision_link_target=127.0.0.1:", link_port_),
                      "--decision_timeout_ms=300", "--failsafe_file=" + dir_ + "/failsafe.txt",
                      absl::StrCat("--inventory_target=127.0.0.1:", inventory_port_),
                      "--inventory_reporter_token_file=" + dir_ + "/gateway-reporter.token"});
    ASSERT_TRUE(gateway_);
    port_ = gateway_->port("http_port");
    ASSERT_TRUE(WaitUntil([&] { return AllHealthy() && RoutedByDecision(); }))
        << "the stack never came up; see the logs in " << dir_;
  }

  std::unique_ptr<ServiceProcess> StartBackend(const std::string& name, int port) {
    // 8 tokens, 15 ms apart: a stream lasts about 120 ms, long enough to be cut in the middle.
    return StartFakeLlm(dir_, name, kModel, {absl::StrCat("--port=", port), "--per_token_ms=15"});
  }

  std::unique_ptr<ServiceProcess> StartInventory(int grpc_port, const std::string& log_name) {
    return StartService(
        dir_, log_name, "services/inventory/inventory",
        {absl::StrCat("--grpc_port=", grpc_port), "--metrics_port=0", "--host=127.0.0.1",
         "--endpoints_file=" + dir_ + "/endpoints.yaml", "--health_config=" + dir_ + "/health.yaml",
         absl::StrCat("--health_tick_ms=", kHealthTickMs), "--maintenance_interval_ms=100",
         "--write_token_file=" + dir_ + "/write.token",
         "--reporter_token_file=" + dir_ + "/reporter.token"});
  }

  std::unique_ptr<ServiceProcess> StartDecision(int grpc_port, int link_port,
                                                const std::string& log_name) {
    return StartService(
        dir_, log_name, "services/decision/decision",
        {absl::StrCat("--grpc_port=", grpc_port), "--metrics_port=0", "--host=127.0.0.1",
         "--db=" + dir_ + "/decision.db", "--policy_file=" + dir_ + "/policy.yaml",
         "--admin_token_file=" + dir_ + "/admin.token",
         absl::StrCat("--inventory_target=127.0.0.1:", inventory_port_),
         absl::StrCat("--route_link_port=", link_port)});
  }

  // A bundle for the one model; `variant` changes a rule's name, so that 20 applies make 20
  // revisions.
  static std::string PolicyBundle(int variant) {
    return absl::StrCat("models:\n  - name: ", kModel, "\nrules:\n  - name: rule-", variant,
                        "\n    match: {model: [", kModel, "]}\n    then: {candidates: [", kModel,
                        "]}\n");
  }

  std::map<std::string, v1::Endpoint> Endpoints() {
    auto stub = v1::InventoryService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", inventory_port_), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::ListEndpointsResponse resp;
    std::map<std::string, v1::Endpoint> out;
    if (!stub->ListEndpoints(&ctx, v1::ListEndpointsRequest(), &resp).ok()) return out;
    for (const v1::Endpoint& e : resp.endpoints()) out[e.id()] = e;
    return out;
  }
  bool AllHealthy() {
    std::map<std::string, v1::Endpoint> fleet = Endpoints();
    return fleet.size() == 2 && fleet["a"].health() == v1::HEALTH_STATE_HEALTHY &&
           fleet["b"].health() == v1::HEALTH_STATE_HEALTHY;
  }
  std::string DescribeEndpoints() {
    std::string out;
    for (const auto& [id, e] : Endpoints()) absl::StrAppend(&out, e.ShortDebugString(), "\n");
    return out;
  }

  // A request answered by decision's choice, not by the fail-safe table.
  bool RoutedByDecision() {
    HttpResult r = Chat(port_, false);
    return r.status == 200 && !r.header("x-router-decision-id").empty() &&
           r.header("x-router-decision-id") != "failsafe";
  }
  // The route link is up and carried a request of ours (nothing fell back to gRPC meanwhile).
  bool FastPathServes() {
    const int metrics = gateway_->port("metrics_port");
    if (ScrapeMetric(metrics, "llmrouter_gateway_decision_link_connections") < 1) return false;
    const double fallbacks =
        ScrapeMetric(metrics, "llmrouter_gateway_decision_link_fallbacks_total");
    return RoutedByDecision() &&
           ScrapeMetric(metrics, "llmrouter_gateway_decision_link_fallbacks_total") == fallbacks;
  }

  // Stops decision with `sig` under load, restarts it on the same ports, and checks that the
  // fast path is back within kFastPathWithin of it being ready.
  void RestartDecisionUnderLoad(int sig, const std::string& scenario) {
    Load load(port_, 4);
    ASSERT_TRUE(load.Flowing());
    decision_->Signal(sig);
    decision_->Wait(15000);
    decision_.reset();
    ASSERT_TRUE(load.Flowing()) << "nothing answered while decision was away";
    decision_ = StartDecision(decision_port_, link_port_, "decision-again");
    ASSERT_TRUE(decision_);
    const auto ready = std::chrono::steady_clock::now();
    ASSERT_TRUE(WaitUntil([&] { return FastPathServes(); }));
    const auto back =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - ready);
    std::cout << "[fault-suite] " << scenario << ": route link carrying calls " << back.count()
              << " ms after decision was ready\n";
    EXPECT_LE(back, kFastPathWithin);
    ASSERT_TRUE(load.Flowing());
    load.StopAndExpectOnlyWellFormedAnswers(scenario);
  }

  // Waits until every endpoint is HEALTHY, from `since`; the time it took.
  milliseconds HealthyAgain(std::chrono::steady_clock::time_point since) {
    EXPECT_TRUE(WaitUntil([&] { return AllHealthy(); })) << DescribeEndpoints();
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - since);
  }

  std::string dir_;
  std::unique_ptr<ServiceProcess> a_, b_, inventory_, decision_, gateway_;
  int a_port_ = 0, b_port_ = 0, inventory_port_ = 0, decision_port_ = 0, link_port_ = 0;
  int port_ = 0;
};

TEST_F(FaultSuiteTest, DecisionKilledAndRestartedUnderLoad) {
  RestartDecisionUnderLoad(SIGKILL, "decision kill -9 and restart");
}

TEST_F(FaultSuiteTest, DecisionStoppedAndRestartedUnderLoad) {
  RestartDecisionUnderLoad(SIGTERM, "decision SIGTERM and restart");
}

// Decision routes on its last inventory snapshot while inventory is away, and picks the new
// one up when it returns; inventory's probes find the endpoints healthy again.
TEST_F(FaultSuiteTest, InventoryKilledAndStoppedAndRestartedUnderLoad) {
  Load load(port_, 4);
  ASSERT_TRUE(load.Flowing());
  int run = 0;
  for (int sig : {SIGKILL, SIGTERM}) {
    inventory_->Signal(sig);
    inventory_->Wait(15000);
    inventory_.reset();
    ASSERT_TRUE(load.Flowing()) << "nothing answered while inventory was away";
    EXPECT_TRUE(RoutedByDecision()) << "decision keeps routing on its last snapshot";
    inventory_ = StartInventory(inventory_port_, absl::StrCat("inventory-again-", ++run));
    ASSERT_TRUE(inventory_);
    const milliseconds healthy = HealthyAgain(std::chrono::steady_clock::now());
    std::cout << "[fault-suite] inventory " << (sig == SIGKILL ? "kill -9" : "SIGTERM")
              << " and restart: endpoints HEALTHY " << healthy.count()
              << " ms after inventory was ready\n";
    EXPECT_LE(healthy, kHealthyAgainWithin);
    ASSERT_TRUE(load.Flowing());
  }
  load.StopAndExpectOnlyWellFormedAnswers("inventory kill -9, SIGTERM and restarts");
}

// Backend a dies with streams in flight: those streams end with an error event, new requests
// go to b (or fall back to it), and once a is back it is HEALTHY within the probe bound, though
// the gateway's reports of its refused connections ejected it for a minute.
TEST_F(FaultSuiteTest, BackendKilledMidStream) {
  Load load(port_, 6);
  ASSERT_TRUE(load.Flowing());
  const std::string running =
      absl::StrCat("vllm:num_requests_running{model_name=\"", kModel, "\"}");
  ASSERT_TRUE(WaitUntil([&] { return ScrapeMetric(a_port_, running) >= 1; }))
      << "no request reached backend a";
  a_->Signal(SIGKILL);
  a_->Wait(15000);
  a_.reset();
  // The gateway's reports of refused connections eject it (for a minute), its probes fail.
  ASSERT_TRUE(WaitUntil([&] {
    return Endpoints()["a"].health_detail().find("ejected: ") != std::string::npos;
  })) << DescribeEndpoints();
  ASSERT_TRUE(load.Flowing());
  a_ = StartBackend("a-again", a_port_);
  ASSERT_TRUE(a_);
  const milliseconds healthy = HealthyAgain(std::chrono::steady_clock::now());
  std::cout << "[fault-suite] backend kill -9 mid-stream: HEALTHY " << healthy.count()
            << " ms after it was back\n";
  EXPECT_LE(healthy, kHealthyAgainWithin) << DescribeEndpoints();
  ASSERT_TRUE(WaitUntil([&] { return ScrapeMetric(a_port_, running) >= 1; }))
      << "backend a never got traffic again";
  load.StopAndExpectOnlyWellFormedAnswers("backend kill -9 mid-stream");
}

TEST_F(FaultSuiteTest, TwentyPolicyAppliesUnderLoad) {
  Load load(port_, 4);
  ASSERT_TRUE(load.Flowing());
  const std::vector<std::string> ctl = {absl::StrCat("--decision=127.0.0.1:", decision_port_),
                                        "--token_file=" + dir_ + "/admin.token"};
  for (int i = 1; i <= 20; ++i) {
    const std::string bundle =
        WriteFile(absl::StrCat(dir_, "/bundle-", i, ".yaml"), PolicyBundle(i));
    std::vector<std::string> args = ctl;
    args.insert(args.end(), {"policy", "apply", bundle});
    CommandResult applied = RunCommand(BuildPath("tools/routerctl/routerctl"), args);
    ASSERT_EQ(applied.code, 0) << applied.out << applied.err;
  }
  HttpResult last;
  ASSERT_TRUE(WaitUntil([&] {
    last = Chat(port_, false);
    return last.header("x-router-policy-rule") == "rule-20";
  })) << last.status
      << " " << last.header("x-router-policy-rule");
  ASSERT_TRUE(load.Flowing());
  load.StopAndExpectOnlyWellFormedAnswers("20 policy applies");
}

// A raw TCP connection to decision's route link; -1 if it cannot connect.
int ConnectTo(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Decision's resident memory in MiB, from /proc.
double ResidentMiB(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    double kib = 0;
    if (absl::ConsumePrefix(&rest, "VmRSS:") &&
        absl::SimpleAtod(absl::StripSuffix(absl::StripAsciiWhitespace(rest), " kB"), &kib)) {
      return kib / 1024;
    }
  }
  return -1;
}

// The hardening review's attacks, replayed while clients are served: none of them crashes a
// service, ejects a backend or disturbs the clients' answers.
TEST_F(FaultSuiteTest, TheReviewsAttacksUnderLoad) {
  Load load(port_, 4);
  ASSERT_TRUE(load.Flowing());
  const double rss_before = ResidentMiB(decision_->pid());

  // 1. A regex-heavy bundle sent to TestBundle and ApplyBundle, without and with the token.
  std::string heavy = absl::StrCat(PolicyBundle(0), "intents:\n  - name: code\n    patterns:\n");
  for (int i = 1; i <= 150; ++i) {
    absl::StrAppend(&heavy, "      - '(?i)\\w{1,50}[a-z0-9]{0,100}x", i, "'\n");
  }
  const std::string heavy_file = WriteFile(dir_ + "/heavy.yaml", heavy);
  const std::string requests =
      WriteFile(dir_ + "/requests.jsonl", absl::StrCat("{\"model\":\"", kModel, "\"}\n"));
  for (bool with_token : {false, true}) {
    for (const char* verb : {"test", "apply"}) {
      std::vector<std::string> args = {absl::StrCat("--decision=127.0.0.1:", decision_port_)};
      if (with_token) args.push_back("--token_file=" + dir_ + "/admin.token");
      args.insert(args.end(), {"policy", verb, heavy_file});
      if (std::string(verb) == "test") args.insert(args.end(), {"--requests", requests});
      CommandResult r = RunCommand(BuildPath("tools/routerctl/routerctl"), args);
      EXPECT_EQ(r.code, 1) << verb << (with_token ? " with" : " without") << " the token";
    }
  }

  // 2. The route link: connections that never send the preamble, a frame announcing 16 MiB that
  // never completes, and a client that sends calls and never reads the answers.
  std::vector<int> fds;
  for (int i = 0; i < 30; ++i) fds.push_back(ConnectTo(link_port_));
  int partial = ConnectTo(link_port_);
  ASSERT_GE(partial, 0);
  std::string bytes(kRouteLinkPreamble);
  AppendRouteLinkFrameHeader(16 << 20, &bytes);
  bytes.append(9 * 1024, 'x');
  ASSERT_EQ(::send(partial, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
  fds.push_back(partial);
  int flood = ConnectTo(link_port_);
  ASSERT_GE(flood, 0);
  fds.push_back(flood);
  {
    std::string frames(kRouteLinkPreamble);
    v1::RouteRequestRequest call;
    call.set_model(kModel);
    call.set_explain(true);  // large answers
    for (int batch = 0; batch < 200; ++batch) {
      std::string body;
      for (int i = 0; i < 100; ++i) AppendRouteCall(batch * 100 + i, call, &body);
      AppendRouteLinkFrameHeader(body.size(), &frames);
      frames += body;
    }
    // Non-blocking: once decision stops reading (its unwritten answers are capped), stop.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::size_t sent = 0;
    while (sent < frames.size() && std::chrono::steady_clock::now() < give_up) {
      ssize_t n =
          ::send(flood, frames.data() + sent, frames.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        break;  // decision closed it: also an answer
      } else {
        std::this_thread::sleep_for(milliseconds(10));
      }
    }
  }

  // 3. Forged outcome reports: 30 HTTP 500s per endpoint, without the reporter token.
  {
    auto stub = v1::InventoryService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", inventory_port_), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    v1::ReportOutcomesRequest req;
    req.set_reporter("forger");
    for (const char* id : {"a", "b"}) {
      for (int i = 0; i < 30; ++i) {
        v1::Outcome* o = req.add_outcomes();
        o->set_endpoint_id(id);
        o->set_http_status(500);
      }
    }
    v1::ReportOutcomesResponse resp;
    EXPECT_FALSE(stub->ReportOutcomes(&ctx, req, &resp).ok());
  }

  // 4. A client asking for the top tier, another region and the full trace.
  HttpResult pushy = Chat(port_, false,
                          {{"x-router-priority", "interactive"},
                           {"x-router-region", "elsewhere"},
                           {"x-router-explain", "true"}});
  EXPECT_EQ(Malformation(pushy, false), "");

  ASSERT_TRUE(load.Flowing());
  EXPECT_TRUE(RoutedByDecision()) << "decision must survive the attacks";
  EXPECT_TRUE(AllHealthy()) << DescribeEndpoints();
  const double rss_after = ResidentMiB(decision_->pid());
  std::cout << "[fault-suite] attacks: decision resident memory " << rss_before << " MiB before, "
            << rss_after << " MiB after\n";
  // The caps at work: the link's rejections and read pauses, counted by reason.
  const int decision_metrics = decision_->port("metrics_port");
  const std::string rejected = "llmrouter_decision_route_link_rejected_total{reason=";
  EXPECT_TRUE(WaitUntil([&] {
    return ScrapeMetric(decision_metrics, rejected + "\"frame_too_large\"}") >= 1 &&
           ScrapeMetric(decision_metrics, rejected + "\"preamble_timeout\"}") >= 30;
  })) << "the oversized frame and the silent connections were not cut";
  EXPECT_GE(ScrapeMetric(decision_metrics, "llmrouter_decision_route_link_read_pauses_total"), 1)
      << "the client that never reads was read on";
  // The review saw 2.6 GB from one flooding client. Under AddressSanitizer, its quarantine of
  // freed memory alone adds a few hundred MiB, hence the loose bound.
  EXPECT_LT(rss_after - rss_before, 1024);
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
  load.StopAndExpectOnlyWellFormedAnswers("the review's attacks");
}

}  // namespace
}  // namespace llmrouter::testing
