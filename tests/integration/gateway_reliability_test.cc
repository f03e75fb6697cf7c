// The gateway's degraded modes through the real binaries: fail-safe routing with decision
// stopped, streams cut by the backend, drain on SIGTERM with a stream in flight (after a period
// out of rotation), slow clients, oversized bodies.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"
#include "tests/support/test_processes.h"
#include "tests/support/wait_until.h"

namespace llmrouter::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kModel[] = "llama-3.1-8b-instruct";

std::unique_ptr<ServiceProcess> StartFake(const std::string& dir, const std::string& name,
                                          std::vector<std::string> extra = {}) {
  return StartFakeLlm(dir, name, kModel, std::move(extra));
}

std::unique_ptr<ServiceProcess> StartFailSafeGateway(const std::string& dir,
                                                     const std::string& routes,
                                                     std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), "--failsafe_routes=" + routes);
  return StartGatewayWithoutDecision(dir, std::move(extra));
}

// The gateway's llmrouter_gateway_decision_link_fallbacks_total; -1 when missing.
double LinkFallbacks(const ServiceProcess& gateway) {
  const std::string series = "\nllmrouter_gateway_decision_link_fallbacks_total ";
  std::string text = HttpCall(gateway.port("metrics_port"), "GET", "/metrics").body;
  std::size_t at = text.find(series);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size()));
}

