// DNS discovery: endpoints from the addresses a name resolves to (a Kubernetes headless
// Service), re-resolved periodically, added and removed as the addresses change.
#ifndef LLMROUTER_SERVICES_INVENTORY_DNS_DISCOVERY_H_
#define LLMROUTER_SERVICES_INVENTORY_DNS_DISCOVERY_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "llmrouter/v1/inventory.pb.h"
#include "services/inventory/endpoint_registry.h"
#include "services/inventory/inventory_metrics.h"

namespace llmrouter::inventory {

// The resolver seam; implementations are safe for concurrent use.
class AddressResolver {
 public:
  virtual ~AddressResolver() = default;
  // IP literals (IPv4 dotted, IPv6 without brackets) of `host`; NotFound when it has none.
  virtual absl::StatusOr<std::vector<std::string>> Resolve(const std::string& host) = 0;
};

// getaddrinfo; blocks the calling thread (the maintenance thread).
class SystemResolver final : public AddressResolver {
 public:
  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& host) override;
};

// A DnsDiscovery is safe for concurrent use. Each target is an endpoint template whose address
// is "name:port"; every address the name resolves to becomes one DNS endpoint with the
// template's fields, id "<template id or model>@<ip>:<port>".
class DnsDiscovery {
 public:
  DnsDiscovery(EndpointRegistry& registry, AddressResolver& resolver, InventoryMetrics* metrics);

  // Replaces the templates (a reload of the endpoints file); the next Refresh applies them.
  void SetTargets(std::vector<llmrouter::v1::Endpoint> templates);
  // Resolves every target and replaces the DNS endpoints in one change when they differ. A name
  // that fails to resolve keeps the endpoints it had (a DNS blip does not empty a pool); the
  // returned status names it.
  absl::Status Refresh();

 private:
  EndpointRegistry& registry_;
  AddressResolver& resolver_;
  InventoryMetrics* const metrics_;
  absl::Mutex mu_;
  std::vector<llmrouter::v1::Endpoint> templates_ ABSL_GUARDED_BY(mu_);
  // Last good answer per template address.
  absl::flat_hash_map<std::string, std::vector<std::string>> last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_DNS_DISCOVERY_H_
