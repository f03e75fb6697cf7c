#include "services/inventory/registration_sync.h"

#include <iterator>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"

namespace llmrouter::inventory {

namespace v1 = llmrouter::v1;

namespace {

constexpr char kEndpointsKey[] = "llmrouter:inventory:endpoints";
constexpr char kDrainsKey[] = "llmrouter:inventory:drains";

// Deletes a field only while it still holds the value that was read, so that an expired
// registration is dropped without racing the heartbeat that renews it.
const RedisScript& DeleteIfUnchanged() {
  static const RedisScript* script = new RedisScript(R"lua(
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
)lua");
  return *script;
}

// A registration as stored: "<expiry ms, 0 for none>|<endpoint bytes>".
struct StoredRegistration {
  int64_t expires_ms = 0;
  v1::Endpoint endpoint;
};

bool ParseStored(const std::string& value, StoredRegistration* out) {
  size_t bar = value.find('|');
  if (bar == std::string::npos || !absl::SimpleAtoi(value.substr(0, bar), &out->expires_ms)) {
    return false;
  }
  return out->endpoint.ParseFromArray(value.data() + bar + 1,
                                      static_cast<int>(value.size() - bar - 1));
}

// HGETALL's flat [field, value, ...] as pairs.
std::vector<std::pair<std::string, std::string>> Pairs(const RedisReply& reply) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    out.emplace_back(reply.elements[i].str, reply.elements[i + 1].str);
  }
  return out;
}

}  // namespace

RegistrationSync::RegistrationSync(RedisOptions redis, std::chrono::milliseconds interval,
                                   EndpointRegistry& registry, prometheus::Registry& metrics,
                                   const Clock& clock)
    : interval_(interval),
      registry_(registry),
      clock_(clock),
      redis_(std::move(redis)),
      health_(metrics, "llmrouter_inventory_registration_store", "registrations and drains",
              redis_.address(), "(changes wait, in order, for Redis to come back)") {
  spdlog::info("registration_sync redis={} interval_ms={}", redis_.address(), interval_.count());
  thread_ = std::thread([this] {
    while (!stopping_.load()) {
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(
            absl::Condition(
                +[](RegistrationSync* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
                  return !self->pending_.empty() || self->stopping_.load();
                },
                this),
            absl::FromChrono(interval_));
      }
      SyncOnce();
    }
  });
}

RegistrationSync::~RegistrationSync() {
  stopping_.store(true);
  {
    absl::MutexLock lock(&mu_);  // wakes the thread's Await
  }
  thread_.join();
}

void RegistrationSync::Enqueue(Change change) {
  // Each write sets or deletes one field, so of the changes waiting for one id's field only the
  // last matters: it replaces an earlier one instead of queueing behind it. Heartbeat
  // re-registrations while Redis is away then keep one change per endpoint, not one per beat.
  // (The front may be being written right now: it stays.)
  const bool endpoint_field =
      change.kind == Change::Kind::kRegister || change.kind == Change::Kind::kDeregister;
  absl::MutexLock lock(&mu_);
  for (std::size_t i = 1; i < pending_.size(); ++i) {
    Change& waiting = pending_[i];
    const bool same_field = waiting.id == change.id &&
                            (waiting.kind == Change::Kind::kRegister ||
                             waiting.kind == Change::Kind::kDeregister) == endpoint_field;
    if (same_field) {
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
      break;  // there is at most one other
    }
  }
  pending_.push_back(std::move(change));
}

void RegistrationSync::Registered(const v1::Endpoint& endpoint, absl::Duration ttl) {
  const int64_t expires_ms =
      ttl > absl::ZeroDuration() ? absl::ToUnixMillis(clock_.Now() + ttl) : 0;
  Enqueue({Change::Kind::kRegister, endpoint.id(),
           absl::StrCat(expires_ms, "|", endpoint.SerializeAsString())});
}

void RegistrationSync::Deregistered(const std::string& id) {
  Enqueue({Change::Kind::kDeregister, id, ""});
}

void RegistrationSync::Drained(const std::string& id, bool draining) {
  Enqueue({draining ? Change::Kind::kDrain : Change::Kind::kResume, id, ""});
}

void RegistrationSync::SyncOnce() {
  absl::Status result;
  if (WritePending(&result)) result = ReadAndApply();
  health_.Observe(redis_, result);
  syncs_.fetch_add(1);
}

bool RegistrationSync::WritePending(absl::Status* failure) {
  while (true) {
    Change change;
    {
      absl::MutexLock lock(&mu_);
      if (pending_.empty()) return true;
      change = pending_.front();
    }
    std::vector<std::string> argv;
    switch (change.kind) {
      case Change::Kind::kRegister:
        argv = {"HSET", kEndpointsKey, change.id, change.value};
        break;
      case Change::Kind::kDeregister:
        argv = {"HDEL", kEndpointsKey, change.id};
        break;
      case Change::Kind::kDrain:
        argv = {"HSET", kDrainsKey, change.id, "1"};
        break;
      case Change::Kind::kResume:
        argv = {"HDEL", kDrainsKey, change.id};
        break;
    }
    absl::StatusOr<RedisReply> reply = redis_.Command(argv);
    if (!reply.ok()) {
      *failure = reply.status();
      return false;
    }
    switch (change.kind) {
      case Change::Kind::kRegister:
        shared_endpoints_[change.id] = change.value;
        break;
      case Change::Kind::kDeregister:
        shared_endpoints_.erase(change.id);
        break;
      case Change::Kind::kDrain:
        shared_drains_.insert(change.id);
        break;
      case Change::Kind::kResume:
        shared_drains_.erase(change.id);
        break;
    }
    absl::MutexLock lock(&mu_);
    pending_.pop_front();
  }
}

