// In-process cost of one routing decision with a realistic policy: 50 rules, 20 models, 200
// endpoints (and 1,000 with a load-aware endpoint strategy), a 2 KB prompt. Reports mean time per
// decision and p50/p99 from a timed sample.
//   build/tests/benchmarks/decision_benchmark
#include <benchmark/benchmark.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "services/decision/builtin_classifier.h"
#include "services/decision/decision_log.h"
#include "services/decision/decision_service.h"
#include "services/decision/learned_classifier.h"
#include "services/decision/router.h"
#include "services/decision/sqlite_policy_store.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;

// `intent_rules_for_auto`: the rules with intent conditions apply only to model "auto", as a
// policy that routes "auto" by intent would write them.
std::string Bundle(bool intent_rules_for_auto = false) {
  std::string y = "models:\n";
  for (int m = 0; m < 20; ++m) {
    absl::StrAppend(
        &y, "  - {name: model-", m, ", aliases: [alias-", m, "], capabilities: [chat",
        m % 3 == 0 ? ", code" : "", "], context_window: ", 8192 << (m % 4),
        ", quality: ", 0.4 + m * 0.025, ", data_policy: ", m % 2 ? "private" : "external",
        ", price: {input_per_mtok: ", 0.1 * (m + 1), ", output_per_mtok: ", 0.2 * (m + 1), "}}\n");
  }
  y += "tenants:\n  - {name: default}\n";
  for (int t = 0; t < 10; ++t) absl::StrAppend(&y, "  - {name: tenant-", t, "}\n");
  y += "intents:\n"
       "  - {name: code, keywords: [function, compile, refactor, stack trace], patterns: ['```']}\n"
       "  - {name: legal, keywords: [contract, liability, indemnify, clause]}\n"
       "  - {name: math, keywords: [integral, derivative, prove, theorem]}\n"
       "rules:\n";
  // 49 rules that fail on different conditions, then a catch-all for "auto".
  for (int r = 0; r < 49; ++r) {
    absl::StrAppend(&y, "  - name: rule-", r, "\n    match: {");
    switch (r % 5) {
      case 0:
        absl::StrAppend(&y, "tenant: [tenant-", r % 10, "], intent: [legal]");
        break;
      case 1:
        absl::StrAppend(&y, "headers: {x-team: {regex: \"team-", r, "-.*\"}}");
        break;
      case 2:
        absl::StrAppend(&y, "tier: [batch], region: [region-", r, "]");
        break;
      case 3:
        absl::StrAppend(&y, "model: [alias-", r % 20, "], complexity: {min: 0.95}");
        break;
      case 4:
        absl::StrAppend(&y, intent_rules_for_auto ? "model: [auto], " : "",
                        "intent: [math], tokens: {max: 100}");
        break;
    }
    absl::StrAppend(&y, "}\n    then: {candidates: [model-", r % 20, ", model-", (r + 7) % 20,
                    "]}\n");
  }
  y += "  - name: auto-default\n    match: {model: [auto]}\n"
       "    then: {candidates: [model-3, model-6, model-9, model-12], strategy: cheapest,"
       " constraints: {max_cost_usd: 0.5}}\n";
  return y;
}

struct Fixture {
  explicit Fixture(int endpoints = 200, bool intent_rules_for_auto = false) {
    auto bundle = ParsePolicyBundleOrError(Bundle(intent_rules_for_auto));
    if (!bundle.ok()) std::abort();
    policy = CompiledPolicy::Compile(*bundle, 1, "h");
    v1::InventorySnapshot s;
    for (int e = 0; e < endpoints; ++e) {
      v1::Endpoint* ep = s.add_endpoints();
      ep->set_id(absl::StrCat("ep-", e));
      ep->set_model(absl::StrCat("model-", e % 20));
      ep->set_address(absl::StrCat("10.0.", e / 250, ".", e % 250, ":8000"));
      ep->set_health(e % 17 == 0 ? v1::HEALTH_STATE_UNHEALTHY : v1::HEALTH_STATE_HEALTHY);
    }
    view = std::make_unique<InventoryView>(s, absl::Now());
    snapshot = s;
    std::string prompt;
    while (prompt.size() < 2048) {
      prompt +=
          "Please refactor this function so that it handles the error path, and explain the "
          "trade-offs of each approach step by step. ";
    }
    request.set_model("auto");
    request.set_tenant("tenant-3");
    (*request.mutable_headers())["x-team"] = "platform";
    request.mutable_prompt()->set_excerpt(prompt.substr(0, 2048));
  }
  std::shared_ptr<const CompiledPolicy> policy;
  std::unique_ptr<InventoryView> view;
  v1::InventorySnapshot snapshot;
  v1::RouteRequestRequest request;
};

