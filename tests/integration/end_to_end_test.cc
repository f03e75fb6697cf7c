// The foundation slice end to end: prompts sent to the gateway reach the fake backend that the
// decision service chose from the inventory's view, as real processes on loopback.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"

namespace llmrouter::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kSmall[] = "llama-3.1-8b-instruct";
constexpr char kLarge[] = "qwen2.5-72b-instruct";

class EndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("llmrouter-e2e"));
    auto start = [](const std::string& name, const std::string& bin,
                    std::vector<std::string> args) {
      auto p = ServiceProcess::Start(name, BuildPath(bin), std::move(args), *dir_);
      EXPECT_TRUE(p.ok()) << p.status();
      return p.ok() ? std::move(*p) : nullptr;
    };
    small_ = start("fake-small", "tools/fake-llm/fake-llm",
                   {"--port=0", absl::StrCat("--model=", kSmall), "--name=small-backend",
                    "--completion_tokens=8"})
                 .release();
    large_ = start("fake-large", "tools/fake-llm/fake-llm",
                   {"--port=0", absl::StrCat("--model=", kLarge), "--name=large-backend",
                    "--completion_tokens=8"})
                 .release();
    ASSERT_TRUE(small_ && large_);
    std::ofstream(*dir_ + "/endpoints.yaml") << absl::StrCat(
        "endpoints:\n"
        "  - {id: small-dead, model: ",
        kSmall, ", address: \"127.0.0.1:", ClosedLoopbackPort(), "\"}\n",
        "  - {id: small-live, model: ", kSmall,
        ", address: \"127.0.0.1:", small_->port("http_port"), "\"}\n",
        "  - {id: large-live, model: ", kLarge,
        ", address: \"127.0.0.1:", large_->port("http_port"), "\"}\n");
    std::ofstream(*dir_ + "/policy.yaml")
        << absl::StrCat("models:\n  - name: ", kSmall, "\n    aliases: [small]\n  - name: ", kLarge,
                        "\n    aliases: [large]\n");
    inventory_ = start("inventory", "services/inventory/inventory",
                       {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1",
                        "--endpoints_file=" + *dir_ + "/endpoints.yaml",
                        // The dead endpoint must stay HEALTHY in inventory's eyes so that the
                        // gateway meets it and follows the fallback plan.
                        "--active_health_checks=false"})
                     .release();
    ASSERT_TRUE(inventory_);
    decision_ = start("decision", "services/decision/decision",
                      {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1",
                       "--db=" + *dir_ + "/decision.db", "--policy_file=" + *dir_ + "/policy.yaml",
                       absl::StrCat("--inventory_target=127.0.0.1:", inventory_->port("grpc_port")),
                       "--route_link_port=0"})
                    .release();
    ASSERT_TRUE(decision_);
    gateway_ = start("gateway", "services/gateway/gateway",
                     {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
                      absl::StrCat("--decision_target=127.0.0.1:", decision_->port("grpc_port"))})
                   .release();
    ASSERT_TRUE(gateway_);
    // The same over the route link, and with a link whose port nothing listens on.
    link_gateway_ =
        start(
            "gateway-link", "services/gateway/gateway",
            {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
             absl::StrCat("--decision_target=127.0.0.1:", decision_->port("grpc_port")),
             absl::StrCat("--decision_link_target=127.0.0.1:", decision_->port("route_link_port"))})
            .release();
    dead_link_gateway_ =
        start("gateway-dead-link", "services/gateway/gateway",
              {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
               absl::StrCat("--decision_target=127.0.0.1:", decision_->port("grpc_port")),
               absl::StrCat("--decision_link_target=127.0.0.1:", ClosedLoopbackPort())})
            .release();
    ASSERT_TRUE(link_gateway_ && dead_link_gateway_);
    // Decision routes once its first inventory snapshot has arrived.
    for (int i = 0; i < 500; ++i) {
      if (Chat(kLarge, false).status == 200) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  static void TearDownTestSuite() {
    delete dead_link_gateway_;
    delete link_gateway_;
    delete gateway_;
    delete decision_;
    delete inventory_;
    delete small_;
    delete large_;
  }

  static HttpResult Chat(const std::string& model, bool stream, ServiceProcess* gateway = nullptr) {
    std::string body =
        absl::StrCat(R"({"model":")", model, R"(","messages":[{"role":"user","content":"Say hi"}])",
                     stream ? R"(,"stream":true})" : "}");
    return HttpCall((gateway ? gateway : gateway_)->port("http_port"), "POST",
                    "/v1/chat/completions", body);
  }

  // The value of an unlabelled series on `p`'s /metrics; -1 when it is missing.
  static double Scrape(ServiceProcess* p, const std::string& series) {
    std::string text = HttpCall(p->port("metrics_port"), "GET", "/metrics").body;
    std::size_t at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
  }

  static std::string* dir_;
  static ServiceProcess* small_;
  static ServiceProcess* large_;
  static ServiceProcess* inventory_;
  static ServiceProcess* decision_;
  static ServiceProcess* gateway_;
  static ServiceProcess* link_gateway_;
  static ServiceProcess* dead_link_gateway_;
};

