#include "services/gateway/route_request_builder.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "simdjson.h"

namespace llmrouter::gateway {

namespace http = boost::beast::http;

namespace {

std::string_view HeaderValue(const HttpRequest& request, std::string_view name) {
  auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  if (it == request.end()) return {};
  return std::string_view(it->value().data(), it->value().size());
}

// Debian's Abseil keeps absl::string_view distinct from std::string_view.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsUtf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

// A header copied into a proto string field must be UTF-8, or the message cannot be sent.
absl::StatusOr<std::string> Utf8Header(const HttpRequest& request, std::string_view name) {
  std::string_view value = HeaderValue(request, name);
  if (!IsUtf8(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("header ", AbslView(name), " is not valid UTF-8"));
  }
  return std::string(value);
}

absl::StatusOr<v1::PriorityTier> PriorityOf(const HttpRequest& request) {
  std::string value = absl::AsciiStrToLower(AbslView(HeaderValue(request, "x-router-priority")));
  if (value.empty()) return v1::PRIORITY_TIER_UNSPECIFIED;
  if (value == "interactive") return v1::PRIORITY_TIER_INTERACTIVE;
  if (value == "standard") return v1::PRIORITY_TIER_STANDARD;
  if (value == "batch") return v1::PRIORITY_TIER_BATCH;
  return absl::InvalidArgumentError(
      "header x-router-priority must be one of interactive, standard, batch");
}

}  // namespace

absl::StatusOr<std::string> TenantOf(const HttpRequest& request) {
  absl::StatusOr<std::string> tenant = Utf8Header(request, "x-router-tenant");
  if (tenant.ok() && tenant->empty()) return std::string(kDefaultTenant);
  return tenant;
}

absl::StatusOr<v1::RouteRequestRequest> BuildRouteRequest(const HttpRequest& request,
                                                          const InspectedRequest& inspected,
                                                          v1::RequestKind kind,
                                                          std::string_view gateway_region) {
  v1::RouteRequestRequest out;
  out.set_model(inspected.model);
  out.set_user_key(inspected.user);
  out.set_region(std::string(gateway_region));
  out.set_kind(kind);

  absl::StatusOr<std::string> tenant = TenantOf(request);
  if (!tenant.ok()) return tenant.status();
  out.set_tenant(*std::move(tenant));
  absl::StatusOr<v1::PriorityTier> priority = PriorityOf(request);
  if (!priority.ok()) return priority.status();
  out.set_priority(*priority);
  for (auto [name, field] :
       {std::pair<std::string_view, std::string*>{"x-router-region", out.mutable_client_region()},
        {"x-router-session", out.mutable_session_key()},
        {"x-request-id", out.mutable_request_id()}}) {
    absl::StatusOr<std::string> value = Utf8Header(request, name);
    if (!value.ok()) return value.status();
    *field = *std::move(value);
  }
  std::string explain = absl::AsciiStrToLower(AbslView(HeaderValue(request, "x-router-explain")));
  out.set_explain(explain == "1" || explain == "true");

  auto& headers = *out.mutable_headers();
  for (const auto& field : request) {
    std::string_view name(field.name_string().data(), field.name_string().size());
    std::string_view value(field.value().data(), field.value().size());
    if (name.size() < 2 || !absl::StartsWithIgnoreCase(AbslView(name), "x-") || !IsUtf8(value))
      continue;
    std::string key = absl::AsciiStrToLower(AbslView(name));
    if (!IsUtf8(key)) continue;
    auto it = headers.find(key);
    if (it == headers.end()) {
      headers[key] = std::string(value);
    } else {
      absl::StrAppend(&it->second, ",", AbslView(value));
    }
  }

  v1::Prompt& prompt = *out.mutable_prompt();
  prompt.set_excerpt(inspected.excerpt);
  prompt.set_truncated(inspected.excerpt_truncated);
  prompt.set_estimated_tokens(inspected.estimated_tokens);
  prompt.set_max_output_tokens(inspected.max_output_tokens);
  prompt.set_message_count(inspected.message_count);
  prompt.set_last_user_message(inspected.last_user_message);
  return out;
}

}  // namespace llmrouter::gateway
