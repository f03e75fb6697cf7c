// Rate limits per tenant and per API key, as the active policy bundle declares them
// (tenants[].rate_limits; decision sends them with every routing answer). Requests and tokens
// count in fixed windows aligned to the wall clock (so that replicas sharing counts agree on the
// window), concurrency is the number of requests in flight. Tokens are reserved from the
// estimate at admission (prompt plus the requested max_tokens) and reconciled from the usage the
// backend reports.
//
// Admission only ever reads and writes this in-memory state; it never waits on anything. Alone,
// each gateway replica counts alone. With --redis, a RateLimitSync thread shares the counts with
// the other replicas every few milliseconds (rate_limit_sync.h): admission then adds the other
// replicas' counts as last seen.
#ifndef LLMROUTER_SERVICES_GATEWAY_RATE_LIMITER_H_
#define LLMROUTER_SERVICES_GATEWAY_RATE_LIMITER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace llmrouter::gateway {

enum class RateLimitKind { kRequests, kTokens, kConcurrent };
// "requests", "tokens", "concurrent": the metric label and the error's type.
std::string_view RateLimitKindName(RateLimitKind kind);

// One scope's limits; 0 means no limit of that kind.
struct RateLimitQuota {
  uint64_t requests = 0;    // per window
  uint64_t tokens = 0;      // per window
  uint64_t concurrent = 0;  // in flight
  bool any() const { return requests > 0 || tokens > 0 || concurrent > 0; }
};

// What one request is admitted against: its tenant and, when it came with an API key, the key.
struct RateLimitRequest {
  std::chrono::milliseconds window{60000};
  std::string tenant;  // as decision resolved it; empty: no tenant limits
  RateLimitQuota tenant_quota;
  std::string api_key;  // an identifier of the key (never the key); empty: none
  RateLimitQuota api_key_quota;
  uint64_t tokens = 0;  // reserved at admission
};

// The outcome of an admission, and what OpenAI's x-ratelimit-* headers say: for requests and
// for tokens, the limit of the scope with the least left and when its window resets.
struct RateLimitStatus {
  bool admitted = true;
  // When refused: which limit, of which scope ("tenant" or "API key"), and when to retry.
  RateLimitKind exceeded = RateLimitKind::kRequests;
  std::string_view exceeded_scope;
  uint64_t exceeded_limit = 0;
  std::chrono::milliseconds retry_after{0};
  // Refused because the shared counts are unreachable and the gateway fails closed.
  bool store_unavailable = false;

  bool has_requests = false;
  uint64_t limit_requests = 0;
  uint64_t remaining_requests = 0;
  std::chrono::milliseconds reset_requests{0};
  bool has_tokens = false;
  uint64_t limit_tokens = 0;
  uint64_t remaining_tokens = 0;
  std::chrono::milliseconds reset_tokens{0};
};

// Safe for concurrent use; every call takes one mutex briefly and never waits on anything else.
class RateLimiter {
 public:
  // Milliseconds of wall-clock time; tests pass a fake.
  using Clock = std::function<int64_t()>;
  explicit RateLimiter(Clock clock = nullptr);

  // What an admitted request holds: its concurrency slots until destroyed, and its token
  // reservation until reconciled. Empty (holding nothing) when default-constructed.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    // The request used `tokens` (input + output, as the backend reported): the reservation is
    // corrected by the difference. Only the first call counts.
    void Reconcile(uint64_t tokens);
    void Release();

