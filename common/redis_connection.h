// One connection to Redis, for the shared state of several replicas (issue 13: rate limits
// today). hiredis is not thread-safe and resolves names and connects synchronously, so a
// RedisConnection belongs to one dedicated thread, which may block on it within the configured
// timeouts; request paths never call it, they read state that thread keeps up to date.
//
// Reconnects with back-off (a call during the back-off fails at once), authenticates with a
// password (from a file, e.g. a Secret), runs Lua scripts by EVALSHA and loads them again after
// NOSCRIPT (a restarted or flushed Redis), and on every connect checks that Redis will not evict
// the keys (maxmemory-policy noeviction) and whether it lost its data since the last connection
// (an epoch key: a Redis restarted without persistence, or flushed).
//
// Debian 12's hiredis (0.14) has no TLS: protect the link with a NetworkPolicy or a TLS sidecar
// (docs/deployment.md).
#ifndef LLMROUTER_COMMON_REDIS_CONNECTION_H_
#define LLMROUTER_COMMON_REDIS_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct redisContext;

namespace llmrouter {

struct RedisOptions {
  std::string address;   // host:port, or [IPv6]:port
  std::string password;  // empty: no AUTH
  int database = 0;      // SELECTed after AUTH when not 0
  std::chrono::milliseconds connect_timeout{200};
  // Each command's socket reads and writes: a hung (e.g. SIGSTOPped) Redis costs at most this.
  std::chrono::milliseconds command_timeout{200};
  std::chrono::milliseconds first_backoff{50};
  std::chrono::milliseconds max_backoff{2000};
};

// The options for `address` — host:port, redis://host:port or redis://host:port/DB — with the
// password read from `password_file` (surrounding whitespace dropped), when set.
// InvalidArgument for anything else, saying why: rediss:// (this build's hiredis has no TLS),
// credentials in the URL (they would show in the process list), a missing host or a bad port.
absl::StatusOr<RedisOptions> RedisOptionsFrom(std::string address,
                                              const std::string& password_file);

// A reply, copied out of hiredis's.
struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kArray, kError };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<RedisReply> elements;
};

// A Lua script run by its SHA-1 (EVALSHA), loaded when Redis does not know it.
struct RedisScript {
  explicit RedisScript(std::string source);
  std::string source;
  std::string sha1;  // hex
};

// This process's name among the replicas writing to a shared Redis: the host name (a pod's) and
// a random suffix, so that a restarted process never takes over its predecessor's fields.
std::string RedisReplicaName();

class RedisConnection {
 public:
  explicit RedisConnection(RedisOptions options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Runs one command; connects first when needed. Unavailable when Redis cannot be reached (or
  // the connection broke: the next call reconnects, after the back-off), Internal for an error
  // reply, with Redis's message.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& argv);
  // EVALSHA `script` with `keys` and `args`; SCRIPT LOAD and once more on NOSCRIPT.
  absl::StatusOr<RedisReply> Eval(const RedisScript& script, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args);

  const std::string& address() const { return options_.address; }
  bool connected() const { return context_ != nullptr; }
  // Connections made so far, and how many found Redis's data lost (its epoch key changed or
  // gone) since the one before.
  int64_t connects() const { return connects_; }
  int64_t data_losses() const { return data_losses_; }
  // Whether the last connect found maxmemory-policy other than noeviction (keys may vanish).
  bool may_evict() const { return may_evict_; }
  // Whether the last connect could read maxmemory-policy (managed services may refuse CONFIG).
  bool eviction_checked() const { return eviction_checked_; }

 private:
  absl::Status Connect();
  void Disconnect();
  absl::StatusOr<RedisReply> Send(const std::vector<std::string>& argv);

  RedisOptions options_;
  redisContext* context_ = nullptr;
  std::chrono::steady_clock::time_point next_try_{};
  std::chrono::milliseconds backoff_;
  std::string epoch_;  // the epoch seen at the last connect
  int64_t connects_ = 0;
  int64_t data_losses_ = 0;
  bool may_evict_ = false;
  bool eviction_checked_ = false;
  bool eviction_unchecked_logged_ = false;  // said once that CONFIG GET was refused
};

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_REDIS_CONNECTION_H_