std::string* EndToEndTest::dir_;
ServiceProcess* EndToEndTest::small_;
ServiceProcess* EndToEndTest::large_;
ServiceProcess* EndToEndTest::inventory_;
ServiceProcess* EndToEndTest::decision_;
ServiceProcess* EndToEndTest::gateway_;
ServiceProcess* EndToEndTest::link_gateway_;
ServiceProcess* EndToEndTest::dead_link_gateway_;

TEST_F(EndToEndTest, JsonRequestsReachTheBackendOfEachModel) {
  for (const auto& [model, backend, endpoint] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {kLarge, "large-backend", "large-live"}, {"large", "large-backend", "large-live"}}) {
    HttpResult r = Chat(model, false);
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.header("x-fake-llm-backend"), backend);
    EXPECT_EQ(r.header("x-router-model"), kLarge);
    EXPECT_EQ(r.header("x-router-endpoint"), endpoint);
    EXPECT_EQ(r.header("x-router-decision-id").size(), 16u);
    EXPECT_THAT(r.body, HasSubstr("\"object\":\"chat.completion\""));
    EXPECT_THAT(r.body, HasSubstr(absl::StrCat("\"model\":\"", kLarge, "\"")));
  }
}

TEST_F(EndToEndTest, DeadEndpointIsSkippedThroughTheFallbackPlan) {
  // Round robin alternates between the dead and the live endpoint of the small model: every
  // request still succeeds on the live one, and those that tried the dead one say so.
  int fell_back = 0;
  for (int i = 0; i < 4; ++i) {
    HttpResult r = Chat(kSmall, false);
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.header("x-fake-llm-backend"), "small-backend");
    EXPECT_EQ(r.header("x-router-endpoint"), "small-live");
    if (r.header("x-router-fallbacks") == "1") ++fell_back;
  }
  EXPECT_GE(fell_back, 1);
}

TEST_F(EndToEndTest, StreamsArriveChunkByChunkFromTheRightBackend) {
  for (const auto& [model, backend] : std::vector<std::pair<std::string, std::string>>{
           {kSmall, "small-backend"}, {kLarge, "large-backend"}}) {
    HttpResult r = Chat(model, true);
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_THAT(r.header("content-type"), HasSubstr("text/event-stream"));
    EXPECT_TRUE(r.chunked);
    EXPECT_EQ(r.header("x-fake-llm-backend"), backend);
    std::vector<std::string> events = SseData(r.body);
    ASSERT_GE(events.size(), 4u) << r.body;
    EXPECT_EQ(events.back(), "[DONE]");
    EXPECT_THAT(events.front(), HasSubstr("chat.completion.chunk"));
    EXPECT_THAT(events.front(), HasSubstr(model));
  }
}

TEST_F(EndToEndTest, UnknownModelIsA404InTheOpenAiErrorShape) {
  HttpResult r = Chat("gpt-nonexistent", false);
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("\"error\":{"));
  EXPECT_THAT(r.body, HasSubstr("\"code\":\"model_not_found\""));
  EXPECT_THAT(r.body, HasSubstr("gpt-nonexistent"));
  EXPECT_THAT(r.body, HasSubstr("\"type\":\"invalid_request_error\""));
}

