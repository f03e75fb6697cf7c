#include "common/redis_connection.h"

#include <hiredis.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/text_file.h"

namespace llmrouter {

namespace {

constexpr char kEpochKey[] = "llmrouter:epoch";

timeval ToTimeval(std::chrono::milliseconds d) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(d.count() % 1000 * 1000);
  return tv;
}

RedisReply Copy(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Copy(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

std::string RandomEpoch() {
  std::random_device device;
  return absl::StrCat(device(), "-", device());
}

}  // namespace

std::string RedisReplicaName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::random_device random;
  return absl::StrCat(host[0] ? host : "replica", "-", absl::Hex(random(), absl::kZeroPad8),
                      absl::Hex(random(), absl::kZeroPad8));
}

absl::StatusOr<RedisOptions> RedisOptionsFrom(std::string address,
                                              const std::string& password_file) {
  RedisOptions options;
  options.address = std::move(address);
  if (!password_file.empty()) {
    absl::StatusOr<std::string> password = ReadSecretFile(password_file);
    if (!password.ok()) return password.status();
    options.password = *std::move(password);
  }
  return options;
}

RedisScript::RedisScript(std::string text) : source(std::move(text)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source.data()), source.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char b : digest) {
    sha1.push_back(kHex[b >> 4]);
    sha1.push_back(kHex[b & 15]);
  }
}

RedisConnection::RedisConnection(RedisOptions options)
    : options_(std::move(options)), backoff_(options_.first_backoff) {}

RedisConnection::~RedisConnection() { Disconnect(); }

void RedisConnection::Disconnect() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

absl::Status RedisConnection::Connect() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_try_) {
    return absl::UnavailableError(absl::StrCat("redis ", options_.address, ": backing off"));
  }
  // Until this attempt succeeds, the next waits longer.
  next_try_ = now + backoff_;
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);

  std::pair<std::string, std::string> host_port = absl::StrSplit(options_.address, ':');
  int port = 0;
  if (host_port.first.empty() || !absl::SimpleAtoi(host_port.second, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis address \"", options_.address, "\" is not host:port"));
  }
  redisContext* c =
      redisConnectWithTimeout(host_port.first.c_str(), port, ToTimeval(options_.connect_timeout));
  if (c == nullptr || c->err) {
    std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return absl::UnavailableError(absl::StrCat("redis ", options_.address, ": ", why));
  }
  redisSetTimeout(c, ToTimeval(options_.command_timeout));
  context_ = c;
  if (!options_.password.empty()) {
    absl::StatusOr<RedisReply> auth = Send({"AUTH", options_.password});
    if (!auth.ok()) {
      Disconnect();
      return absl::UnavailableError(
          absl::StrCat("redis ", options_.address, ": AUTH failed: ", auth.status().message()));
    }
  }
  // Keys that Redis may evict make limits and budgets forget what they counted. (A Redis that
  // accepts the connection but does not answer, e.g. stopped, times out here: the connection
  // is gone and the connect fails below.)
  absl::StatusOr<RedisReply> policy = Send({"CONFIG", "GET", "maxmemory-policy"});
  may_evict_ =
      policy.ok() && policy->elements.size() == 2 && policy->elements[1].str != "noeviction";
  if (may_evict_) {
    spdlog::warn("redis_may_evict address={} maxmemory_policy={} (set noeviction)",
                 options_.address, policy->elements[1].str);
  }
  // The epoch: set once by whoever connects first; a different (or no) value than at our last
  // connect means Redis lost its data meanwhile.
  const std::string mine = RandomEpoch();
  absl::StatusOr<RedisReply> set = Send({"SET", kEpochKey, mine, "NX"});
  absl::StatusOr<RedisReply> epoch = Send({"GET", kEpochKey});
  if (!set.ok() || !epoch.ok()) {
    absl::Status failed = !set.ok() ? set.status() : epoch.status();
    Disconnect();
    return absl::UnavailableError(absl::StrCat("redis ", options_.address, ": ", failed.message()));
  }
  if (!epoch_.empty() && epoch->str != epoch_) {
    ++data_losses_;
    spdlog::warn(
        "redis_data_lost address={} (its epoch changed: restarted without persistence "
        "or flushed); counts start again",
        options_.address);
  }
  epoch_ = epoch->str;
  ++connects_;
  backoff_ = options_.first_backoff;
  next_try_ = {};
  spdlog::info("redis_connected address={} may_evict={}", options_.address, may_evict_);
  return absl::OkStatus();
}

absl::StatusOr<RedisReply> RedisConnection::Send(const std::vector<std::string>& argv) {
  if (context_ == nullptr) {
    // An earlier command of the same connect broke the connection.
    return absl::UnavailableError(absl::StrCat("redis ", options_.address, ": connection lost"));
  }
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), args.data(), lengths.data()));
  if (reply == nullptr) {
    // The connection broke or timed out: hiredis cannot use this context again.
    std::string why = context_->errstr;
    Disconnect();
    return absl::UnavailableError(absl::StrCat("redis ", options_.address, ": ", why));
  }
  RedisReply out = Copy(reply);
  freeReplyObject(reply);
  if (out.type == RedisReply::Type::kError) return absl::InternalError(out.str);
  return out;
}

absl::StatusOr<RedisReply> RedisConnection::Command(const std::vector<std::string>& argv) {
  if (context_ == nullptr) {
    absl::Status connected = Connect();
    if (!connected.ok()) return connected;
  }
  return Send(argv);
}

absl::StatusOr<RedisReply> RedisConnection::Eval(const RedisScript& script,
                                                 const std::vector<std::string>& keys,
                                                 const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"EVALSHA", script.sha1, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<RedisReply> reply = Command(argv);
  if (reply.ok() || !absl::StartsWith(reply.status().message(), "NOSCRIPT")) return reply;
  absl::StatusOr<RedisReply> loaded = Command({"SCRIPT", "LOAD", script.source});
  if (!loaded.ok()) return loaded.status();
  return Command(argv);
}

}  // namespace llmrouter
