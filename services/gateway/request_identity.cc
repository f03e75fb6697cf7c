#include "services/gateway/request_identity.h"

#include <random>

#include "absl/strings/str_format.h"

namespace llmrouter::gateway {

namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZeros(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

std::string RandomHex(int bytes) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string out;
  while (static_cast<int>(out.size()) < 2 * bytes) {
    out += absl::StrFormat("%016x", rng());
  }
  out.resize(2 * bytes);
  return out;
}

bool IsUsableRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

std::string_view Field(const HttpRequest& request, std::string_view name) {
  auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  if (it == request.end()) return {};
  return std::string_view(it->value().data(), it->value().size());
}

}  // namespace

bool IsValidTraceparent(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2.
  constexpr std::size_t kSize = 55;
  if (v.size() < kSize || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  const std::string_view version = v.substr(0, 2), trace = v.substr(3, 32),
                         parent = v.substr(36, 16), flags = v.substr(53, 2);
  if (!IsLowerHex(version) || !IsLowerHex(trace) || !IsLowerHex(parent) || !IsLowerHex(flags)) {
    return false;
  }
  if (version == "ff" || AllZeros(trace) || AllZeros(parent)) return false;
  if (version == "00") return v.size() == kSize;
  return v.size() == kSize || v[kSize] == '-';
}

void AssignRequestIdentity(HttpRequest& request) {
  if (!IsUsableRequestId(Field(request, kRequestIdHeader))) {
    request.set(boost::beast::string_view(kRequestIdHeader.data(), kRequestIdHeader.size()),
                RandomHex(16));
  }
  if (!IsValidTraceparent(Field(request, "traceparent"))) {
    // A new trace: sampled, so that a backend that traces records its part.
    request.set("traceparent", absl::StrFormat("00-%s-%s-01", RandomHex(16), RandomHex(8)));
    request.erase("tracestate");
  }
}

std::string_view RequestIdOf(const HttpRequest& request) {
  return Field(request, kRequestIdHeader);
}

std::string ChildTraceparent(const HttpRequest& request) {
  std::string_view parent = Field(request, "traceparent");
  if (parent.size() < 55) return {};
  // The version this gateway speaks, the same trace and flags, a span id of its own.
  return absl::StrFormat("00-%s-%s-%s", std::string(parent.substr(3, 32)), RandomHex(8),
                         std::string(parent.substr(53, 2)));
}

}  // namespace llmrouter::gateway
