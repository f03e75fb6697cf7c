#include "services/gateway/rate_limiter.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace llmrouter::gateway {

namespace {

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Tenants and API keys live in one map; their keys cannot collide.
std::string TenantScope(const std::string& tenant) { return "t\n" + tenant; }
std::string ApiKeyScope(const std::string& key) { return "k\n" + key; }

constexpr std::chrono::milliseconds kConcurrentRetryAfter{1000};

}  // namespace

std::string_view RateLimitKindName(RateLimitKind kind) {
  switch (kind) {
    case RateLimitKind::kRequests:
      return "requests";
    case RateLimitKind::kTokens:
      return "tokens";
    case RateLimitKind::kConcurrent:
      return "concurrent";
  }
  return "requests";
}

std::string FormatResetDuration(std::chrono::milliseconds d) {
  int64_t ms = std::max<int64_t>(0, d.count());
  if (ms < 1000) return absl::StrCat(ms, "ms");
  const int64_t seconds = (ms + 999) / 1000;  // rounded up: never earlier than the reset
  const int64_t hours = seconds / 3600;
  const int64_t minutes = seconds % 3600 / 60;
  const int64_t rest = seconds % 60;
  if (hours > 0) return absl::StrCat(hours, "h", minutes, "m", rest, "s");
  if (minutes > 0) return absl::StrCat(minutes, "m", rest, "s");
  return absl::StrCat(rest, "s");
}

RateLimiter::RateLimiter(Clock clock) : clock_(clock ? std::move(clock) : Clock(WallClockMs)) {}

RateLimiter::Lease::Lease(Lease&& other) noexcept { *this = std::move(other); }

RateLimiter::Lease& RateLimiter::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    tenant_ = std::move(other.tenant_);
    api_key_ = std::move(other.api_key_);
    window_ms_ = other.window_ms_;
    window_index_ = other.window_index_;
    reserved_tokens_ = other.reserved_tokens_;
    reconciled_ = other.reconciled_;
  }
  return *this;
}

RateLimiter::Lease::~Lease() { Release(); }

void RateLimiter::Lease::Reconcile(uint64_t tokens) {
  if (limiter_ == nullptr || reconciled_) return;
  reconciled_ = true;
  limiter_->Reconcile(*this, tokens);
}

void RateLimiter::Lease::Release() {
  if (limiter_ == nullptr) return;
  limiter_->Release(*this);
  limiter_ = nullptr;
}

RateLimiter::Scope& RateLimiter::ScopeLocked(const std::string& key, int64_t window_ms,
                                             int64_t index, int64_t now) {
  auto [it, inserted] = scopes_.try_emplace(key);
  Scope& s = it->second;
  // New here, or left out of the last sync (nothing changed it then): what it knows of the
  // other replicas' counts is unknown or old, so its use makes a sync due now.
  if (inserted || !s.fresh) MarkDueLocked();
  s.touched = true;
  if (s.window_index != index || s.window_ms != window_ms) {
    // A new window (or a bundle with another window length): the counts start again; requests
    // in flight stay in flight.
    s.window_ms = window_ms;
    s.window_index = index;
    s.requests = 0;
    s.tokens = 0;
    s.pending_requests = 0;
    s.pending_tokens = 0;
    s.shared_requests = 0;
    s.shared_tokens = 0;
    s.others_requests = 0;
    s.others_tokens = 0;
  }
  s.last_used_ms = now;
  return s;
}

bool RateLimiter::NearLimit(const Scope& s) {
  auto near = [](uint64_t limit, uint64_t used, int64_t unshared) {
    if (limit == 0) return false;
    const uint64_t left = limit - std::min(limit, used);
    return static_cast<uint64_t>(unshared < 0 ? -unshared : unshared) * 10 >= left;
  };
  return near(s.quota.requests, s.requests + s.others_requests, s.pending_requests) ||
         near(s.quota.tokens, s.tokens + s.others_tokens, s.pending_tokens) ||
         (s.quota.concurrent > 0 && (s.in_flight + s.others_in_flight) * 2 >= s.quota.concurrent);
}