// Polls `condition` every 20 ms for up to 15 s; its last value.
bool WaitUntil(const std::function<bool()>& condition) {
  for (int i = 0; i < 750; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

HttpResult Chat(int port, bool stream) {
  std::string body =
      absl::StrCat(R"({"model":")", kModel, R"(","messages":[{"role":"user","content":"Say hi"}])",
                   stream ? R"(,"stream":true})" : "}");
  return HttpCall(port, "POST", "/v1/chat/completions", body);
}

// Whether the fake backend on `port` is answering a request now: the stream a test started has
// reached it through the gateway.
bool BackendBusy(int port) {
  const std::string series =
      absl::StrCat("vllm:num_requests_running{model_name=\"", kModel, "\"} ");
  const std::string body = HttpCall(port, "GET", "/metrics").body;
  const size_t at = body.find(series);
  return at != std::string::npos && std::atof(body.c_str() + at + series.size()) >= 1;
}

// A stream that ended the way the backend ended it: complete, closed by [DONE].
void ExpectIntactStream(const HttpResult& r) {
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.error, "");
  std::vector<std::string> events = SseData(r.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
}

TEST(GatewayReliabilityTest, DecisionStoppedMeansFailSafeRoutingCountedInMetrics) {
  std::string dir = MakeTempDir("llmrouter-gw-failsafe");
  auto fake = StartFake(dir, "fake-a");
  ASSERT_TRUE(fake);
  std::ofstream(dir + "/endpoints.yaml")
      << absl::StrCat("endpoints:\n  - {id: a, model: ", kModel,
                      ", address: \"127.0.0.1:", fake->port("http_port"), "\"}\n");
  std::ofstream(dir + "/policy.yaml") << absl::StrCat("models:\n  - name: ", kModel, "\n");
  auto inventory = StartInventory(dir, dir + "/endpoints.yaml");
  ASSERT_TRUE(inventory);
  auto decision = StartDecision(dir, dir + "/policy.yaml", *inventory);
  ASSERT_TRUE(decision);
  std::ofstream(dir + "/failsafe.txt")
      << absl::StrCat("# static routes\n", kModel, "=127.0.0.1:", fake->port("http_port"), "\n");
  auto gateway = StartService(
      dir, "gateway", "services/gateway/gateway",
      {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
       absl::StrCat("--decision_target=127.0.0.1:", decision->port("grpc_port")),
       absl::StrCat("--decision_link_target=127.0.0.1:", decision->port("route_link_port")),
       "--decision_timeout_ms=200", "--failsafe_file=" + dir + "/failsafe.txt",
       absl::StrCat("--inventory_target=127.0.0.1:", inventory->port("grpc_port"))});
  ASSERT_TRUE(gateway);
  const int port = gateway->port("http_port");

  HttpResult routed;
  for (int i = 0; i < 500; ++i) {
    routed = Chat(port, false);
    if (routed.status == 200 && routed.header("x-router-decision-id") != "failsafe") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(routed.status, 200) << routed.body;
  EXPECT_EQ(routed.header("x-router-endpoint"), "a");  // decision chose it

  const double fallbacks_before = LinkFallbacks(*gateway);
  decision->Signal(SIGTERM);
  ASSERT_EQ(decision->Wait(10000), 0);
  for (int i = 0; i < 3; ++i) {
    HttpResult r = Chat(port, false);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-router-decision-id"), "failsafe");
    EXPECT_EQ(r.header("x-fake-llm-backend"), "fake-a");
  }
  HttpResult ready = HttpCall(port, "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_THAT(ready.body, HasSubstr("failsafe"));
  HttpResult metrics = HttpCall(gateway->port("metrics_port"), "GET", "/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("llmrouter_gateway_failsafe_routes_total 3"));
  // Routed over the route link while decision was up; then each request found the link down
  // and asked gRPC once, which failed too.
  EXPECT_EQ(LinkFallbacks(*gateway), fallbacks_before + 3);

  // Every answered request was reported to inventory, in batches off the request path.
  HttpResult reported;
  for (int i = 0; i < 100; ++i) {
    reported = HttpCall(inventory->port("metrics_port"), "GET", "/metrics");
    if (reported.body.find("llmrouter_inventory_outcomes_total") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(reported.body, HasSubstr("llmrouter_inventory_outcomes_total"));
  HttpResult gateway_metrics = HttpCall(gateway->port("metrics_port"), "GET", "/metrics");
  EXPECT_THAT(gateway_metrics.body, HasSubstr("llmrouter_gateway_outcomes_total{result=\"sent\"}"));
  EXPECT_THAT(
      gateway_metrics.body,
      HasSubstr(
          "llmrouter_gateway_tokens_total{model=\"llama-3.1-8b-instruct\",tenant=\"default\""));
}

// The gateway's llmrouter_gateway_decision_link_connections; -1 when missing.
double LinkConnections(const ServiceProcess& gateway) {
  const std::string series = "\nllmrouter_gateway_decision_link_connections ";
  std::string text = HttpCall(gateway.port("metrics_port"), "GET", "/metrics").body;
  std::size_t at = text.find(series);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size()));
}

// Issue 11 finding 3: after decision stopped gracefully and came back, gateways never used the
// route link again (every call fell back to gRPC while the gauge said the link was up).
TEST(GatewayReliabilityTest, AfterDecisionRestartsRoutingCallsGoOverTheLinkAgain) {
  std::string dir = MakeTempDir("llmrouter-gw-link-restart");
  auto fake = StartFake(dir, "fake-a");
  ASSERT_TRUE(fake);
  std::ofstream(dir + "/endpoints.yaml")
      << absl::StrCat("endpoints:\n  - {id: a, model: ", kModel,
                      ", address: \"127.0.0.1:", fake->port("http_port"), "\"}\n");
  std::ofstream(dir + "/policy.yaml") << absl::StrCat("models:\n  - name: ", kModel, "\n");
  auto inventory = StartInventory(dir, dir + "/endpoints.yaml");
  ASSERT_TRUE(inventory);
  auto decision = StartDecision(dir, dir + "/policy.yaml", *inventory);
  ASSERT_TRUE(decision);
  const int grpc_port = decision->port("grpc_port");
  const int link_port = decision->port("route_link_port");
  auto gateway = StartService(
      dir, "gateway", "services/gateway/gateway",
      {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
       absl::StrCat("--decision_target=127.0.0.1:", grpc_port),
       absl::StrCat("--decision_link_target=127.0.0.1:", link_port), "--inventory_target="});
  ASSERT_TRUE(gateway);
  const int port = gateway->port("http_port");
  ASSERT_TRUE(WaitUntil([&] { return Chat(port, false).status == 200; }));

  decision->Signal(SIGTERM);
  ASSERT_EQ(decision->Wait(10000), 0);
  ASSERT_TRUE(WaitUntil([&] { return LinkConnections(*gateway) == 0; }));
  decision =
      StartService(dir, "decision-again", "services/decision/decision",
                   {absl::StrCat("--grpc_port=", grpc_port), "--metrics_port=0", "--host=127.0.0.1",
                    "--db=" + dir + "/decision.db", "--policy_file=" + dir + "/policy.yaml",
                    absl::StrCat("--inventory_target=127.0.0.1:", inventory->port("grpc_port")),
                    absl::StrCat("--route_link_port=", link_port)});
  ASSERT_TRUE(decision);
  ASSERT_TRUE(WaitUntil([&] { return LinkConnections(*gateway) == 1; }));
  ASSERT_TRUE(WaitUntil([&] { return Chat(port, false).status == 200; }));
  const double fallbacks = LinkFallbacks(*gateway);
  for (int i = 0; i < 5; ++i) {
    HttpResult r = Chat(port, false);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  EXPECT_EQ(LinkFallbacks(*gateway), fallbacks);  // all five over the link
}

TEST(GatewayReliabilityTest, NotReadyWithoutDecisionOrFailSafe) {
  std::string dir = MakeTempDir("llmrouter-gw-notready");
  auto gateway = StartService(dir, "gateway", "services/gateway/gateway",
                              {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
                               absl::StrCat("--decision_target=127.0.0.1:", ClosedLoopbackPort()),
                               "--decision_timeout_ms=100", "--inventory_target="});
  ASSERT_TRUE(gateway);
  HttpResult ready = HttpCall(gateway->port("http_port"), "GET", "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(HttpCall(gateway->port("http_port"), "GET", "/healthz").status, 200);
  // Never a hang: the request ends with 503 once the decision deadline has passed.
  HttpResult r = Chat(gateway->port("http_port"), false);
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("\"error\":{"));
}

TEST(GatewayReliabilityTest, StreamCutByTheBackendEndsWithAnErrorEvent) {
  std::string dir = MakeTempDir("llmrouter-gw-drop");
  auto fake = StartFake(dir, "fake-drop", {"--drop_rate=1"});
  ASSERT_TRUE(fake);
  auto gateway =
      StartFailSafeGateway(dir, absl::StrCat(kModel, "=127.0.0.1:", fake->port("http_port")));
  ASSERT_TRUE(gateway);
  HttpResult r = Chat(gateway->port("http_port"), true);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.error, "");  // a well-formed chunked body, not a truncation
  std::vector<std::string> events = SseData(r.body);
  ASSERT_GE(events.size(), 2u) << r.body;
  EXPECT_THAT(events.front(), HasSubstr("chat.completion.chunk"));
  EXPECT_THAT(events.back(), HasSubstr("\"error\":{"));
  EXPECT_THAT(events.back(), HasSubstr("upstream_stream_error"));
  EXPECT_THAT(r.body, Not(HasSubstr("[DONE]")));
}

TEST(GatewayReliabilityTest, SigtermLetsTheStreamInFlightFinishThenExits) {
  std::string dir = MakeTempDir("llmrouter-gw-drain");
  auto fake = StartFake(dir, "fake-slow", {"--per_token_ms=100"});
  ASSERT_TRUE(fake);
  auto gateway =
      StartFailSafeGateway(dir, absl::StrCat(kModel, "=127.0.0.1:", fake->port("http_port")),
                           {"--shutdown_grace_ms=10000"});
  ASSERT_TRUE(gateway);
  const int port = gateway->port("http_port");
  std::future<HttpResult> stream = std::async(std::launch::async, [port] {
    return Chat(port, true);  // eight tokens, 100 ms apart
  });
  ASSERT_TRUE(WaitUntil([&] { return BackendBusy(fake->port("http_port")); }));
  gateway->Signal(SIGTERM);
  // No longer accepting.
  EXPECT_TRUE(WaitUntil([&] { return HttpCall(port, "GET", "/healthz").status == 0; }));
  ExpectIntactStream(stream.get());
  EXPECT_EQ(gateway->Wait(15000), 0);
}

// Polls `port` until `done` holds for the answer to GET `target`, for 20 s at most.
HttpResult PollUntil(int port, const std::string& target,
                     const std::function<bool(const HttpResult&)>& done) {
  HttpResult r;
  for (int i = 0; i < 400; ++i) {
    r = HttpCall(port, "GET", target);
    if (done(r)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return r;
}

TEST(GatewayReliabilityTest, SigtermFirstLeavesRotationThenStopsAcceptingAndDrains) {
  std::string dir = MakeTempDir("llmrouter-gw-leave-rotation");
  // A stream of 60 tokens 100 ms apart outlasts the 3 s delay by far.
  auto fake = StartFake(dir, "fake-slow", {"--per_token_ms=100", "--completion_tokens=60"});
  ASSERT_TRUE(fake);
  auto gateway =
      StartFailSafeGateway(dir, absl::StrCat(kModel, "=127.0.0.1:", fake->port("http_port")),
                           {"--shutdown_delay_ms=3000", "--shutdown_grace_ms=20000"});
  ASSERT_TRUE(gateway);
  const int port = gateway->port("http_port");
  ASSERT_EQ(HttpCall(port, "GET", "/readyz").status, 200);
  std::future<HttpResult> stream =
      std::async(std::launch::async, [port] { return Chat(port, true); });
  ASSERT_TRUE(WaitUntil([&] { return BackendBusy(fake->port("http_port")); }));
  gateway->Signal(SIGTERM);

  // Not ready, but still serving new connections, inference included.
  HttpResult ready =
      PollUntil(port, "/readyz", [](const HttpResult& r) { return r.status != 200; });
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, HasSubstr("\"reason\":\"shutting down\""));
  HttpResult served =
      HttpCall(port, "POST", "/v1/chat/completions",
               absl::StrCat(R"({"model":")", kModel,
                            R"(","max_tokens":1,"messages":[{"role":"user","content":"hi"}]})"));
  EXPECT_EQ(served.status, 200) << served.error << served.body;
  EXPECT_EQ(served.header("connection"), "close");

  // Once the delay is over, new connections are refused while the stream goes on.
  HttpResult refused =
      PollUntil(port, "/healthz", [](const HttpResult& r) { return r.status == 0; });
  EXPECT_EQ(refused.status, 0);
  HttpResult r = stream.get();
  ExpectIntactStream(r);
  EXPECT_GT(SseData(r.body).size(), 60u);  // every token
  EXPECT_EQ(gateway->Wait(30000), 0);
  std::string log = gateway->ReadLog();
  EXPECT_THAT(log, HasSubstr("gateway_leaving_rotation"));
  EXPECT_THAT(log, Not(HasSubstr("gateway_shutdown_delay_cut")));
}

TEST(GatewayReliabilityTest, SecondSignalCutsTheShutdownDelayShort) {
  std::string dir = MakeTempDir("llmrouter-gw-second-signal");
  auto gateway =
      StartFailSafeGateway(dir, absl::StrCat(kModel, "=127.0.0.1:", ClosedLoopbackPort()),
                           {"--shutdown_delay_ms=600000"});
  ASSERT_TRUE(gateway);
  const int port = gateway->port("http_port");
  gateway->Signal(SIGTERM);
  EXPECT_EQ(PollUntil(port, "/readyz", [](const HttpResult& r) { return r.status != 200; }).status,
            503);
  gateway->Signal(SIGINT);             // Ctrl-C twice
  EXPECT_EQ(gateway->Wait(30000), 0);  // far less than the ten minutes of the delay
  EXPECT_THAT(gateway->ReadLog(), HasSubstr("gateway_shutdown_delay_cut signal=2"));
}

TEST(GatewayReliabilityTest, SlowClientsAndOversizedBodiesAreCutOff) {
  std::string dir = MakeTempDir("llmrouter-gw-limits");
  auto gateway =
      StartFailSafeGateway(dir, absl::StrCat(kModel, "=127.0.0.1:", ClosedLoopbackPort()),
                           {"--client_read_timeout_ms=300", "--max_body_bytes=1024"});
  ASSERT_TRUE(gateway);
  const int port = gateway->port("http_port");
  // Half a header, then nothing: the gateway answers 408 and closes the connection once the
  // read timeout (here shorter than the header timeout, so it bounds the header) has passed.
  std::string answer = RawExchange(port, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n");
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 408"));
  EXPECT_THAT(answer, HasSubstr("\"code\":\"request_timeout\""));
  HttpResult big = HttpCall(port, "POST", "/v1/chat/completions", std::string(4096, 'x'));
  EXPECT_EQ(big.status, 413);
  EXPECT_THAT(big.body, HasSubstr("\"error\":{"));
  HttpResult malformed = HttpCall(port, "POST", "/v1/chat/completions", "{\"model\":");
  EXPECT_EQ(malformed.status, 400);
}

TEST(GatewayReliabilityTest, SlowlorisHeadersAndIdleConnectionsAreCutAndCounted) {
  std::string dir = MakeTempDir("llmrouter-gw-client-timeouts");
  auto gateway =
      StartFailSafeGateway(dir, absl::StrCat(kModel, "=127.0.0.1:", ClosedLoopbackPort()),
                           {"--client_header_timeout_ms=500", "--client_idle_timeout_ms=1500"});
  ASSERT_TRUE(gateway);
  const int port = gateway->port("http_port");

  // A header trickled byte by byte: sending it all would take a minute; the gateway answers 408
  // at the header timeout although bytes keep coming (the read timeout is still 30 s).
  HttpTestConnection slowloris(port);
  ASSERT_TRUE(slowloris.connected());
  const std::string header =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nx-pad: " + std::string(6000, 'p') + "\r\n\r\n";
  EXPECT_LT(slowloris.Trickle(header, std::chrono::milliseconds(10)), header.size());
  HttpResult cut = slowloris.ReadResponse();
  EXPECT_EQ(cut.status, 408) << cut.error;
  EXPECT_THAT(cut.body, HasSubstr("\"code\":\"request_timeout\""));
  EXPECT_TRUE(slowloris.WaitForClose(std::chrono::seconds(20)));

  // A keep-alive connection serves requests that come in time, then is closed without a word.
  HttpTestConnection client(port);
  ASSERT_TRUE(client.connected());
  const std::string ready = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 2; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_TRUE(client.Send(ready));
    HttpResult r = client.ReadResponse();
    EXPECT_EQ(r.status, 200) << r.error;
  }
  std::string received;
  EXPECT_TRUE(client.WaitForClose(std::chrono::seconds(30), &received));
  EXPECT_EQ(received, "");

  HttpResult metrics = HttpCall(gateway->port("metrics_port"), "GET", "/metrics");
  EXPECT_THAT(metrics.body,
              HasSubstr("llmrouter_gateway_client_timeouts_total{timeout=\"header\"} 1"));
  EXPECT_THAT(metrics.body,
              HasSubstr("llmrouter_gateway_client_timeouts_total{timeout=\"idle\"} 1"));
  EXPECT_THAT(metrics.body,
              HasSubstr("llmrouter_gateway_client_timeouts_total{timeout=\"read\"} 0"));
}

}  // namespace
}  // namespace llmrouter::testing
