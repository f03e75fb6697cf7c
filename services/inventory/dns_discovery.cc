#include "services/inventory/dns_discovery.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace llmrouter::inventory {

using llmrouter::v1::Endpoint;

absl::StatusOr<std::vector<std::string>> SystemResolver::Resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0) {
    return absl::NotFoundError(absl::StrCat("resolve ", host, ": ", gai_strerror(rc)));
  }
  std::vector<std::string> out;
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    const void* addr =
        ai->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    if (inet_ntop(ai->ai_family, addr, buf, sizeof buf) != nullptr) out.emplace_back(buf);
  }
  freeaddrinfo(result);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.empty()) return absl::NotFoundError(absl::StrCat("resolve ", host, ": no addresses"));
  return out;
}

DnsDiscovery::DnsDiscovery(EndpointRegistry& registry, AddressResolver& resolver,
                           InventoryMetrics* metrics)
    : registry_(registry), resolver_(resolver), metrics_(metrics) {}

void DnsDiscovery::SetTargets(std::vector<Endpoint> templates) {
  absl::MutexLock lock(&mu_);
  templates_ = std::move(templates);
  // Forget the addresses of names no longer watched. The set is built here, under the lock: a
  // predicate reading templates_ would run inside erase_if, where the lock is not seen held.
  absl::flat_hash_set<std::string> watched;
  for (const Endpoint& t : templates_) watched.insert(t.address());
  absl::erase_if(last_, [&watched](const auto& kv) { return !watched.contains(kv.first); });
}

absl::Status DnsDiscovery::Refresh() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> failures;
  std::vector<Endpoint> endpoints;
  for (const Endpoint& t : templates_) {
    const std::string& name_port = t.address();
    size_t colon = name_port.rfind(':');
    std::string host = name_port.substr(0, colon), port = name_port.substr(colon + 1);
    absl::StatusOr<std::vector<std::string>> ips = resolver_.Resolve(host);
    if (metrics_ != nullptr) {
      metrics_->dns_resolutions.Add({{"result", ips.ok() ? "success" : "failure"}}).Increment();
    }
    if (ips.ok()) {
      last_[name_port] = *ips;
    } else {
      failures.push_back(std::string(ips.status().message()));
    }
    auto known = last_.find(name_port);
    if (known == last_.end()) continue;
    for (const std::string& ip : known->second) {
      Endpoint e = t;
      std::string address =
          ip.find(':') != std::string::npos ? absl::StrCat("[", ip, "]:", port) : ip + ":" + port;
      e.set_address(address);
      e.set_id(absl::StrCat(t.id().empty() ? t.model() : t.id(), "@", address));
      e.set_source(llmrouter::v1::ENDPOINT_SOURCE_DNS);
      endpoints.push_back(std::move(e));
    }
  }
  std::vector<Endpoint> current = registry_.ConfiguredEndpoints(llmrouter::v1::ENDPOINT_SOURCE_DNS);
  std::vector<std::string> want, have;
  for (Endpoint& e : endpoints) {
    if (absl::Status s = NormalizeEndpoint(&e); !s.ok()) return s;
    want.push_back(e.SerializeAsString());
  }
  for (const Endpoint& e : current) have.push_back(e.SerializeAsString());
  std::sort(want.begin(), want.end());
  std::sort(have.begin(), have.end());
  if (want != have) {
    spdlog::info("dns_endpoints_changed before={} after={}", current.size(), endpoints.size());
    if (absl::Status s =
            registry_.ReplaceSource(llmrouter::v1::ENDPOINT_SOURCE_DNS, std::move(endpoints));
        !s.ok()) {
      return s;
    }
  }
  if (!failures.empty()) return absl::UnavailableError(absl::StrJoin(failures, "; "));
  return absl::OkStatus();
}

}  // namespace llmrouter::inventory
