#include "common/replica_targets.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace llmrouter {
namespace {

// "host:port", "[v6]:port", "host" or "[v6]" into host and port ("" when absent).
absl::Status SplitHostPort(absl::string_view in, std::string* host, std::string* port) {
  if (absl::StartsWith(in, "[")) {
    size_t close = in.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("unclosed [ in \"", in, "\""));
    }
    *host = std::string(in.substr(1, close - 1));
    absl::string_view rest = in.substr(close + 1);
    if (!rest.empty() && !absl::ConsumePrefix(&rest, ":")) {
      return absl::InvalidArgumentError(absl::StrCat("expected :port after ] in \"", in, "\""));
    }
    *port = std::string(rest);
  } else {
    size_t colon = in.rfind(':');
    if (colon != absl::string_view::npos && in.find(':') != colon) {
      return absl::InvalidArgumentError(
          absl::StrCat("an IPv6 address needs brackets: \"[", in, "]:PORT\""));
    }
    *host = std::string(in.substr(0, colon));
    *port = colon == absl::string_view::npos ? "" : std::string(in.substr(colon + 1));
  }
  if (host->empty()) return absl::InvalidArgumentError(absl::StrCat("no host in \"", in, "\""));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ReplicaTarget>> AddressList(absl::string_view scheme,
                                                       absl::string_view list) {
  std::vector<ReplicaTarget> out;
  for (absl::string_view one : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    std::string host, port;
    if (absl::Status s = SplitHostPort(one, &host, &port); !s.ok()) return s;
    if (port.empty()) port = "443";
    const std::string address =
        scheme == "ipv6" ? absl::StrCat("[", host, "]:", port) : absl::StrCat(host, ":", port);
    out.push_back({address, absl::StrCat(scheme, ":", address), ""});
  }
  if (out.empty())
    return absl::InvalidArgumentError(absl::StrCat("no address after ", scheme, ":"));
  return out;
}

absl::StatusOr<std::vector<ReplicaTarget>> Resolve(absl::string_view name) {
  std::string host, port;
  if (absl::Status s = SplitHostPort(name, &host, &port); !s.ok()) return s;
  if (port.empty()) port = "443";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::NotFoundError(absl::StrCat("cannot resolve \"", host, "\": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, &freeaddrinfo);
  std::vector<ReplicaTarget> out;
  absl::flat_hash_set<std::string> seen;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw =
        a->ai_family == AF_INET6
            ? static_cast<const void*>(
                  &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr)
            : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr);
    if (inet_ntop(a->ai_family, raw, text, sizeof(text)) == nullptr) continue;
    const bool v6 = a->ai_family == AF_INET6;
    std::string address = v6 ? absl::StrCat("[", text, "]:", port) : absl::StrCat(text, ":", port);
    if (!seen.insert(address).second) continue;
    out.push_back({address, absl::StrCat(v6 ? "ipv6:" : "ipv4:", address), host});
  }
  if (out.empty()) return absl::NotFoundError(absl::StrCat("\"", host, "\" has no address"));
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ReplicaTarget>> ExpandReplicas(absl::string_view target) {
  if (target.empty()) return absl::InvalidArgumentError("empty target");
  absl::string_view rest = target;
  if (absl::ConsumePrefix(&rest, "ipv4:")) return AddressList("ipv4", rest);
  if (absl::ConsumePrefix(&rest, "ipv6:")) return AddressList("ipv6", rest);
  if (absl::StartsWith(rest, "unix:") || absl::StartsWith(rest, "unix-abstract:")) {
    return std::vector<ReplicaTarget>{{std::string(target), std::string(target), ""}};
  }
  if (absl::ConsumePrefix(&rest, "dns:")) {
    // dns:host:port, dns:///host:port or dns://authority/host:port: the system resolver is used
    // either way.
    if (absl::ConsumePrefix(&rest, "//")) {
      size_t slash = rest.find('/');
      if (slash == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("expected dns:///HOST:PORT, got \"", target, "\""));
      }
      rest.remove_prefix(slash + 1);
    }
  } else if (rest.find("://") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot list the replicas of \"", target,
                     "\": use dns:///HOST:PORT, HOST:PORT or ipv4:ADDR:PORT,ADDR:PORT"));
  }
  return Resolve(rest);
}

absl::StatusOr<std::vector<ReplicaTarget>> ReplicasToAsk(absl::string_view target) {
  auto replicas = ExpandReplicas(target);
  if (replicas.ok() && replicas->size() > kMaxAskedReplicas) {
    return absl::InvalidArgumentError(absl::StrCat(target, " names ", replicas->size(),
                                                   " addresses; at most ", kMaxAskedReplicas,
                                                   " replicas are asked"));
  }
  return replicas;
}

}  // namespace llmrouter
