// model: "auto" through the real gateway, decision (with the built-in classifier) and inventory:
// the held-out prompts of data/classifier/test, sent as the chat histories they are, reach the
// model that the rule for their labelled intent names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"
#include "services/decision/builtin_classifier.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"

namespace llmrouter::testing {
namespace {

constexpr char kSmall[] = "llama-3.1-8b-instruct";
constexpr char kLarge[] = "qwen2.5-72b-instruct";

struct HeldOut {
  std::string intent;
  std::string messages;  // the JSON array, as written
  std::string where;
};

std::vector<HeldOut> ReadHeldOut() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(SourcePath("data/classifier/test"))) {
    if (e.path().extension() == ".jsonl") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<HeldOut> out;
  simdjson::dom::parser parser;
  for (const std::string& f : files) {
    std::ifstream in(f);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      simdjson::dom::element doc = parser.parse(line);
      HeldOut h;
      h.intent = std::string(std::string_view(doc["intent"]));
      h.messages = simdjson::to_string(doc["messages"]);
      h.where = absl::StrCat(f, ":", n);
      out.push_back(std::move(h));
    }
  }
  return out;
}

TEST(ClassifierRoutingTest, HeldOutPromptsReachTheModelTheirIntentsRuleNames) {
  const std::string dir = MakeTempDir("llmrouter-classifier-routing");
  auto start = [&](const std::string& name, const std::string& bin, std::vector<std::string> args) {
    auto p = ServiceProcess::Start(name, BuildPath(bin), std::move(args), dir);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  };
  auto small = start("fake-small", "tools/fake-llm/fake-llm",
                     {"--port=0", absl::StrCat("--model=", kSmall), "--completion_tokens=4"});
  auto large = start("fake-large", "tools/fake-llm/fake-llm",
                     {"--port=0", absl::StrCat("--model=", kLarge), "--completion_tokens=4"});
  ASSERT_TRUE(small && large);
  std::ofstream(dir + "/endpoints.yaml") << absl::StrCat(
      "endpoints:\n  - {id: small-1, model: ", kSmall,
      ", address: \"127.0.0.1:", small->port("http_port"), "\"}\n  - {id: large-1, model: ", kLarge,
      ", address: \"127.0.0.1:", large->port("http_port"), "\"}\n");
  // The rules name intents of the built-in taxonomy: technical work to the large model.
  std::ofstream(dir + "/policy.yaml")
      << absl::StrCat("models:\n  - {name: ", kSmall, "}\n  - {name: ", kLarge, "}\n",
                      "classifier: {sha256: ", Sha256Hex(decision::BuiltinClassifierModel()), "}\n",
                      "rules:\n"
                      "  - name: technical-to-large\n"
                      "    match: {model: [auto], intent: [code, math, data_analysis]}\n"
                      "    then: {candidates: [",
                      kLarge,
                      "]}\n"
                      "  - name: rest-to-small\n"
                      "    match: {model: [auto]}\n"
                      "    then: {candidates: [",
                      kSmall, "]}\n");
  auto inventory = start("inventory", "services/inventory/inventory",
                         {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1",
                          "--endpoints_file=" + dir + "/endpoints.yaml"});
  ASSERT_TRUE(inventory);
  auto decision =
      start("decision", "services/decision/decision",
            {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1", "--db=" + dir + "/d.db",
             "--policy_file=" + dir + "/policy.yaml",
             absl::StrCat("--inventory_target=127.0.0.1:", inventory->port("grpc_port"))});
  ASSERT_TRUE(decision);
  auto gateway = start("gateway", "services/gateway/gateway",
                       {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
                        absl::StrCat("--decision_target=127.0.0.1:", decision->port("grpc_port"))});
  ASSERT_TRUE(gateway);
  auto send = [&](const std::string& messages) {
    return HttpCall(gateway->port("http_port"), "POST", "/v1/chat/completions",
                    absl::StrCat(R"({"model":"auto","max_tokens":4,"messages":)", messages, "}"));
  };
  // Decision routes once its first inventory snapshot has arrived.
  const std::string hello = R"([{"role":"user","content":"hello"}])";
  for (int i = 0; i < 500 && send(hello).status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  const std::vector<HeldOut> prompts = ReadHeldOut();
  ASSERT_GE(prompts.size(), 400u);
  std::map<std::string, std::pair<int, int>> per_intent;  // right, total
  int right = 0;
  for (const HeldOut& h : prompts) {
    const HttpResult r = send(h.messages);
    ASSERT_EQ(r.status, 200) << h.where << ": " << r.body;
    const bool technical = h.intent == "code" || h.intent == "math" || h.intent == "data_analysis";
    const bool ok = r.headers.count("x-router-model") &&
                    r.headers.at("x-router-model") == (technical ? kLarge : kSmall);
    right += ok;
    per_intent[h.intent].first += ok;
    per_intent[h.intent].second++;
  }
  for (const auto& [intent, counts] : per_intent) {
    std::cout << intent << ": " << counts.first << "/" << counts.second << " routed as labelled\n";
  }
  std::cout << "all: " << right << "/" << prompts.size() << "\n";
  EXPECT_GE(right * 10, static_cast<int>(prompts.size()) * 9)
      << right << " of " << prompts.size() << " reached their label's model";
}

}  // namespace
}  // namespace llmrouter::testing