// Times every call (up to 64k samples) for the p50/p99 counters.
void RunDecisions(benchmark::State& state, const Fixture& f, const v1::RouteRequestRequest& req,
                  const RouterOptions& options = {}) {
  std::vector<double> samples;
  samples.reserve(1 << 16);
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    v1::RouteRequestResponse resp;
    absl::Status s = Route(f.policy.get(), f.view.get(), req, absl::Now(), options, &resp);
    benchmark::DoNotOptimize(resp);
    if (samples.size() < samples.capacity()) {
      samples.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count());
    }
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
  }
  std::sort(samples.begin(), samples.end());
  if (!samples.empty()) {
    state.counters["p50_us"] = samples[samples.size() / 2];
    state.counters["p99_us"] = samples[samples.size() * 99 / 100];
  }
}

const Fixture& TwoHundred() {
  static const Fixture* f = new Fixture(200);
  return *f;
}

void BM_Decision(benchmark::State& state) {
  RunDecisions(state, TwoHundred(), TwoHundred().request);
}

void BM_DecisionWithExplain(benchmark::State& state) {
  v1::RouteRequestRequest req = TwoHundred().request;
  req.set_explain(true);
  RunDecisions(state, TwoHundred(), req);
}

// 1,000 endpoints (50 per model), load-aware choice (p2c) and a session key: the endpoint stage
// at fleet scale.
void BM_DecisionThousandEndpointsP2C(benchmark::State& state) {
  static const Fixture* f = [] {
    auto* fx = new Fixture(1000);
    std::string yaml = Bundle();
    yaml.replace(yaml.find("strategy: cheapest,"), 19,
                 "strategy: cheapest, endpoint_strategy: p2c,");
    auto b = ParsePolicyBundleOrError(yaml);
    if (!b.ok()) std::abort();
    fx->policy = CompiledPolicy::Compile(*b, 1, "h");
    fx->request.set_session_key("session-42");
    return fx;
  }();
  RunDecisions(state, *f, f->request);
}

// A request for a named model, with the gateway's token estimate, under a policy whose intent
// rules are for "auto" only: no rule it reaches needs the prompt analysed.
void BM_DecisionExplicitModel(benchmark::State& state) {
  static const Fixture* f = [] {
    auto* fx = new Fixture(200, /*intent_rules_for_auto=*/true);
    fx->request.set_model("model-5");
    fx->request.mutable_prompt()->set_estimated_tokens(512);
    return fx;
  }();
  RunDecisions(state, *f, f->request);
}

// A named model whose endpoints are half on a canary track, under a rule's track split (0) or
// a running rollout (1): what a rollout adds to a decision (its weights read from the table the
// rollout controller publishes).
void BM_DecisionTracks(benchmark::State& state) {
  const bool rollout = state.range(0) == 1;
  static const Fixture* fixtures[2] = {};
  static RolloutRoutes routes;
  const Fixture*& f = fixtures[rollout];
  if (f == nullptr) {
    auto* fx = new Fixture(200, /*intent_rules_for_auto=*/true);
    std::string yaml = Bundle(true);
    yaml.insert(yaml.find("  - name: auto-default"),
                rollout ? "" : "  - {name: tracks, match: {model: [model-5]}, then: {candidates: "
                               "[model-5], tracks: {stable: 75, canary: 25}}}\n");
    if (rollout) {
      yaml += "rollouts:\n  - {name: m5, model: model-5, steps: [{weight: 25, duration: 1h}, "
              "{weight: 100, duration: 1h}], analysis: {error_rate: {max: 0.1}}}\n";
      RolloutRouteMap map;
      map["model-5"] = RolloutRoute{"m5", "stable", "canary", 25, "", "progressing", 0, 2};
      routes.Publish(std::move(map));
    }
    auto b = ParsePolicyBundleOrError(yaml);
    if (!b.ok()) std::abort();
    fx->policy = CompiledPolicy::Compile(*b, 1, "h");
    v1::InventorySnapshot s = fx->snapshot;
    for (int e = 0; e < s.endpoints_size(); ++e) {
      s.mutable_endpoints(e)->set_track(e % 40 < 20 ? "stable" : "canary");
    }
    fx->view = std::make_unique<InventoryView>(s, absl::Now());
    fx->request.set_model("model-5");
    fx->request.mutable_prompt()->set_estimated_tokens(512);
    f = fx;
  }
  RouterOptions options;
  options.rollouts = &routes;
  RunDecisions(state, *f, f->request, options);
}

// A realistic user message of about `bytes` bytes (a question, then pasted material).
std::string UserMessage(std::size_t bytes) {
  std::string m =
      "Can you look at this Python function and tell me why it returns None when the list is "
      "empty, and how to fix it without breaking the callers? ";
  while (m.size() < bytes) {
    m += "def first_even(xs):\n    for x in xs:\n        if x % 2 == 0:\n            return x\n";
  }
  return m.substr(0, bytes);
}

