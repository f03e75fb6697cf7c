#include "services/decision/rollout_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/sqlite_db.h"

namespace llmrouter::decision {

namespace v1 = llmrouter::v1;

namespace {

constexpr std::size_t kKeptEvents = 1000;

class SqliteRolloutStore final : public RolloutStore {
 public:
  explicit SqliteRolloutStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  absl::StatusOr<std::vector<v1::RolloutStatus>> Load() override {
    absl::MutexLock lock(&mu_);
    auto stmt = db_->Prepare("SELECT status FROM rollout_progress ORDER BY name");
    if (!stmt.ok()) return stmt.status();
    std::vector<v1::RolloutStatus> out;
    while (true) {
      absl::StatusOr<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      v1::RolloutStatus status;
      if (status.ParseFromString(stmt->ColumnBlob(0))) out.push_back(std::move(status));
    }
    return out;
  }

  absl::StatusOr<bool> Save(const v1::RolloutStatus& status, uint64_t expected_version,
                            const v1::RolloutEvent* event) override {
    absl::MutexLock lock(&mu_);
    if (auto s = db_->Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    absl::StatusOr<bool> saved = SaveLocked(status, expected_version, event);
    if (!saved.ok() || !*saved) {
      (void)db_->Exec("ROLLBACK");
      return saved;
    }
    if (auto s = db_->Exec("COMMIT"); !s.ok()) {
      (void)db_->Exec("ROLLBACK");  // else every later BEGIN fails
      return s;
    }
    return true;
  }

  absl::Status Forget(const std::string& name) override {
    absl::MutexLock lock(&mu_);
    auto stmt = db_->Prepare("DELETE FROM rollout_progress WHERE name = ?1");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, name);
    return stmt->Run();
  }

  absl::StatusOr<std::vector<v1::RolloutEvent>> Events(const std::string& name,
                                                       std::size_t limit) override {
    absl::MutexLock lock(&mu_);
    auto stmt = db_->Prepare(
        "SELECT event FROM rollout_events WHERE rollout = ?1 ORDER BY id DESC LIMIT ?2");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, name).Bind(2, static_cast<int64_t>(limit));
    std::vector<v1::RolloutEvent> out;
    while (true) {
      absl::StatusOr<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      v1::RolloutEvent event;
      if (event.ParseFromString(stmt->ColumnBlob(0))) out.push_back(std::move(event));
    }
    return out;
  }

  absl::StatusOr<bool> HoldLease(const std::string&, absl::Duration) override { return true; }
  void ReleaseLease(const std::string&) override {}
  absl::StatusOr<std::string> LeaseHolder() override { return std::string(); }
  bool shared() const override { return false; }

 private:
  absl::StatusOr<bool> SaveLocked(const v1::RolloutStatus& status, uint64_t expected_version,
                                  const v1::RolloutEvent* event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto read = db_->Prepare("SELECT version FROM rollout_progress WHERE name = ?1");
    if (!read.ok()) return read.status();
    read->Bind(1, status.name());
    absl::StatusOr<bool> row = read->Step();
    if (!row.ok()) return row.status();
    const uint64_t kept = *row ? static_cast<uint64_t>(read->ColumnInt(0)) : 0;
    if (kept != expected_version) return false;
    auto write = db_->Prepare(
        "INSERT INTO rollout_progress (name, version, status) VALUES (?1, ?2, ?3) "
        "ON CONFLICT(name) DO UPDATE SET version = excluded.version, status = excluded.status");
    if (!write.ok()) return write.status();
    write->Bind(1, status.name())
        .Bind(2, static_cast<int64_t>(status.version()))
        .BindBlob(3, status.SerializeAsString());
    if (auto s = write->Run(); !s.ok()) return s;
    if (event != nullptr) {
      auto add = db_->Prepare("INSERT INTO rollout_events (rollout, event) VALUES (?1, ?2)");
      if (!add.ok()) return add.status();
      add->Bind(1, status.name()).BindBlob(2, event->SerializeAsString());
      if (auto s = add->Run(); !s.ok()) return s;
      auto trim = db_->Prepare(
          "DELETE FROM rollout_events WHERE rollout = ?1 AND id <= (SELECT id FROM "
          "rollout_events WHERE rollout = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)");
      if (!trim.ok()) return trim.status();
      trim->Bind(1, status.name()).Bind(2, static_cast<int64_t>(kKeptEvents));
      if (auto s = trim->Run(); !s.ok()) return s;
    }
    return true;
  }

  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

// KEYS[1] the progress hash, KEYS[2] the rollout's event list; ARGV: name, expected version,
// new version, status bytes, event bytes (empty: none), events kept.
const RedisScript& SaveScript() {
  static const RedisScript* script = new RedisScript(R"lua(
local kept = redis.call('HGET', KEYS[1], 'v:' .. ARGV[1])
if (kept or '0') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'v:' .. ARGV[1], ARGV[3], 's:' .. ARGV[1], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('LPUSH', KEYS[2], ARGV[5])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[6]) - 1)
end
return 1
)lua");
  return *script;
}

