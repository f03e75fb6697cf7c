// The OpenAI API's error body: {"error":{"message","type","param","code"}}.
#ifndef LLMROUTER_COMMON_OPENAI_ERROR_H_
#define LLMROUTER_COMMON_OPENAI_ERROR_H_

#include <string>
#include <string_view>

namespace llmrouter {

// The OpenAI error "type" conventionally paired with an HTTP status.
std::string_view OpenAiErrorType(int http_status);

// Builds the JSON error body. `code` may be empty (rendered as null).
std::string OpenAiErrorJson(int http_status, std::string_view message, std::string_view code = {});

// Appends `s` to `out` as a JSON string literal, quotes included.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_OPENAI_ERROR_H_
