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
    // Presumed able to serve until its probes or outcomes say otherwise.
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
  Endpoint stored;
  {
    absl::MutexLock lock(&mu_);
    std::string id = endpoint.id();
    PutLocked(std::move(entry));
    stored = Compose(endpoints_[id]);
  }
  Publish();
  return stored;
}

void EndpointRegistry::PutLocked(Entry entry) {
  auto it = endpoints_.find(entry.endpoint.id());
  if (it != endpoints_.end()) {
    entry.live = std::move(it->second.live);
    entry.drained = it->second.drained;
    it->second = std::move(entry);
    return;
  }
  std::string id = entry.endpoint.id();
  endpoints_.emplace(std::move(id), std::move(entry));
}

Endpoint EndpointRegistry::Compose(const Entry& entry) {
  Endpoint e = entry.endpoint;
  if (entry.live) {
    *e.mutable_load() = entry.live->load;
    e.set_health_detail(entry.live->detail);
    if (entry.live->health && e.health() != llmrouter::v1::HEALTH_STATE_DRAINING) {
      e.set_health(*entry.live->health);
    }
  }
  if (entry.drained) {
    e.set_health(llmrouter::v1::HEALTH_STATE_DRAINING);
    e.set_health_detail("drained by an operator");
  }
  return e;
}

bool EndpointRegistry::ApplyLive(const absl::flat_hash_map<std::string, LiveStatus>& live) {
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, status] : live) {
      auto it = endpoints_.find(id);
      if (it == endpoints_.end()) continue;
      std::optional<LiveStatus>& old = it->second.live;
      if (!old || old->health != status.health || old->detail != status.detail) {
        changed = true;
      } else {
        llmrouter::v1::EndpointLoad a = old->load, b = status.load;
        a.clear_updated_at();
        b.clear_updated_at();
        if (a.SerializeAsString() != b.SerializeAsString()) changed = true;
      }
      old = status;
    }
  }
  if (changed) Publish();
  return changed;
}

absl::StatusOr<Endpoint> EndpointRegistry::SetDraining(const std::string& id, bool draining) {
  Endpoint e;
  bool changed;
  {
    absl::MutexLock lock(&mu_);
    auto it = endpoints_.find(id);
    if (it == endpoints_.end()) {
      return absl::NotFoundError(absl::StrCat("no endpoint with id \"", id, "\""));
    }
    changed = it->second.drained != draining;
    it->second.drained = draining;
    e = Compose(it->second);
  }
  if (changed) Publish();
  return e;
}

std::vector<Endpoint> EndpointRegistry::ConfiguredEndpoints(
    llmrouter::v1::EndpointSource source) const {
  std::vector<Endpoint> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, entry] : endpoints_) {
    if (entry.endpoint.source() == source) out.push_back(entry.endpoint);
  }
  std::sort(out.begin(), out.end(),
            [](const Endpoint& a, const Endpoint& b) { return a.id() < b.id(); });
  return out;
}

absl::Status EndpointRegistry::ReplaceStatic(std::vector<Endpoint> endpoints) {
  return ReplaceSource(llmrouter::v1::ENDPOINT_SOURCE_STATIC, std::move(endpoints));
}

absl::Status EndpointRegistry::ReplaceSource(llmrouter::v1::EndpointSource source,
                                             std::vector<Endpoint> endpoints) {
  for (size_t i = 0; i < endpoints.size(); ++i) {
    if (absl::Status s = NormalizeEndpoint(&endpoints[i]); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("endpoints[", i, "]: ", s.message()));
    }
    endpoints[i].set_source(source);
  }
  {
    absl::MutexLock lock(&mu_);
    absl::flat_hash_map<std::string, Entry> previous;
    for (auto it = endpoints_.begin(); it != endpoints_.end();) {
      if (it->second.endpoint.source() == source) {
        previous.insert(endpoints_.extract(it++));
      } else {
        ++it;
      }
    }
    for (Endpoint& e : endpoints) {
      Entry entry{std::move(e), absl::InfiniteFuture()};
      // An endpoint that stays keeps what probes learned and an operator's drain.
      if (auto old = previous.find(entry.endpoint.id()); old != previous.end()) {
        entry.live = old->second.live;
        entry.drained = old->second.drained;
      }
      PutLocked(std::move(entry));
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
  std::vector<const Entry*> sorted;
  sorted.reserve(endpoints_.size());
  for (const auto& [id, entry] : endpoints_) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(),
            [](const Entry* a, const Entry* b) { return a->endpoint.id() < b->endpoint.id(); });
  for (const Entry* e : sorted) *snap->add_endpoints() = Compose(*e);
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