// KEYS[1] the lease; ARGV[1] me. Deletes it when `me` holds it.
const RedisScript& ReleaseScript() {
  static const RedisScript* script = new RedisScript(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua");
  return *script;
}

// KEYS[1] the lease; ARGV: me, ttl in ms. 1 when `me` holds it (now or already).
const RedisScript& LeaseScript() {
  static const RedisScript* script = new RedisScript(R"lua(
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
)lua");
  return *script;
}

constexpr char kProgressKey[] = "llmrouter:rollouts";
constexpr char kLeaseKey[] = "llmrouter:rollout_lease";
std::string EventsKey(const std::string& name) {
  return absl::StrCat("llmrouter:rollout_events:", name);
}

class RedisRolloutStore final : public RolloutStore {
 public:
  explicit RedisRolloutStore(RedisOptions options) : redis_(std::move(options)) {}

  absl::StatusOr<std::vector<v1::RolloutStatus>> Load() override {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<RedisReply> reply = redis_.Command({"HGETALL", kProgressKey});
    if (!reply.ok()) return reply.status();
    std::vector<v1::RolloutStatus> out;
    for (std::size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
      if (reply->elements[i].str.rfind("s:", 0) != 0) continue;
      v1::RolloutStatus status;
      if (status.ParseFromString(reply->elements[i + 1].str)) out.push_back(std::move(status));
    }
    return out;
  }

  absl::StatusOr<bool> Save(const v1::RolloutStatus& status, uint64_t expected_version,
                            const v1::RolloutEvent* event) override {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<RedisReply> reply = redis_.Eval(
        SaveScript(), {kProgressKey, EventsKey(status.name())},
        {status.name(), absl::StrCat(expected_version), absl::StrCat(status.version()),
         status.SerializeAsString(), event ? event->SerializeAsString() : std::string(),
         absl::StrCat(kKeptEvents)});
    if (!reply.ok()) return reply.status();
    return reply->integer == 1;
  }

  absl::StatusOr<std::vector<v1::RolloutEvent>> Events(const std::string& name,
                                                       std::size_t limit) override {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<RedisReply> reply = redis_.Command(
        {"LRANGE", EventsKey(name), "0", absl::StrCat(static_cast<int64_t>(limit) - 1)});
    if (!reply.ok()) return reply.status();
    std::vector<v1::RolloutEvent> out;
    for (const RedisReply& e : reply->elements) {
      v1::RolloutEvent event;
      if (event.ParseFromString(e.str)) out.push_back(std::move(event));
    }
    return out;
  }

  absl::StatusOr<bool> HoldLease(const std::string& me, absl::Duration ttl) override {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<RedisReply> reply =
        redis_.Eval(LeaseScript(), {kLeaseKey}, {me, absl::StrCat(absl::ToInt64Milliseconds(ttl))});
    if (!reply.ok()) return reply.status();
    return reply->integer == 1;
  }

  absl::Status Forget(const std::string& name) override {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<RedisReply> reply =
        redis_.Command({"HDEL", kProgressKey, absl::StrCat("v:", name), absl::StrCat("s:", name)});
    return reply.status();
  }

  void ReleaseLease(const std::string& me) override {
    absl::MutexLock lock(&mu_);
    (void)redis_.Eval(ReleaseScript(), {kLeaseKey}, {me});
  }

  absl::StatusOr<std::string> LeaseHolder() override {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<RedisReply> reply = redis_.Command({"GET", kLeaseKey});
    if (!reply.ok()) return reply.status();
    return reply->str;
  }

  bool shared() const override { return true; }

 private:
  absl::Mutex mu_;
  RedisConnection redis_ ABSL_GUARDED_BY(mu_);
};

// KEYS: slot hashes; ARGV[1] the replica's field, ARGV[2] TTL in ms, then one value per key.
const RedisScript& WriteCountsScript() {
  static const RedisScript* script = new RedisScript(R"lua(
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, ARGV[1], ARGV[i + 2])
  redis.call('PEXPIRE', key, ARGV[2])
end
return #KEYS
)lua");
  return *script;
}

