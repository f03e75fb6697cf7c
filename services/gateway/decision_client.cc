#include "services/gateway/decision_client.h"

#include "absl/strings/str_cat.h"

namespace llmrouter::gateway {

DecisionHttpError DecisionErrorToHttp(const absl::Status& status) {
  std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return {404, std::move(message), "model_not_found", 0};
    case absl::StatusCode::kInvalidArgument:
      return {400, std::move(message), "", 0};
    case absl::StatusCode::kUnauthenticated:
      return {401, std::move(message), "invalid_api_key", 0};
    case absl::StatusCode::kPermissionDenied:
      return {403, std::move(message), "permission_denied", 0};
    case absl::StatusCode::kResourceExhausted:
      return {429, std::move(message), "rate_limit_exceeded", 1};
    case absl::StatusCode::kUnavailable:
      return {503, std::move(message), "service_unavailable", 1};
    case absl::StatusCode::kDeadlineExceeded:
      return {503, absl::StrCat("routing decision timed out: ", message), "routing_timeout", 1};
    default:
      return {500, absl::StrCat("routing decision failed: ", message), "", 0};
  }
}

absl::Status RouteResultStatus(const v1::RouteResult& result) {
  const int code = result.status_code();
  if (code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::UnknownError(
        absl::StrCat("decision answered with status code ", code, ": ", result.status_message()));
  }
  return absl::Status(static_cast<absl::StatusCode>(code), result.status_message());
}

}  // namespace llmrouter::gateway