const LearnedClassifier& Builtin() {
  static const auto* model = [] {
    auto m = LearnedClassifier::Load(std::string(BuiltinClassifierModel()));
    if (!m.ok()) std::abort();
    return new std::shared_ptr<const LearnedClassifier>(*m);
  }();
  return **model;
}

// The built-in classifier alone on a 200-byte or 2 KB message (it reads at most 512 bytes).
void BM_ClassifyOnly(benchmark::State& state) {
  const std::string text = UserMessage(static_cast<std::size_t>(state.range(0)));
  std::vector<double> samples;
  samples.reserve(1 << 16);
  ClassifierOutput out;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    Builtin().Classify(text, &out);
    benchmark::DoNotOptimize(out);
    if (samples.size() < samples.capacity()) {
      samples.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count());
    }
  }
  std::sort(samples.begin(), samples.end());
  state.counters["p50_us"] = samples[samples.size() / 2];
  state.counters["p99_us"] = samples[samples.size() * 99 / 100];
}

// The whole "auto" route with the built-in classifier: the realistic bundle whose intent rules
// are for "auto", plus the classifier; the gateway's last user message of 200 bytes or 2 KB.
void BM_DecisionAutoClassified(benchmark::State& state) {
  static const Fixture* f = [] {
    auto* fx = new Fixture(200, /*intent_rules_for_auto=*/true);
    std::string yaml = Bundle(/*intent_rules_for_auto=*/true);
    yaml += absl::StrCat("classifier: {sha256: ", BuiltinClassifierSha256(), "}\n");
    auto b = ParsePolicyBundleOrError(yaml);
    if (!b.ok()) std::abort();
    auto model = LearnedClassifier::Load(std::string(BuiltinClassifierModel()));
    if (!model.ok()) std::abort();
    fx->policy = CompiledPolicy::Compile(*b, 1, "h", *model);
    return fx;
  }();
  v1::RouteRequestRequest req = f->request;
  const std::string message = UserMessage(static_cast<std::size_t>(state.range(0)));
  req.mutable_prompt()->set_last_user_message(message);
  req.mutable_prompt()->set_excerpt(message);
  req.mutable_prompt()->set_estimated_tokens(static_cast<uint32_t>(message.size() / 4));
  RunDecisions(state, *f, req);
}

// The service's route path (what RouteStream and the route link call for each request:
// DecisionServiceImpl::AnswerCall, with its metrics) and the decision log: 0 off, 1 a compact
// record of every decision, 2 the default (compact, and the full trace for 1%), 3 every trace.
void BM_ServiceRoute(benchmark::State& state) {
  const Fixture& f = TwoHundred();
  auto store = SqlitePolicyStore::Open(":memory:");
  if (!store.ok()) std::abort();
  ActivePolicy policy(**store);
  if (!policy.Apply(Bundle(), "bench", "").ok()) std::abort();
  prometheus::Registry registry;
  DecisionMetrics metrics(registry);
  DecisionLogOptions options;
  // A full log, as in steady state: each record replaces the oldest.
  options.max_bytes = state.range(0) == 0 ? 0 : 4u << 20;
  options.trace_sample = state.range(0) == 1 ? 0 : state.range(0) == 2 ? 0.01 : 1;
  DecisionLog log(options, &registry);
  DecisionServiceImpl service(policy, metrics, RouterOptions{});
  service.SetInventory(std::make_shared<InventoryView>(f.snapshot, absl::Now()));
  service.set_decision_log(&log);
  v1::RouteCall call;
  *call.mutable_request() = f.request;
  uint64_t n = 0;
  for (auto _ : state) {
    call.set_id(++n);
    call.mutable_request()->set_request_id(absl::StrCat("req-", n));
    v1::RouteResult result;
    service.AnswerCall(call, &result);
    if (result.status_code() != 0) state.SkipWithError(result.status_message().c_str());
    benchmark::DoNotOptimize(result);
  }
  state.counters["log_records"] = static_cast<double>(log.records());
}

BENCHMARK(BM_Decision);
BENCHMARK(BM_ServiceRoute)->Arg(0)->Arg(1)->Arg(2)->Arg(3);
BENCHMARK(BM_DecisionExplicitModel);
BENCHMARK(BM_DecisionTracks)->Arg(0)->Arg(1);
BENCHMARK(BM_ClassifyOnly)->Arg(200)->Arg(2048);
BENCHMARK(BM_DecisionAutoClassified)->Arg(200)->Arg(2048);
BENCHMARK(BM_DecisionWithExplain);
BENCHMARK(BM_DecisionThousandEndpointsP2C);

}  // namespace
}  // namespace llmrouter::decision

BENCHMARK_MAIN();
