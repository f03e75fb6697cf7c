#include "tools/fake-llm/fake_llm_options.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace llmrouter {

namespace {

constexpr int kMaxCompletionTokens = 100000;
constexpr int kMaxDelayMs = 3600 * 1000;

template <typename T>
absl::Status CheckRange(const char* flag, T value, T lo, T hi) {
  if (value >= lo && value <= hi) return absl::OkStatus();  // also rejects NaN
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " must be in [", lo, ", ", hi, "], got ", value));
}

bool SafeName(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    // Names go into JSON, HTTP headers and Prometheus labels unescaped.
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == ',') return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateFakeLlmOptions(const FakeLlmOptions& o) {
  if (o.models.empty()) return absl::InvalidArgumentError("--model needs at least one name");
  for (const std::string& m : o.models) {
    if (!SafeName(m)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--model \"", m,
                       "\" must be non-empty printable ASCII without spaces, quotes, "
                       "backslashes or commas"));
    }
  }
  if (!o.name.empty() && !SafeName(o.name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--name \"", o.name, "\" must be printable ASCII without spaces, quotes or backslashes"));
  }
  if (!o.api_key.empty() && !SafeName(o.api_key)) {
    return absl::InvalidArgumentError(
        "--api_key must be printable ASCII without spaces, quotes or backslashes");
  }
  RETURN_IF_ERROR(CheckRange("port", o.port, 0, 65535));
  RETURN_IF_ERROR(CheckRange("threads", o.threads, 1, 256));
  RETURN_IF_ERROR(CheckRange("latency_ms", o.latency_ms, 0, kMaxDelayMs));
  RETURN_IF_ERROR(CheckRange("per_token_ms", o.per_token_ms, 0, kMaxDelayMs));
  RETURN_IF_ERROR(CheckRange("completion_tokens", o.completion_tokens, 0, kMaxCompletionTokens));
  RETURN_IF_ERROR(CheckRange("max_concurrency", o.max_concurrency, 1, 1 << 20));
  RETURN_IF_ERROR(CheckRange("error_rate", o.error_rate, 0.0, 1.0));
  RETURN_IF_ERROR(CheckRange("error_status", o.error_status, 400, 599));
  RETURN_IF_ERROR(CheckRange("hang_rate", o.hang_rate, 0.0, 1.0));
  RETURN_IF_ERROR(CheckRange("drop_rate", o.drop_rate, 0.0, 1.0));
  return absl::OkStatus();
}

}  // namespace llmrouter
