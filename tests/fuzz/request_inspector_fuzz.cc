// libFuzzer target: the gateway's reading of a client's request body, and the model rewrite
// that follows it. A body the inspector accepts, rewritten to another model, must inspect the
// same except for the model.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "services/gateway/request_inspector.h"

namespace {

using llmrouter::gateway::InspectedRequest;
using llmrouter::gateway::RequestInspector;

void Fail(const char* what) {
  std::fprintf(stderr, "request inspector: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static RequestInspector* inspector = new RequestInspector({.excerpt_limit_bytes = 256});
  std::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<InspectedRequest> first = inspector->Inspect(body);
  if (!first.ok()) return 0;
  if (first->model.empty()) Fail("accepted an empty model");
  if (first->excerpt.size() > 256) Fail("excerpt above the limit");
  if (first->model_token_offset + first->model_token_size > size) Fail("model token outside");
  const std::string rewritten = RequestInspector::RewriteModel(body, *first, "fuzz-model\"\\");
  absl::StatusOr<InspectedRequest> second = inspector->Inspect(rewritten);
  if (!second.ok()) Fail("the rewritten body does not inspect");
  if (second->model != "fuzz-model\"\\") Fail("the rewritten body names another model");
  if (second->stream != first->stream || second->excerpt != first->excerpt ||
      second->max_output_tokens != first->max_output_tokens ||
      second->message_count != first->message_count) {
    Fail("the rewrite changed more than the model");
  }
  return 0;
}