   private:
    friend class RateLimiter;
    RateLimiter* limiter_ = nullptr;
    std::string tenant_;
    std::string api_key_;
    int64_t window_ms_ = 0;
    int64_t window_index_ = 0;
    uint64_t reserved_tokens_ = 0;
    bool reconciled_ = false;
  };

  // Admits the request (counting it, and filling *lease) or refuses it (counting nothing).
  // Whatever *lease held before is released first.
  RateLimitStatus Admit(const RateLimitRequest& request, Lease* lease);

  // Scopes currently tracked, for tests of the bound.
  std::size_t scopes() const;

  // Sharing counts with other replicas (RateLimitSync, through Redis). What this replica
  // counted since the last sync, per scope of the current window, and what it has in flight;
  // taken out of the pending counts.
  struct SyncDelta {
    std::string scope;
    int64_t window_ms = 0;
    int64_t window_index = 0;
    int64_t requests = 0;
    int64_t tokens = 0;  // may be negative: reconciled reservations
    uint64_t in_flight = 0;
    // All this replica has shared in the window, the delta included: what it writes, so that a
    // write repeated after a timeout (whose first try did land) counts nothing twice.
    int64_t total_requests = 0;
    int64_t total_tokens = 0;
  };
  // A scope of the current window is sent when something changed it since the last sync, when
  // other replicas hold slots of it, or, with `all`, anyway (so that idle scopes learn the
  // others' counts now and then without costing Redis every interval); a scope of a past
  // window only while slots of it are held, or to give back a lease it last shared.
  std::vector<SyncDelta> TakeSyncDeltas(bool all = true);
  // The shared totals after `deltas` were added (this replica's included), and the requests the
  // other replicas have in flight, one per delta.
  struct SharedCounts {
    int64_t requests = 0;
    int64_t tokens = 0;
    int64_t others_in_flight = 0;
  };
  void ApplySync(const std::vector<SyncDelta>& deltas, const std::vector<SharedCounts>& shared);
  // The deltas could not be shared: they wait for the next sync. The other replicas' counts stay
  // as last seen (until their window ends): limits fail open.
  void RestoreSyncDeltas(const std::vector<SyncDelta>& deltas);
  // While unavailable (and failing closed), every request with limits is refused.
  void SetSharedStoreUnavailable(bool unavailable, bool fail_closed);
  // Requests with limits admitted while the shared counts were unreachable (failing open) since
  // the last call: admitted on this replica's counts and the others' as last seen.
  uint64_t TakeAdmittedWhileStoreDown() {
    return admitted_while_down_.exchange(0, std::memory_order_relaxed);
  }
  // Whether a change since the last call should be shared at once rather than with the next
  // periodic sync: one that left a scope near a limit (see NearLimit).
  bool TakeChanged() { return changed_.exchange(false, std::memory_order_acq_rel); }
  // Called when a change becomes due at once (once until TakeChanged), so that the sync thread
  // can sleep until then instead of polling. Runs under the limiter's lock: it must not block or
  // call the limiter. Empty: none.
  void SetDueHook(std::function<void()> hook) {
    absl::MutexLock lock(&mu_);
    due_hook_ = std::move(hook);
  }

 private:
  struct Scope {
    int64_t window_ms = 0;
    int64_t window_index = 0;
    uint64_t requests = 0;  // this replica's, in the window
    uint64_t tokens = 0;
    uint64_t in_flight = 0;
    int64_t last_used_ms = 0;
    // Shared mode: what was not yet shared, what was, and the other replicas' counts.
    int64_t pending_requests = 0;
    int64_t pending_tokens = 0;
    int64_t shared_requests = 0;
    int64_t shared_tokens = 0;
    uint64_t others_requests = 0;
    uint64_t others_tokens = 0;
    uint64_t others_in_flight = 0;
    // The requests in flight last written to the shared store (unknown after a failed write):
    // a lease is given back even once its window has passed.
    uint64_t in_flight_shared = 0;
    bool in_flight_shared_known = true;
    bool touched = false;  // admitted, refused, reconciled or released since the last sync
    bool fresh = true;     // in the last sync: its other replicas' counts are that recent
    RateLimitQuota quota;  // the limits of the last request admitted against it
  };
  // Whether what this replica has not shared yet matters to the others now: a tenth or more of
  // the room left under the request or token limit, or half the concurrency limit taken. Far
  // from every limit, counts wait for the periodic sync and go in batches; near one, every change
  // is shared within a millisecond (what keeps replicas within a few percent of a limit).
  static bool NearLimit(const Scope& s);
  // The scope, created or rolled over to the window. A scope new to this replica, or one the
  // last sync left out, makes a sync due: its other replicas' counts are unknown or old.
  Scope& ScopeLocked(const std::string& key, int64_t window_ms, int64_t index, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Reconcile(Lease& lease, uint64_t tokens);
  void Release(Lease& lease);
  // Forgets scopes idle for two windows with nothing in flight, at most once a second.
  void SweepLocked(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Scope> scopes_ ABSL_GUARDED_BY(mu_);
  int64_t last_sweep_ms_ ABSL_GUARDED_BY(mu_) = 0;
  bool refuse_all_ ABSL_GUARDED_BY(mu_) = false;
  bool store_down_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> admitted_while_down_{0};
  std::atomic<bool> changed_{false};
  std::function<void()> due_hook_ ABSL_GUARDED_BY(mu_);
  void MarkDueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!changed_.exchange(true, std::memory_order_acq_rel) && due_hook_) due_hook_();
  }
};

// OpenAI's format for x-ratelimit-reset-*: "1s", "6m0s", "20ms".
std::string FormatResetDuration(std::chrono::milliseconds d);

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_RATE_LIMITER_H_
