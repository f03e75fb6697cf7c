#include "services/gateway/request_identity.h"

#include <random>

#include "absl/strings/str_cat.h"

namespace llmrouter::gateway {

namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZeros(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

// `bytes` random bytes as lower-case hex; on every request, so without printf.
std::string RandomHex(int bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string out(2 * bytes, '0');
  uint64_t word = 0;
  for (int i = 0; i < 2 * bytes; ++i) {
    if (i % 16 == 0) word = rng();
    out[i] = kDigits[word & 0xf];
    word >>= 4;
  }
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
    request.set("traceparent", absl::StrCat("00-", RandomHex(16), "-", RandomHex(8), "-01"));
    request.erase("tracestate");
  }
}

std::string_view RequestIdOf(const HttpRequest& request) {
  return Field(request, kRequestIdHeader);
}

std::string_view TraceIdOf(const HttpRequest& request) {
  auto it = request.find("traceparent");
  if (it == request.end() || it->value().size() < 35) return {};
  return std::string_view(it->value().data() + 3, 32);
}

std::string ChildTraceparent(const HttpRequest& request) {
  std::string_view parent = Field(request, "traceparent");
  if (parent.size() < 55) return {};
  // The version this gateway speaks, the same trace and flags, a span id of its own.
  std::string out = "00-";
  out.append(parent.substr(3, 32)).append("-").append(RandomHex(8)).append("-");
  out.append(parent.substr(53, 2));
  return out;
}

}  // namespace llmrouter::gateway
