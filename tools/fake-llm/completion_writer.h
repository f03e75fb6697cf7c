// Writes fake-llm's answer bodies in the OpenAI shapes: chat.completion, text_completion, their
// stream chunks as SSE events, embeddings and the model list. Everything that does not depend on
// the request is formatted once, up front.
#ifndef LLMROUTER_TOOLS_FAKE_LLM_COMPLETION_WRITER_H_
#define LLMROUTER_TOOLS_FAKE_LLM_COMPLETION_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/fake-llm/fake_llm_options.h"
#include "tools/fake-llm/inference_request.h"

namespace llmrouter {

inline constexpr int kEmbeddingDims = 8;

// What one answer says about itself.
struct CompletionMeta {
  std::string_view id;  // "chatcmpl-..." or "cmpl-..."
  std::int64_t created = 0;
  int model_index = 0;
  int completion_tokens = 0;
  int prompt_tokens = 0;
  bool truncated = false;  // finish_reason "length" rather than "stop"
};

// Immutable after construction, so safe to share between threads.
class CompletionWriter {
 public:
  explicit CompletionWriter(const FakeLlmOptions& options);

  // The text of the first `n` generated tokens (n <= completion_tokens()).
  std::string_view Content(int n) const {
    return std::string_view(content_).substr(0, token_end_[n]);
  }
  // Token i as it appears in the content: a word, with a leading space after the first.
  std::string_view Token(int i) const {
    return std::string_view(content_).substr(token_end_[i], token_end_[i + 1] - token_end_[i]);
  }
  int completion_tokens() const { return static_cast<int>(token_end_.size()) - 1; }

  // The whole JSON answer of a non-streaming request; `out` is cleared first.
  void WriteCompletion(InferenceApi api, const CompletionMeta& meta, std::string* out) const;
  void WriteEmbeddings(const InferenceRequest& req, std::string* out) const;
  const std::string& models_json() const { return models_json_; }

  // The SSE events of one stream. Each call returns "data: {...}\n\n", valid until the next
  // call on the same object.
  class StreamEvents {
   public:
    StreamEvents(const CompletionWriter& writer, InferenceApi api, const CompletionMeta& meta);
    std::string_view First();  // chat: the delta with the role; completions: empty
    std::string_view TokenEvent(int i);
    std::string_view Finish();
    std::string_view Usage();
    static constexpr std::string_view kDone = "data: [DONE]\n\n";

   private:
    std::string_view Event(std::string_view a, std::string_view b = {}, std::string_view c = {});
    const CompletionWriter& writer_;
    bool chat_;
    CompletionMeta meta_;
    std::size_t head_size_;
    std::string buf_;
  };

 private:
  std::string content_;
  std::vector<int> token_end_;  // token_end_[i] = end of the first i tokens in content_
  // Per served model: ,"model":"m","system_fingerprint":"fake-llm:name","choices":
  std::vector<std::string> model_fields_;
  std::vector<std::string> model_names_;
  std::string models_json_;
  std::uint64_t seed_;
};

}  // namespace llmrouter

#endif  // LLMROUTER_TOOLS_FAKE_LLM_COMPLETION_WRITER_H_
