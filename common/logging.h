// Structured logging: one line per event, "key=value" text or JSON, through spdlog.
#ifndef LLMROUTER_COMMON_LOGGING_H_
#define LLMROUTER_COMMON_LOGGING_H_

#include <string_view>

#include "absl/status/status.h"
#include "spdlog/spdlog.h"

namespace llmrouter {

// Sets up the default logger for a service. `level` is one of trace, debug, info, warn, error;
// `format` is "text" or "json". Invalid values give InvalidArgument and leave logging unchanged.
absl::Status InitLogging(std::string_view service, std::string_view level, std::string_view format);

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_LOGGING_H_
