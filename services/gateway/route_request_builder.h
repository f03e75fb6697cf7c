// Turns an HTTP request and what its body says into the question asked of the decision service.
#ifndef LLMROUTER_SERVICES_GATEWAY_ROUTE_REQUEST_BUILDER_H_
#define LLMROUTER_SERVICES_GATEWAY_ROUTE_REQUEST_BUILDER_H_

// Boost 1.74's coroutine headers (via common/http_server.h) need <utility> first with g++ 12.
// clang-format off
#include <utility>
// clang-format on

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/http_server.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/gateway/request_inspector.h"

namespace llmrouter::gateway {

// The tenant of a request that names none. Callers are not authenticated yet: the
// x-router-tenant header is trusted until API keys map to tenants.
inline constexpr std::string_view kDefaultTenant = "default";

// Returns the tenant the request is made for.
absl::StatusOr<std::string> TenantOf(const HttpRequest& request);

// Builds the RouteRequest for one inference request: model, kind, user key (OpenAI's "user"),
// prompt excerpt and estimates from `inspected`; the gateway's own region; tenant, priority
// (x-router-priority: interactive|standard|batch), the client's region (x-router-region, which
// decision honours only for tenants trusted with it), session key (x-router-session), explain
// (x-router-explain: 1|true) and request id (x-request-id) from headers; every x-* header,
// lower-cased, in `headers`. InvalidArgument, naming the header, for an unknown priority or a value
// that is not UTF-8.
absl::StatusOr<v1::RouteRequestRequest> BuildRouteRequest(const HttpRequest& request,
                                                          const InspectedRequest& inspected,
                                                          v1::RequestKind kind,
                                                          std::string_view gateway_region = {});

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_ROUTE_REQUEST_BUILDER_H_
