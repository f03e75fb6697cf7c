#include "services/inventory/endpoint_registry.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/proto_time.h"

namespace llmrouter::inventory {

using llmrouter::v1::Endpoint;

absl::Status NormalizeEndpoint(Endpoint* e) {
  if (e->model().empty()) return absl::InvalidArgumentError("endpoint.model is required");
  if (e->address().empty()) {
    return absl::InvalidArgumentError("endpoint.address is required (host:port)");
  }
  const std::string& addr = e->address();
  size_t colon = addr.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(addr).substr(colon + 1), &port) || port == 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint.address \"", addr, "\" is not host:port"));
  }
  if (e->scheme().empty()) e->set_scheme("http");
  if (e->scheme() != "http" && e->scheme() != "https") {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint.scheme \"", e->scheme(), "\" must be http or https"));
  }
  if (e->id().empty()) e->set_id(absl::StrCat(e->model(), "@", addr));
  if (e->weight() == 0) e->set_weight(1);
  if (e->health() == llmrouter::v1::HEALTH_STATE_UNSPECIFIED) {
    // Until active probes exist, a known endpoint is presumed able to serve.
    e->set_health(llmrouter::v1::HEALTH_STATE_HEALTHY);
  }
  return absl::OkStatus();
}

EndpointRegistry::EndpointRegistry(const Clock& clock) : clock_(clock) {
  absl::MutexLock lock(&mu_);
  snapshot_ = BuildLocked();
}

absl::StatusOr<Endpoint> EndpointRegistry::Upsert(Endpoint endpoint, absl::Duration ttl) {
  if (absl::Status s = NormalizeEndpoint(&endpoint); !s.ok()) return s;
  if (endpoint.source() == llmrouter::v1::ENDPOINT_SOURCE_UNSPECIFIED) {
    endpoint.set_source(llmrouter::v1::ENDPOINT_SOURCE_REGISTERED);
  }
  Entry entry;
  if (ttl > absl::ZeroDuration()) {
    entry.expires_at = clock_.Now() + ttl;
    ToProto(entry.expires_at, endpoint.mutable_expires_at());
  } else {
    endpoint.clear_expires_at();
  }
  entry.endpoint = endpoint;
  {
    absl::MutexLock lock(&mu_);
    endpoints_[endpoint.id()] = std::move(entry);
  }
  Publish();
  return endpoint;
}

absl::Status EndpointRegistry::ReplaceStatic(std::vector<Endpoint> endpoints) {
  for (size_t i = 0; i < endpoints.size(); ++i) {
    if (absl::Status s = NormalizeEndpoint(&endpoints[i]); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("endpoints[", i, "]: ", s.message()));
    }
    endpoints[i].set_source(llmrouter::v1::ENDPOINT_SOURCE_STATIC);
  }
  {
    absl::MutexLock lock(&mu_);
    absl::erase_if(endpoints_, [](const auto& kv) {
      return kv.second.endpoint.source() == llmrouter::v1::ENDPOINT_SOURCE_STATIC;
    });
    for (Endpoint& e : endpoints) {
      std::string id = e.id();
      endpoints_[id] = Entry{std::move(e), absl::InfiniteFuture()};
    }
  }
  Publish();
  return absl::OkStatus();
}

absl::Status EndpointRegistry::Remove(const std::string& id) {
  {
    absl::MutexLock lock(&mu_);
    if (endpoints_.erase(id) == 0) {
      return absl::NotFoundError(absl::StrCat("no endpoint with id \"", id, "\""));
    }
  }
  Publish();
  return absl::OkStatus();
}

int EndpointRegistry::ExpireDue() {
  absl::Time now = clock_.Now();
  size_t removed;
  {
    absl::MutexLock lock(&mu_);
    removed =
        absl::erase_if(endpoints_, [now](const auto& kv) { return kv.second.expires_at <= now; });
  }
  if (removed > 0) Publish();
  return static_cast<int>(removed);
}

SnapshotPtr EndpointRegistry::BuildLocked() {
  auto response = std::make_shared<llmrouter::v1::WatchInventoryResponse>();
  llmrouter::v1::InventorySnapshot* snap = response->mutable_snapshot();
  snap->set_version(version_);
  ToProto(clock_.Now(), snap->mutable_generated_at());
  std::vector<const Endpoint*> sorted;
  sorted.reserve(endpoints_.size());
  for (const auto& [id, entry] : endpoints_) sorted.push_back(&entry.endpoint);
  std::sort(sorted.begin(), sorted.end(),
            [](const Endpoint* a, const Endpoint* b) { return a->id() < b->id(); });
  for (const Endpoint* e : sorted) *snap->add_endpoints() = *e;
  return response;
}

void EndpointRegistry::Publish() {
  // notify_mu_ first: the snapshot built here is delivered before any later one.
  absl::MutexLock notify(&notify_mu_);
  SnapshotPtr snap;
  {
    absl::MutexLock lock(&mu_);
    ++version_;
    snapshot_ = BuildLocked();
    snap = snapshot_;
  }
  for (auto& [token, listener] : listeners_) listener(snap);
}

SnapshotPtr EndpointRegistry::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

uint64_t EndpointRegistry::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

uint64_t EndpointRegistry::Subscribe(Listener listener) {
  absl::MutexLock notify(&notify_mu_);
  uint64_t token = next_token_++;
  listener(Snapshot());
  listeners_.emplace(token, std::move(listener));
  return token;
}

void EndpointRegistry::Unsubscribe(uint64_t token) {
  absl::MutexLock notify(&notify_mu_);
  listeners_.erase(token);
}

size_t EndpointRegistry::subscriber_count() const {
  absl::MutexLock notify(&notify_mu_);
  return listeners_.size();
}

}  // namespace llmrouter::inventory
