#include "services/decision/spend_sync.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"

namespace llmrouter::decision {

namespace {

// KEYS: per tenant its day and month hashes (replica → what it recorded). ARGV: the replica,
// then per tenant its day and month totals and the keys' TTLs in seconds. Each replica writes
// its own running totals, never increments: a write repeated after a timeout counts once.
// Returns per tenant the day and month sums over every replica.
const RedisScript& SyncScript() {
  static const RedisScript* script = new RedisScript(R"lua(
local replica = ARGV[1]
local function sum(key)
  local total = 0
  for _, v in ipairs(redis.call('HVALS', key)) do total = total + tonumber(v) end
  return total
end
local out = {}
for i = 0, #KEYS / 2 - 1 do
  redis.call('HSET', KEYS[2 * i + 1], replica, ARGV[4 * i + 2])
  redis.call('HSET', KEYS[2 * i + 2], replica, ARGV[4 * i + 3])
  redis.call('EXPIRE', KEYS[2 * i + 1], ARGV[4 * i + 4])
  redis.call('EXPIRE', KEYS[2 * i + 2], ARGV[4 * i + 5])
  out[#out + 1] = sum(KEYS[2 * i + 1])
  out[#out + 1] = sum(KEYS[2 * i + 2])
end
return out
)lua");
  return *script;
}

constexpr int64_t kDayTtlSeconds = 2 * 86400;
constexpr int64_t kMonthTtlSeconds = 62 * 86400;

}  // namespace

SpendSync::SpendSync(RedisOptions redis, std::chrono::milliseconds interval, UsageLedger& ledger,
                     prometheus::Registry& registry)
    : interval_(interval),
      ledger_(ledger),
      redis_(std::move(redis)),
      health_(registry, "llmrouter_decision_spend_store", "the spend ledger", redis_.address(),
              "(spend waits for the next sync)") {
  replica_ = RedisReplicaName();
  // Once before decision serves (bounded by the connect and command timeouts): a restarted
  // replica judges the tenants it watches on the shared totals from its first request.
  SyncOnce();
  thread_ = std::thread([this] {
    for (;;) {
      ledger_.AwaitSyncWanted(absl::FromChrono(interval_));
      if (stop_.HasBeenNotified()) break;
      SyncOnce();
    }
    SyncOnce();  // what was recorded since the last sync
  });
}

SpendSync::~SpendSync() {
  stop_.Notify();
  ledger_.WakeSync();
  thread_.join();
}

void SpendSync::SyncOnce() {
  std::vector<UsageLedger::SyncDelta> deltas = ledger_.TakeSyncDeltas();
  absl::Status failure;
  if (deltas.empty()) {
    absl::StatusOr<RedisReply> pong = redis_.Command({"PING"});
    failure = pong.status();
  } else {
    std::vector<std::string> keys, args = {replica_};
    keys.reserve(deltas.size() * 2);
    args.reserve(1 + deltas.size() * 4);
    for (const UsageLedger::SyncDelta& d : deltas) {
      keys.push_back(absl::StrCat("llmrouter:spend:day:", d.day, ":", d.tenant));
      keys.push_back(absl::StrCat("llmrouter:spend:month:", d.month, ":", d.tenant));
      args.push_back(std::to_string(d.day_total_micros));
      args.push_back(std::to_string(d.month_total_micros));
      args.push_back(std::to_string(kDayTtlSeconds));
      args.push_back(std::to_string(kMonthTtlSeconds));
    }
    absl::StatusOr<RedisReply> reply = redis_.Eval(SyncScript(), keys, args);
    const bool ok = reply.ok() && reply->type == RedisReply::Type::kArray &&
                    reply->elements.size() == deltas.size() * 2;
    if (ok) {
      std::vector<UsageLedger::SharedSpend> shared(deltas.size());
      for (std::size_t i = 0; i < deltas.size(); ++i) {
        shared[i].day_micros = reply->elements[2 * i].integer;
        shared[i].month_micros = reply->elements[2 * i + 1].integer;
      }
      ledger_.ApplySync(deltas, shared);
    } else {
      ledger_.RestoreSyncDeltas(deltas);
      failure = reply.ok() ? absl::InternalError("unexpected reply") : reply.status();
    }
  }
  health_.Observe(redis_, failure);
  // Redis came back without its data: every total this replica holds is written again.
  if (health_.new_data_losses() > 0) ledger_.ResendAll();
  syncs_.fetch_add(1);
}

}  // namespace llmrouter::decision
