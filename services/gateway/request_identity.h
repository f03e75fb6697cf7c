// Request identity: every inference request carries an x-request-id — the client's when it sent
// a usable one, else a new one — which the answer, decision and the backend all see, and W3C
// trace context (traceparent, tracestate), which the backend gets with a span id of its own.
#ifndef LLMROUTER_SERVICES_GATEWAY_REQUEST_IDENTITY_H_
#define LLMROUTER_SERVICES_GATEWAY_REQUEST_IDENTITY_H_

#include <string>
#include <string_view>

#include "common/http_server.h"

namespace llmrouter::gateway {

inline constexpr std::string_view kRequestIdHeader = "x-request-id";
inline constexpr std::size_t kMaxRequestIdBytes = 128;

// Sets the request's x-request-id (kept when it is 1 to 128 visible ASCII characters, else
// replaced by 32 new hex digits) and its traceparent (kept when it is valid W3C trace context,
// else a new trace is started, as the specification says, and tracestate is dropped with it).
void AssignRequestIdentity(HttpRequest& request);

// The request's x-request-id; empty before AssignRequestIdentity.
std::string_view RequestIdOf(const HttpRequest& request);

// The request's trace id (32 hex digits) from its traceparent; empty before
// AssignRequestIdentity. For logs.
std::string_view TraceIdOf(const HttpRequest& request);

// The traceparent of a call made for `request`: its trace id and flags, and a new span id (a
// child of the caller's). Empty when the request has no traceparent.
std::string ChildTraceparent(const HttpRequest& request);

// Whether `value` is a W3C traceparent this gateway continues: version 00 exactly (55
// characters), or a later version (not ff) that starts like one; lower-case hex; trace and parent
// ids not all zeros.
bool IsValidTraceparent(std::string_view value);

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_REQUEST_IDENTITY_H_