RateLimitStatus RateLimiter::Admit(const RateLimitRequest& request, Lease* lease) {
  lease->Release();  // before the lock: it may hold this limiter's (or another's) slots
  RateLimitStatus status;
  struct Check {
    std::string key;
    const RateLimitQuota* quota;
    std::string_view scope;
    Scope* state = nullptr;
  };
  Check checks[2];
  int n = 0;
  if (!request.tenant.empty() && request.tenant_quota.any()) {
    checks[n++] = {TenantScope(request.tenant), &request.tenant_quota, "tenant"};
  }
  if (!request.api_key.empty() && request.api_key_quota.any()) {
    checks[n++] = {ApiKeyScope(request.api_key), &request.api_key_quota, "API key"};
  }
  if (n == 0) return status;
  const int64_t now = clock_();
  const int64_t window = std::max<int64_t>(1, request.window.count());
  const int64_t index = now / window;
  const std::chrono::milliseconds reset((index + 1) * window - now);

  absl::MutexLock lock(&mu_);
  SweepLocked(now);
  // Looked up after every insertion: the map may move its elements when it grows.
  for (int i = 0; i < n; ++i) ScopeLocked(checks[i].key, window, index, now);
  for (int i = 0; i < n; ++i) checks[i].state = &scopes_.find(checks[i].key)->second;

  // Every limit is checked before anything is counted: a refused request counts nowhere.
  auto refuse = [&](RateLimitKind kind, const Check& c, uint64_t limit,
                    std::chrono::milliseconds retry_after) {
    if (!status.admitted) return;
    status.admitted = false;
    status.exceeded = kind;
    status.exceeded_scope = c.scope;
    status.exceeded_limit = limit;
    status.retry_after = retry_after;
  };
  if (refuse_all_) {
    // The shared counts are unreachable and the gateway fails closed.
    status.admitted = false;
    status.exceeded = RateLimitKind::kRequests;
    status.store_unavailable = true;
    status.exceeded_scope = checks[0].scope;
    status.exceeded_limit = checks[0].quota->requests;
    status.retry_after = kConcurrentRetryAfter;
  }
  for (int i = 0; i < n; ++i) {
    const RateLimitQuota& q = *checks[i].quota;
    const Scope& s = *checks[i].state;
    if (q.requests > 0 && s.requests + s.others_requests + 1 > q.requests) {
      refuse(RateLimitKind::kRequests, checks[i], q.requests, reset);
    }
    if (q.tokens > 0 && s.tokens + s.others_tokens + request.tokens > q.tokens) {
      refuse(RateLimitKind::kTokens, checks[i], q.tokens, reset);
    }
    if (q.concurrent > 0 && s.in_flight + s.others_in_flight + 1 > q.concurrent) {
      refuse(RateLimitKind::kConcurrent, checks[i], q.concurrent, kConcurrentRetryAfter);
    }
  }
  if (status.admitted) {
    bool near = false;
    for (int i = 0; i < n; ++i) {
      Scope& s = *checks[i].state;
      ++s.requests;
      s.tokens += request.tokens;
      ++s.in_flight;
      ++s.pending_requests;
      s.pending_tokens += static_cast<int64_t>(request.tokens);
      s.quota = *checks[i].quota;
      near = near || NearLimit(s);
    }
    if (near) MarkDueLocked();
    lease->limiter_ = this;
    lease->tenant_ = request.tenant_quota.any() ? request.tenant : std::string();
    lease->api_key_ = request.api_key_quota.any() ? request.api_key : std::string();
    lease->window_ms_ = window;
    lease->window_index_ = index;
    lease->reserved_tokens_ = request.tokens;
    lease->reconciled_ = false;
    if (store_down_) admitted_while_down_.fetch_add(1, std::memory_order_relaxed);
  }
  // The headers: per kind, the scope with the least left.
  auto tightest = [&](uint64_t limit, uint64_t used, bool* has, uint64_t* shown_limit,
                      uint64_t* remaining, std::chrono::milliseconds* shown_reset) {
    if (limit == 0) return;
    const uint64_t left = limit - std::min(limit, used);
    if (*has && left >= *remaining) return;
    *has = true;
    *shown_limit = limit;
    *remaining = left;
    *shown_reset = reset;
  };
  for (int i = 0; i < n; ++i) {
    const RateLimitQuota& q = *checks[i].quota;
    const Scope& s = *checks[i].state;
    tightest(q.requests, s.requests + s.others_requests, &status.has_requests,
             &status.limit_requests, &status.remaining_requests, &status.reset_requests);
    tightest(q.tokens, s.tokens + s.others_tokens, &status.has_tokens, &status.limit_tokens,
             &status.remaining_tokens, &status.reset_tokens);
  }
  return status;
}

void RateLimiter::Reconcile(Lease& lease, uint64_t tokens) {
  const int64_t now = clock_();
  const int64_t index = now / lease.window_ms_;
  absl::MutexLock lock(&mu_);
  for (const std::string* name : {&lease.tenant_, &lease.api_key_}) {
    if (name->empty()) continue;
    auto it = scopes_.find(name == &lease.tenant_ ? TenantScope(*name) : ApiKeyScope(*name));
    if (it == scopes_.end() || it->second.window_ms != lease.window_ms_) continue;
    Scope& s = it->second;
    if (index == lease.window_index_) {
      // Still the window of the reservation: it is corrected either way.
      const uint64_t before = s.tokens;
      s.tokens = s.tokens + tokens - std::min(s.tokens + tokens, lease.reserved_tokens_);
      s.pending_tokens += static_cast<int64_t>(s.tokens) - static_cast<int64_t>(before);
    } else if (tokens > lease.reserved_tokens_) {
      // A later window: what the reservation missed counts now.
      ScopeLocked(it->first, lease.window_ms_, index, now);
      s.tokens += tokens - lease.reserved_tokens_;
      s.pending_tokens += static_cast<int64_t>(tokens - lease.reserved_tokens_);
    }
    if (NearLimit(s)) MarkDueLocked();
  }
}

