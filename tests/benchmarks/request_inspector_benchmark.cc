// Cost of RequestInspector::Inspect on the gateway's hot path: parsing a chat body, taking the
// excerpt and the last user message, and estimating the whole prompt's tokens.
//   build/tests/benchmarks/request_inspector_benchmark
#include <benchmark/benchmark.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "services/gateway/request_inspector.h"

namespace llmrouter::gateway {
namespace {

// A chat body with a system prompt and `turns` user/assistant turns of about `bytes` each.
std::string ChatBody(std::size_t bytes, int turns, bool cjk) {
  const std::string unit = cjk ? "请帮我检查这段代码有没有错误，并解释原因。"
                               : "Please refactor this function so that it handles the error "
                                 "path, and explain the trade-offs. ";
  std::string text;
  while (text.size() < bytes) text += unit;
  std::string body = R"({"model":"auto","messages":[{"role":"system","content":"Be brief."})";
  for (int t = 0; t < turns; ++t) {
    absl::StrAppend(&body, R"(,{"role":"user","content":")", text, R"("})");
    if (t + 1 < turns) absl::StrAppend(&body, R"(,{"role":"assistant","content":")", text, R"("})");
  }
  body += R"(],"max_tokens":256})";
  return body;
}

void Inspect(benchmark::State& state, const std::string& body) {
  RequestInspector inspector;
  for (auto _ : state) {
    auto inspected = inspector.Inspect(body);
    benchmark::DoNotOptimize(inspected);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_Inspect2KiB(benchmark::State& state) { Inspect(state, ChatBody(2048, 1, false)); }
void BM_Inspect2KiBCjk(benchmark::State& state) { Inspect(state, ChatBody(2048, 1, true)); }
void BM_Inspect60KiBHistory(benchmark::State& state) { Inspect(state, ChatBody(4096, 8, false)); }
void BM_Inspect1MiB(benchmark::State& state) { Inspect(state, ChatBody(1 << 20, 1, false)); }

BENCHMARK(BM_Inspect2KiB);
BENCHMARK(BM_Inspect2KiBCjk);
BENCHMARK(BM_Inspect60KiBHistory);
BENCHMARK(BM_Inspect1MiB);

}  // namespace
}  // namespace llmrouter::gateway

BENCHMARK_MAIN();