absl::Status RegistrationSync::ReadAndApply() {
  absl::StatusOr<RedisReply> endpoints = redis_.Command({"HGETALL", kEndpointsKey});
  if (!endpoints.ok()) return endpoints.status();
  absl::StatusOr<RedisReply> drains = redis_.Command({"HGETALL", kDrainsKey});
  if (!drains.ok()) return drains.status();
  if (redis_.data_losses() != data_losses_seen_) {
    // Redis came back empty (since this replica's last read): what it lost is written back
    // rather than removed here.
    data_losses_seen_ = redis_.data_losses();
    QueueEverythingKnown();
    return absl::OkStatus();
  }
  {
    // A change made while reading is not in what was read: apply nothing until it is written.
    absl::MutexLock lock(&mu_);
    if (!pending_.empty()) return absl::OkStatus();
  }

  const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
  absl::flat_hash_map<std::string, std::string> live;
  absl::flat_hash_map<std::string, std::string> refused;
  // True the first time (id, value) is refused: what is logged.
  auto newly_refused = [&](const std::string& id, const std::string& value) {
    refused[id] = value;
    auto before = refused_.find(id);
    return before == refused_.end() || before->second != value;
  };
  for (auto& [id, value] : Pairs(*endpoints)) {
    StoredRegistration stored;
    if (!ParseStored(value, &stored)) {
      if (newly_refused(id, value)) {
        spdlog::warn("registration_unreadable id={} (left in Redis, ignored)", id);
      }
      continue;
    }
    if (stored.expires_ms != 0 && stored.expires_ms <= now_ms) {
      // Expired: every replica has dropped it; the first to notice removes it from Redis.
      (void)redis_.Eval(DeleteIfUnchanged(), {kEndpointsKey}, {id, value});
      continue;
    }
    auto known = shared_endpoints_.find(id);
    if (known == shared_endpoints_.end() || known->second != value) {
      const absl::Duration ttl = stored.expires_ms == 0
                                     ? absl::ZeroDuration()
                                     : absl::Milliseconds(stored.expires_ms - now_ms);
      absl::StatusOr<v1::Endpoint> added = registry_.Upsert(stored.endpoint, ttl);
      if (!added.ok()) {
        if (newly_refused(id, value)) {
          spdlog::warn("registration_rejected id={} error=\"{}\"", id, added.status().message());
        }
        continue;
      }
      if (known == shared_endpoints_.end()) {
        spdlog::info("endpoint_registered_elsewhere id={} model={} address={}", id, added->model(),
                     added->address());
      }
    }
    live.emplace(id, std::move(value));
  }
  for (const auto& [id, value] : shared_endpoints_) {
    if (live.contains(id)) continue;
    // Deregistered through another replica (or expired there): gone here too, unless this
    // replica's own configuration (the file, DNS) has an endpoint of that id.
    SnapshotPtr snap = registry_.Snapshot();
    for (const v1::Endpoint& e : snap->snapshot().endpoints()) {
      if (e.id() == id && e.source() == v1::ENDPOINT_SOURCE_REGISTERED) {
        if (registry_.Remove(id).ok()) spdlog::info("endpoint_deregistered_elsewhere id={}", id);
        break;
      }
    }
  }
  shared_endpoints_ = std::move(live);
  refused_ = std::move(refused);  // one that is gone or fixed is logged again if it returns

  absl::flat_hash_set<std::string> drained;
  for (size_t i = 0; i + 1 < drains->elements.size(); i += 2) {
    drained.insert(drains->elements[i].str);
  }
  for (const std::string& id : drained) {
    if (shared_drains_.contains(id)) continue;
    // An id this replica does not know yet (its file not loaded, a registration on its way) is
    // drained when it appears.
    if (registry_.SetDraining(id, true).ok()) {
      shared_drains_.insert(id);
      spdlog::info("endpoint_drained_elsewhere id={}", id);
    }
  }
  for (auto it = shared_drains_.begin(); it != shared_drains_.end();) {
    if (drained.contains(*it)) {
      ++it;
      continue;
    }
    if (registry_.SetDraining(*it, false).ok()) {
      spdlog::info("endpoint_resumed_elsewhere id={}", *it);
    }
    shared_drains_.erase(it++);
  }
  return absl::OkStatus();
}

void RegistrationSync::QueueEverythingKnown() {
  spdlog::warn("registration_store_rewrite endpoints={} drains={} (Redis lost its data)",
               shared_endpoints_.size(), shared_drains_.size());
  absl::MutexLock lock(&mu_);
  // A change queued meanwhile is newer than what this replica knew: it stays, and what is known
  // of the same field is not written after it (a deregistration would be undone). The rest goes
  // ahead of the queue (this is the sync thread: nothing is being written).
  absl::flat_hash_set<std::string> queued_endpoints, queued_drains;
  for (const Change& c : pending_) {
    const bool endpoint_field =
        c.kind == Change::Kind::kRegister || c.kind == Change::Kind::kDeregister;
    (endpoint_field ? queued_endpoints : queued_drains).insert(c.id);
  }
  std::deque<Change> rewrite;
  for (const auto& [id, value] : shared_endpoints_) {
    if (!queued_endpoints.contains(id)) rewrite.push_back({Change::Kind::kRegister, id, value});
  }
  for (const std::string& id : shared_drains_) {
    if (!queued_drains.contains(id)) rewrite.push_back({Change::Kind::kDrain, id, ""});
  }
  pending_.insert(pending_.begin(), std::make_move_iterator(rewrite.begin()),
                  std::make_move_iterator(rewrite.end()));
}

}  // namespace llmrouter::inventory
