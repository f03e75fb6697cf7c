#include "services/inventory/write_access.h"

#include <arpa/inet.h>

#include <cstring>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace llmrouter::inventory {
namespace {

// An IPv4 or IPv6 literal as 16 bytes (IPv4 mapped into ::ffff:0:0/96).
std::optional<std::array<uint8_t, 16>> ParseIp(absl::string_view text, bool* v4) {
  std::string s(text);
  std::array<uint8_t, 16> out{};
  in_addr a4;
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &a4, 4);
    *v4 = true;
    return out;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(out.data(), &a6, 16);
    *v4 = false;
    return out;
  }
  return std::nullopt;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// The token of "Bearer <token>" (either case of the scheme), or nullopt.
std::optional<absl::string_view> BearerToken(absl::string_view authorization) {
  if (!absl::ConsumePrefix(&authorization, "Bearer ") &&
      !absl::ConsumePrefix(&authorization, "bearer ")) {
    return std::nullopt;
  }
  return authorization;
}

}  // namespace

absl::StatusOr<WriteAccess> WriteAccess::Create(std::string token,
                                                const std::vector<std::string>& cidrs,
                                                std::string reporter_token) {
  WriteAccess access;
  access.token_ = std::move(token);
  access.reporter_token_ = std::move(reporter_token);
  for (const std::string& cidr : cidrs) {
    absl::string_view text = cidr;
    absl::string_view ip = text.substr(0, text.find('/'));
    bool v4 = false;
    std::optional<std::array<uint8_t, 16>> address = ParseIp(ip, &v4);
    int bits = v4 ? 32 : 128;
    bool ok = address.has_value();
    if (ok && ip.size() < text.size()) {
      ok = absl::SimpleAtoi(text.substr(ip.size() + 1), &bits) && bits >= 0 &&
           bits <= (v4 ? 32 : 128);
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", cidr, "\" is not an address range such as 10.0.0.0/8 or fd00::/8"));
    }
    access.ranges_.push_back(Range{*address, v4 ? bits + 96 : bits});
  }
  return access;
}

absl::Status WriteAccess::Check(absl::string_view authorization, absl::string_view peer) const {
  if (!ranges_.empty() && !absl::StartsWith(peer, "unix:")) {
    absl::string_view host = peer;
    if (absl::ConsumePrefix(&host, "ipv4:")) {
      host = host.substr(0, host.rfind(':'));
    } else if (absl::ConsumePrefix(&host, "ipv6:")) {
      host = host.substr(0, host.rfind(':'));
      absl::ConsumePrefix(&host, "[");
      absl::ConsumeSuffix(&host, "]");
      // A zone id ("fe80::1%eth0") does not take part in the match.
      host = host.substr(0, host.find('%'));
    }
    bool v4 = false;
    std::optional<std::array<uint8_t, 16>> address = ParseIp(host, &v4);
    bool allowed = false;
    for (const Range& r : ranges_) {
      if (!address) break;
      bool match = true;
      for (int bit = 0; bit < r.prefix_bits && match; ++bit) {
        uint8_t mask = static_cast<uint8_t>(0x80u >> (bit % 8));
        match = ((*address)[bit / 8] & mask) == (r.address[bit / 8] & mask);
      }
      if (match) {
        allowed = true;
        break;
      }
    }
    if (!allowed) {
      return absl::PermissionDeniedError(
          absl::StrCat("writes are not allowed from ", peer, " (see --write_allowed_cidrs)"));
    }
  }
  if (token_.empty()) return absl::OkStatus();
  if (authorization.empty()) {
    return absl::UnauthenticatedError("writes need \"authorization: Bearer <token>\" metadata");
  }
  std::optional<absl::string_view> presented = BearerToken(authorization);
  if (!presented) {
    return absl::UnauthenticatedError("the authorization metadata must be \"Bearer <token>\"");
  }
  if (!ConstantTimeEquals(*presented, token_)) {
    return absl::UnauthenticatedError("the bearer token is not valid for writes");
  }
  return absl::OkStatus();
}

absl::Status WriteAccess::CheckReport(absl::string_view authorization) const {
  if (!reports_protected()) return absl::OkStatus();
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "outcome reports need \"authorization: Bearer <reporter token>\" metadata (the "
        "gateway's --inventory_reporter_token_file)");
  }
  std::optional<absl::string_view> presented = BearerToken(authorization);
  if (!presented) {
    return absl::UnauthenticatedError("the authorization metadata must be \"Bearer <token>\"");
  }
  // Both comparisons always run, so that the time taken does not tell which token was near.
  const bool reporter = !reporter_token_.empty() && ConstantTimeEquals(*presented, reporter_token_);
  const bool writer = !token_.empty() && ConstantTimeEquals(*presented, token_);
  if (!reporter && !writer) {
    return absl::UnauthenticatedError("the bearer token is not valid for outcome reports");
  }
  return absl::OkStatus();
}

}  // namespace llmrouter::inventory
