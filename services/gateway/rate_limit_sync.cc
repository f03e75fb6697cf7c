#include "services/gateway/rate_limit_sync.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"

namespace llmrouter::gateway {

namespace {

// KEYS: per scope, its requests, tokens and in-flight hashes (replica → its count). ARGV: the
// replica, the lease TTL in ms, then per scope its requests and tokens in the window so far,
// requests in flight and the window's TTL in ms. Replicas write their running counts, never
// increments, so a write repeated after a timeout counts once. Returns per scope the window's
// requests and tokens summed over the replicas, and the other replicas' requests in flight
// (expired leases are dropped, as are values no replica could have written, rather than failing
// every scope of the batch). Redis's clock judges the leases.
const RedisScript& SyncScript() {
  static const RedisScript* script = new RedisScript(R"lua(
local replica = ARGV[1]
local lease_ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 0, #KEYS / 3 - 1 do
  local requests_key, tokens_key, inflight_key = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local window_ttl = tonumber(ARGV[3 + 4 * i + 3])
  redis.call('HSET', requests_key, replica, ARGV[3 + 4 * i])
  redis.call('HSET', tokens_key, replica, ARGV[3 + 4 * i + 1])
  local requests, tokens = 0, 0
  for _, v in ipairs(redis.call('HVALS', requests_key)) do requests = requests + (tonumber(v) or 0) end
  for _, v in ipairs(redis.call('HVALS', tokens_key)) do tokens = tokens + (tonumber(v) or 0) end
  redis.call('PEXPIRE', requests_key, window_ttl)
  redis.call('PEXPIRE', tokens_key, window_ttl)
  local mine = tonumber(ARGV[3 + 4 * i + 2])
  if mine > 0 then
    redis.call('HSET', inflight_key, replica, mine .. ':' .. (now + lease_ttl))
  else
    redis.call('HDEL', inflight_key, replica)
  end
  local others = 0
  local leases = redis.call('HGETALL', inflight_key)
  for j = 1, #leases, 2 do
    local sep = string.find(leases[j + 1], ':', 1, true)
    local count = sep and tonumber(string.sub(leases[j + 1], 1, sep - 1))
    local expires = sep and tonumber(string.sub(leases[j + 1], sep + 1))
    if not count or not expires or expires < now then
      redis.call('HDEL', inflight_key, leases[j])
    elseif leases[j] ~= replica then
      others = others + count
    end
  end
  redis.call('PEXPIRE', inflight_key, lease_ttl * 2)
  out[#out + 1] = requests
  out[#out + 1] = tokens
  out[#out + 1] = others
end
return out
)lua");
  return *script;
}

// Scopes per script call: thousands of API keys are shared in several calls, each well within
// the command timeout, instead of one that Redis takes longer over than the timeout allows.
constexpr std::size_t kMaxScopesPerScript = 200;
// How often scopes nothing changed are sent anyway, to learn the other replicas' counts.
constexpr auto kIdleScopesEvery = std::chrono::milliseconds(250);

}  // namespace

RateLimitSync::RateLimitSync(RateLimitSyncOptions options, RateLimiter& limiter,
                             prometheus::Registry& registry)
    : options_(std::move(options)),
      limiter_(limiter),
      redis_(options_.redis),
      health_(registry, "llmrouter_gateway_rate_limit_store", "rate limit counts",
              options_.redis.address,
              options_.fail_closed ? "(limits fail closed)" : "(limits fail open)"),
      admitted_while_down_(
          prometheus::BuildCounter()
              .Name("llmrouter_gateway_rate_limit_admitted_while_store_down_total")
              .Help("Requests with rate limits admitted while the shared counts were "
                    "unreachable (failing open: on this replica's counts and the others' as "
                    "last seen)")
              .Register(registry)
              .Add({})) {
  spdlog::info("rate_limit_sync redis={} replica={} interval_ms={} fail={}", options_.redis.address,
               options_.replica, options_.interval.count(),
               options_.fail_closed ? "closed" : "open");
  limiter_.SetDueHook([this] {
    absl::MutexLock lock(&wake_mu_);
    due_ = true;
  });
  thread_ = std::thread([this] { Run(); });
}

RateLimitSync::~RateLimitSync() {
  {
    absl::MutexLock lock(&wake_mu_);
    stopping_ = true;
  }
  thread_.join();
  limiter_.SetDueHook(nullptr);
}

void RateLimitSync::Run() {
  auto last = std::chrono::steady_clock::now();
  while (true) {
    {
      absl::MutexLock lock(&wake_mu_);
      wake_mu_.AwaitWithTimeout(absl::Condition(
                                    +[](RateLimitSync* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                         self->wake_mu_) { return self->due_ || self->stopping_; },
                                    this),
                                absl::FromChrono(options_.interval));
      if (stopping_) break;
      due_ = false;
    }
    limiter_.TakeChanged();  // the next due change calls the hook again
    const auto since = std::chrono::steady_clock::now() - last;
    if (since < options_.min_gap) std::this_thread::sleep_for(options_.min_gap - since);
    last = std::chrono::steady_clock::now();
    SyncOnce();
  }
  SyncOnce();  // what was counted since the last sync
}

void RateLimitSync::SyncOnce() {
  const auto now = std::chrono::steady_clock::now();
  // Often enough, too, that a lease held by a request in flight is renewed well within its TTL.
  const bool all = now - last_all_ >= std::min<std::chrono::steady_clock::duration>(
                                          kIdleScopesEvery, options_.lease_ttl / 4);
  if (all) last_all_ = now;
  std::vector<RateLimiter::SyncDelta> deltas = limiter_.TakeSyncDeltas(all);
  admitted_while_down_.Increment(static_cast<double>(limiter_.TakeAdmittedWhileStoreDown()));
  if (deltas.empty()) {
    // Nothing to share: while Redis is not known to be up, a PING says whether it is (for the
    // gauge, the logs and fail-closed).
    if (!health_.up()) {
      absl::StatusOr<RedisReply> pong = redis_.Command({"PING"});
      health_.Observe(redis_, pong.status());
      limiter_.SetSharedStoreUnavailable(!pong.ok(), options_.fail_closed);
    }
    syncs_.fetch_add(1);
    return;
  }
  absl::Status failure;
  for (std::size_t from = 0; from < deltas.size(); from += kMaxScopesPerScript) {
    const std::size_t to = std::min(deltas.size(), from + kMaxScopesPerScript);
    if (!failure.ok()) {
      // An earlier call failed: the rest wait for the next sync too.
      limiter_.RestoreSyncDeltas({deltas.begin() + from, deltas.begin() + to});
      continue;
    }
    failure = SyncScopes({deltas.begin() + from, deltas.begin() + to});
  }
  if (!failure.ok()) limiter_.SetSharedStoreUnavailable(true, options_.fail_closed);
  health_.Observe(redis_, failure);
  syncs_.fetch_add(1);
}

absl::Status RateLimitSync::SyncScopes(const std::vector<RateLimiter::SyncDelta>& deltas) {
  std::vector<std::string> keys;
  std::vector<std::string> args = {options_.replica, std::to_string(options_.lease_ttl.count())};
  keys.reserve(deltas.size() * 3);
  args.reserve(2 + deltas.size() * 4);
  for (const RateLimiter::SyncDelta& d : deltas) {
    const std::string window =
        absl::StrCat("llmrouter:rl:", d.window_ms, ":", d.window_index, ":", d.scope);
    keys.push_back(absl::StrCat(window, ":requests"));
    keys.push_back(absl::StrCat(window, ":tokens"));
    keys.push_back(absl::StrCat("llmrouter:rl:inflight:", d.scope));
    args.push_back(std::to_string(d.total_requests));
    args.push_back(std::to_string(d.total_tokens));
    args.push_back(std::to_string(d.in_flight));
    args.push_back(std::to_string(2 * d.window_ms));  // past the window's end, gone
  }
  absl::StatusOr<RedisReply> reply = redis_.Eval(SyncScript(), keys, args);
  if (!reply.ok() || reply->type != RedisReply::Type::kArray ||
      reply->elements.size() != deltas.size() * 3) {
    limiter_.RestoreSyncDeltas(deltas);
    return reply.ok() ? absl::InternalError("unexpected reply") : reply.status();
  }
  std::vector<RateLimiter::SharedCounts> shared(deltas.size());
  for (std::size_t i = 0; i < deltas.size(); ++i) {
    shared[i].requests = reply->elements[3 * i].integer;
    shared[i].tokens = reply->elements[3 * i + 1].integer;
    shared[i].others_in_flight = reply->elements[3 * i + 2].integer;
  }
  limiter_.ApplySync(deltas, shared);
  return absl::OkStatus();
}

}  // namespace llmrouter::gateway
