// Structured logging: one line per event, "key=value" text or JSON, through spdlog.
#ifndef LLMROUTER_COMMON_LOGGING_H_
#define LLMROUTER_COMMON_LOGGING_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

// Lets spdlog format absl::string_view, which Debian's Abseil keeps distinct from
// std::string_view (include this header rather than spdlog's directly).
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};

namespace llmrouter {

// Sets up the default logger for a service. `level` is one of trace, debug, info, warn, error;
// `format` is "text" or "json". Invalid values give InvalidArgument and leave logging unchanged.
absl::Status InitLogging(absl::string_view service, absl::string_view level,
                         absl::string_view format);

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_LOGGING_H_
