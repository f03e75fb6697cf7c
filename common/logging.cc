#include "common/logging.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace llmrouter {

absl::Status InitLogging(absl::string_view service, absl::string_view level,
                         absl::string_view format) {
  spdlog::level::level_enum lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat("unknown log level \"", level, "\""));
  }
  std::string pattern;
  if (format == "text") {
    pattern = absl::StrCat("ts=%Y-%m-%dT%H:%M:%S.%fZ level=%l service=", service, " %v");
  } else if (format == "json") {
    // Messages are "event key=value ..." written by the project itself: no quotes to escape.
    pattern = absl::StrCat(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","service":")", service,
                           R"(","msg":"%v"})");
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log format \"", format, "\" (want text or json)"));
  }
  auto logger = std::make_shared<spdlog::logger>(std::string(service),
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern(pattern, spdlog::pattern_time_type::utc);
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

}  // namespace llmrouter
