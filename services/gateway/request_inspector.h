// Reads what routing needs from an OpenAI request body, and rewrites only the model name in the
// original bytes, so that everything else reaches the backend exactly as the client sent it.
#ifndef LLMROUTER_SERVICES_GATEWAY_REQUEST_INSPECTOR_H_
#define LLMROUTER_SERVICES_GATEWAY_REQUEST_INSPECTOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/token_estimator.h"
#include "simdjson.h"

namespace llmrouter::gateway {

// What the gateway understood of one request body.
struct InspectedRequest {
  std::string model;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // max_completion_tokens when present, else max_tokens; 0 when absent. Clamped to 2^32-1.
  uint32_t max_output_tokens = 0;
  uint32_t message_count = 0;
  // OpenAI's "user" field (the caller's id for its end user), cut at a UTF-8 character boundary
  // to at most kMaxUserBytes: decision's user key, which sticky rules keep on one variant.
  std::string user;
  // The prompt text (message contents joined by '\n', or `prompt`, or `input`), cut at a
  // UTF-8 character boundary to at most the inspector's excerpt limit.
  std::string excerpt;
  bool excerpt_truncated = false;
  // The text of the last message whose role is "user" (content parts joined by '\n'), or the
  // whole `prompt` of a completion, cut at a UTF-8 character boundary to at most the inspector's
  // classifier window: what decision matches intents on.
  std::string last_user_message;
  // Bytes of the whole prompt text, and its cl100k token estimate in full, however long
  // (common/token_estimator.h's PromptTokenCounter: exact on the first 4 KiB, per-script weights
  // beyond), plus, for chat, the template's tokens (kChatTokensPerMessage per message and
  // kChatReplyTokens), as OpenAI counts prompt tokens. Clamped to 2^32-1.
  std::size_t prompt_bytes = 0;
  uint32_t estimated_tokens = 0;
  // Where the model's JSON string token (quotes included) sits in the body.
  std::size_t model_token_offset = 0;
  std::size_t model_token_size = 0;
};

// A chat message costs its role and the template's separators besides its content, and every
// reply is primed with a few tokens (OpenAI's cookbook counts 3 + 1 per message and 3 per reply).
inline constexpr std::size_t kMaxUserBytes = 256;
inline constexpr uint32_t kChatTokensPerMessage = 4;
inline constexpr uint32_t kChatReplyTokens = 3;

struct RequestInspectorOptions {
  std::size_t excerpt_limit_bytes = 8 << 10;
  // Largest last user message kept for decision's intent matching and classifier.
  std::size_t classifier_window_bytes = 2 << 10;
};

// A RequestInspector keeps a simdjson parser and a scratch buffer between calls so that the hot
// path does not allocate: it is not thread-safe, use one per thread. Inspect() fails with
// InvalidArgument, with a message fit for the client, when the body is not a JSON object, when
// "model" is missing, empty, not a string or given twice, or when a field routing reads has the
// wrong type.
class RequestInspector {
 public:
  explicit RequestInspector(RequestInspectorOptions options = {});

  absl::StatusOr<InspectedRequest> Inspect(std::string_view body);

  // Returns `body` with the model string token located by `inspected` replaced by `new_model`
  // as a JSON string; every other byte is unchanged. `inspected` must come from `body`.
  static std::string RewriteModel(std::string_view body, const InspectedRequest& inspected,
                                  std::string_view new_model);
  // Convenience for callers that did not inspect: inspects, then rewrites.
  absl::StatusOr<std::string> RewriteModel(std::string_view body, std::string_view new_model);

 private:
  absl::Status ReadTopLevel(simdjson::ondemand::object object, const char* base,
                            InspectedRequest* out);
  absl::Status ReadMessages(simdjson::ondemand::value messages, InspectedRequest* out);
  absl::Status ReadPromptText(simdjson::ondemand::value value, const char* field,
                              InspectedRequest* out);
  // Adds one piece of prompt text to the excerpt, the estimate and, while a message is
  // captured, to message_text_.
  void AppendText(std::string_view text, InspectedRequest* out);
  // Appends `text` to message_text_ within the classifier window.
  void CaptureText(std::string_view text);

  RequestInspectorOptions options_;
  // The text of the message being read, within the classifier window, while capturing_.
  std::string message_text_;
  bool capturing_ = false;
  PromptTokenCounter tokens_;
  simdjson::ondemand::parser parser_;
  std::string scratch_;  // the body plus simdjson's padding
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_REQUEST_INSPECTOR_H_