// KEYS: slot hashes. Every replica's value in each.
const RedisScript& ReadCountsScript() {
  static const RedisScript* script = new RedisScript(R"lua(
local out = {}
for _, key in ipairs(KEYS) do
  for _, v in ipairs(redis.call('HVALS', key)) do out[#out + 1] = v end
end
return out
)lua");
  return *script;
}



}  // namespace

absl::StatusOr<std::unique_ptr<RolloutStore>> OpenSqliteRolloutStore(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(path);
  if (!db.ok()) return db.status();
  // Tables of their own, outside the policy store's numbered migrations.
  if (auto s = (*db)->Exec(
          "CREATE TABLE IF NOT EXISTS rollout_progress (name TEXT PRIMARY KEY, version INTEGER "
          "NOT NULL, status BLOB NOT NULL);"
          "CREATE TABLE IF NOT EXISTS rollout_events (id INTEGER PRIMARY KEY AUTOINCREMENT, "
          "rollout TEXT NOT NULL, event BLOB NOT NULL);"
          "CREATE INDEX IF NOT EXISTS rollout_events_by_rollout ON rollout_events (rollout, id);");
      !s.ok()) {
    return s;
  }
  return std::make_unique<SqliteRolloutStore>(*std::move(db));
}

std::unique_ptr<RolloutStore> NewRedisRolloutStore(RedisOptions options) {
  return std::make_unique<RedisRolloutStore>(std::move(options));
}

SharedVariantCounts::SharedVariantCounts(RedisOptions options, std::string replica,
                                         absl::Duration slot, absl::Duration keep)
    : redis_(std::move(options)), replica_(std::move(replica)), slot_(slot), keep_(keep) {}

std::string SharedVariantCounts::SlotKey(const std::string& model, const std::string& track,
                                         int64_t slot) const {
  // The slot length in the key: replicas with different lengths never mix their slots. The
  // model's length first: any model and track name make a key of their own.
  return absl::StrCat("llmrouter:variant:", absl::ToInt64Milliseconds(slot_), ":", model.size(),
                      ":", model, "|", track, ":", slot);
}

absl::Status SharedVariantCounts::Flush(VariantWindows& windows, absl::Time now) {
  // A slot changed again since a failed write: the newer totals replace the unsent ones.
  for (VariantSlotTotals& c : windows.TakeChanged()) {
    std::string key = SlotKey(c.model, c.track, c.slot);
    unsent_.insert_or_assign(std::move(key), std::move(c));
  }
  const int64_t oldest = absl::ToUnixNanos(now - keep_) / absl::ToInt64Nanoseconds(slot_);
  absl::erase_if(unsent_, [&](const auto& u) { return u.second.slot <= oldest; });
  while (!unsent_.empty()) {
    std::vector<std::string> keys,
        args = {replica_, absl::StrCat(absl::ToInt64Milliseconds(keep_))};
    for (const auto& [key, totals] : unsent_) {
      if (keys.size() == kMaxKeysPerWrite) break;
      keys.push_back(key);
      args.push_back(EncodeVariantCounts(totals.counts));
    }
    absl::StatusOr<RedisReply> reply = redis_.Eval(WriteCountsScript(), keys, args);
    if (!reply.ok()) return reply.status();
    for (const std::string& key : keys) unsent_.erase(key);
  }
  return absl::OkStatus();
}

absl::StatusOr<VariantCounts> SharedVariantCounts::Window(const std::string& model,
                                                          const std::string& track,
                                                          absl::Duration window, absl::Time now,
                                                          absl::Time not_before) {
  const auto [first, last] = WindowSlots(slot_, window, now, not_before);
  VariantCounts out;
  if (first > last) return out;
  std::vector<std::string> keys;
  for (int64_t i = first; i <= last; ++i) keys.push_back(SlotKey(model, track, i));
  absl::StatusOr<RedisReply> reply = redis_.Eval(ReadCountsScript(), keys, {});
  if (!reply.ok()) return reply.status();
  for (const RedisReply& v : reply->elements) {
    VariantCounts one;
    if (DecodeVariantCounts(v.str, &one)) out.Add(one);
  }
  return out;
}

}  // namespace llmrouter::decision