TEST_F(EndToEndTest, MalformedJsonIsA400AndTheGatewaySurvives) {
  HttpResult r =
      HttpCall(gateway_->port("http_port"), "POST", "/v1/chat/completions", "{\"model\": \"x\", ");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("\"error\":{"));
  EXPECT_EQ(Chat(kLarge, false).status, 200);
}

TEST_F(EndToEndTest, ModelListComesFromThePolicyCatalog) {
  HttpResult r = HttpCall(gateway_->port("http_port"), "GET", "/v1/models");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("\"object\":\"list\""));
  EXPECT_THAT(r.body, HasSubstr(kSmall));
  EXPECT_THAT(r.body, HasSubstr(kLarge));
}

TEST_F(EndToEndTest, EveryServiceServesPrometheusMetrics) {
  ASSERT_EQ(Chat(kLarge, false).status, 200);
  struct Expect {
    ServiceProcess* p;
    std::string port_key;
    std::string series;
  };
  for (const Expect& e : std::vector<Expect>{
           {inventory_, "metrics_port", "llmrouter_inventory_endpoints{health=\"healthy\"} 3"},
           {decision_, "metrics_port", "llmrouter_decision_routes_total{code=\"ok\"}"},
           {decision_, "metrics_port", "llmrouter_decision_inventory_connected 1"},
           {gateway_, "metrics_port", "llmrouter_gateway_requests_total"},
           {large_, "http_port", "vllm:num_requests_running"}}) {
    HttpResult r = HttpCall(e.p->port(e.port_key), "GET", "/metrics");
    ASSERT_EQ(r.status, 200) << e.series;
    EXPECT_THAT(r.body, HasSubstr(e.series));
  }
  // The gateway routes over RouteStream calls (one per slot used so far), not unary calls.
  EXPECT_THAT(HttpCall(decision_->port("metrics_port"), "GET", "/metrics").body,
              ::testing::ContainsRegex("llmrouter_decision_route_streams_open [1-9]"));
}

TEST_F(EndToEndTest, TheRouteLinkCarriesEveryDecisionOnceItIsUp) {
  for (int i = 0;
       i < 500 && Scrape(link_gateway_, "llmrouter_gateway_decision_link_connections") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(Scrape(link_gateway_, "llmrouter_gateway_decision_link_connections"), 1);
  EXPECT_GE(Scrape(decision_, "llmrouter_decision_route_link_connections"), 1);
  const double fallbacks = Scrape(link_gateway_, "llmrouter_gateway_decision_link_fallbacks_total");
  for (int i = 0; i < 10; ++i) {
    HttpResult r = Chat("large", i % 2 == 1, link_gateway_);
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.header("x-fake-llm-backend"), "large-backend");
    EXPECT_EQ(r.header("x-router-model"), kLarge);
    EXPECT_THAT(r.header("x-router-decision-id"), ::testing::Not(::testing::IsEmpty()));
  }
  // Decision's own errors travel the link too.
  HttpResult unknown = Chat("no-such-model", false, link_gateway_);
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_THAT(unknown.body, HasSubstr("model_not_found"));
  EXPECT_EQ(Scrape(link_gateway_, "llmrouter_gateway_decision_link_fallbacks_total"), fallbacks);
}

TEST_F(EndToEndTest, ALinkThatCannotConnectLeavesRoutingToGrpc) {
  HttpResult r = Chat(kLarge, false, dead_link_gateway_);
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  EXPECT_EQ(r.header("x-fake-llm-backend"), "large-backend");
  EXPECT_EQ(Scrape(dead_link_gateway_, "llmrouter_gateway_decision_link_connections"), 0);
  EXPECT_GE(Scrape(dead_link_gateway_, "llmrouter_gateway_decision_link_fallbacks_total"), 1);
}

}  // namespace
}  // namespace llmrouter::testing
