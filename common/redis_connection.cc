#include "common/redis_connection.h"

#include <hiredis.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
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

// "host:port" or "[v6 address]:port" into the host (without brackets) and port; false when it is
// neither.
bool SplitHostPort(absl::string_view address, std::string* host, int* port) {
  const std::size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view h = address.substr(0, colon);
  const bool bracketed = absl::StartsWith(h, "[") && absl::EndsWith(h, "]");
  if (bracketed) h = h.substr(1, h.size() - 2);
  if (h.empty() || (absl::StrContains(h, ':') && !bracketed)) return false;
  if (!absl::SimpleAtoi(address.substr(colon + 1), port) || *port <= 0 || *port > 65535) {
    return false;
  }
  *host = std::string(h);
  return true;
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
  absl::string_view rest = address;
  const std::string lower = absl::AsciiStrToLower(address);
  if (absl::StartsWith(lower, "rediss://")) {
    return absl::InvalidArgumentError(
        "redis: rediss:// (TLS) is not supported by this build's hiredis (0.14); reach Redis "
        "through a TLS sidecar on localhost, or keep the link inside a NetworkPolicy");
  }
  if (absl::StartsWith(lower, "redis://")) {
    rest.remove_prefix(8);
  } else if (absl::StrContains(address, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis address \"", address, "\": only redis:// URLs or host:port"));
  }
  if (absl::StrContains(rest, '@')) {
    // Not echoed: it holds a password.
    return absl::InvalidArgumentError(
        "redis: credentials in the address would show in the process list; put the password "
        "in --redis_password_file (e.g. a mounted Secret)");
  }
  if (const std::size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    absl::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!absl::SimpleAtoi(db, &options.database) || options.database < 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("redis address \"", address, "\": the database must be a number"));
    }
    rest = rest.substr(0, slash);
  }
  std::string host;
  int port = 0;
  if (!SplitHostPort(rest, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "redis address \"", address, "\" is not host:port, redis://host:port or redis://host:port/DB"));
  }
  options.address = std::string(rest);
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

  std::string host;
  int port = 0;
  if (!SplitHostPort(options_.address, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis address \"", options_.address, "\" is not host:port"));
  }
  redisContext* c =
      redisConnectWithTimeout(host.c_str(), port, ToTimeval(options_.connect_timeout));
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
  if (options_.database != 0) {
    absl::StatusOr<RedisReply> select = Send({"SELECT", std::to_string(options_.database)});
    if (!select.ok()) {
      Disconnect();
      return absl::UnavailableError(absl::StrCat("redis ", options_.address, ": SELECT ",
                                                 options_.database, " failed: ",
                                                 select.status().message()));
    }
  }
  // Keys that Redis may evict make limits and budgets forget what they counted. (A Redis that
  // accepts the connection but does not answer, e.g. stopped, times out here: the connection
  // is gone and the connect fails below.)
  absl::StatusOr<RedisReply> policy = Send({"CONFIG", "GET", "maxmemory-policy"});
  eviction_checked_ = policy.ok() && policy->elements.size() == 2;
  may_evict_ =
      policy.ok() && policy->elements.size() == 2 && policy->elements[1].str != "noeviction";
  if (may_evict_) {
    spdlog::warn("redis_may_evict address={} maxmemory_policy={} (set noeviction)",
                 options_.address, policy->elements[1].str);
  } else if ((!policy.ok() || policy->elements.size() != 2) && context_ != nullptr &&
             !eviction_unchecked_logged_) {
    // Managed Redis services often rename or forbid CONFIG: say that the check did not happen
    // rather than reporting the keys safe.
    eviction_unchecked_logged_ = true;
    spdlog::warn(
        "redis_eviction_unchecked address={} error=\"{}\" (could not read maxmemory-policy; make "
        "sure it is noeviction, or counts may be evicted)",
        options_.address, policy.ok() ? "unexpected reply" : policy.status().message());
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