void RateLimiter::Release(Lease& lease) {
  absl::MutexLock lock(&mu_);
  for (const std::string* name : {&lease.tenant_, &lease.api_key_}) {
    if (name->empty()) continue;
    auto it = scopes_.find(name == &lease.tenant_ ? TenantScope(*name) : ApiKeyScope(*name));
    if (it == scopes_.end() || it->second.in_flight == 0) continue;
    // A slot given back near the limit is shared at once: another replica may be refusing.
    const bool was_near = NearLimit(it->second);
    --it->second.in_flight;
    it->second.touched = true;
    if (was_near) MarkDueLocked();
  }
}

void RateLimiter::SweepLocked(int64_t now) {
  if (now - last_sweep_ms_ < 1000) return;
  last_sweep_ms_ = now;
  absl::erase_if(scopes_, [now](const auto& entry) {
    const Scope& s = entry.second;
    // Not while a lease it wrote may still be held in the shared store.
    return s.in_flight == 0 && s.in_flight_shared == 0 && s.in_flight_shared_known &&
           now - s.last_used_ms > 2 * s.window_ms;
  });
}

std::vector<RateLimiter::SyncDelta> RateLimiter::TakeSyncDeltas(bool all) {
  const int64_t now = clock_();
  std::vector<SyncDelta> deltas;
  absl::MutexLock lock(&mu_);
  for (auto& [key, s] : scopes_) {
    // Only the current window's counts are worth sharing; a scope idle in an old window shares
    // its requests in flight (a zero delta), and a lease it no longer holds is given back.
    const bool current = now / s.window_ms == s.window_index;
    const bool lease_changed = !s.in_flight_shared_known || s.in_flight != s.in_flight_shared;
    const bool wanted =
        current ? all || s.touched || s.pending_requests != 0 || s.pending_tokens != 0 ||
                      lease_changed || s.others_in_flight > 0
                : s.in_flight > 0 || s.others_in_flight > 0 || lease_changed;
    s.fresh = wanted;
    if (!wanted) continue;
    s.touched = false;
    s.in_flight_shared = s.in_flight;
    s.in_flight_shared_known = true;
    SyncDelta d;
    d.scope = key;
    d.window_ms = s.window_ms;
    d.window_index = now / s.window_ms;
    if (current) {
      d.requests = s.pending_requests;
      d.tokens = s.pending_tokens;
      s.shared_requests += s.pending_requests;
      s.shared_tokens += s.pending_tokens;
      s.pending_requests = 0;
      s.pending_tokens = 0;
    }
    d.in_flight = s.in_flight;
    d.total_requests = current ? s.shared_requests : 0;
    d.total_tokens = current ? s.shared_tokens : 0;
    deltas.push_back(std::move(d));
  }
  return deltas;
}

void RateLimiter::ApplySync(const std::vector<SyncDelta>& deltas,
                            const std::vector<SharedCounts>& shared) {
  absl::MutexLock lock(&mu_);
  refuse_all_ = false;
  store_down_ = false;
  for (std::size_t i = 0; i < deltas.size() && i < shared.size(); ++i) {
    auto it = scopes_.find(deltas[i].scope);
    if (it == scopes_.end()) continue;
    Scope& s = it->second;
    s.others_in_flight = static_cast<uint64_t>(std::max<int64_t>(0, shared[i].others_in_flight));
    if (s.window_ms != deltas[i].window_ms || s.window_index != deltas[i].window_index) continue;
    // The shared total holds what this replica shared; the rest is the others'.
    s.others_requests =
        static_cast<uint64_t>(std::max<int64_t>(0, shared[i].requests - s.shared_requests));
    s.others_tokens =
        static_cast<uint64_t>(std::max<int64_t>(0, shared[i].tokens - s.shared_tokens));
  }
}

void RateLimiter::RestoreSyncDeltas(const std::vector<SyncDelta>& deltas) {
  absl::MutexLock lock(&mu_);
  for (const SyncDelta& d : deltas) {
    auto it = scopes_.find(d.scope);
    if (it == scopes_.end()) continue;
    Scope& s = it->second;
    s.in_flight_shared_known = false;  // the lease written last is unknown: write it again
    if (s.window_ms != d.window_ms || s.window_index != d.window_index) continue;
    s.shared_requests -= d.requests;
    s.shared_tokens -= d.tokens;
    s.pending_requests += d.requests;
    s.pending_tokens += d.tokens;
  }
}

void RateLimiter::SetSharedStoreUnavailable(bool unavailable, bool fail_closed) {
  absl::MutexLock lock(&mu_);
  refuse_all_ = unavailable && fail_closed;
  store_down_ = unavailable;
}

std::size_t RateLimiter::scopes() const {
  absl::MutexLock lock(&mu_);
  return scopes_.size();
}

}  // namespace llmrouter::gateway
