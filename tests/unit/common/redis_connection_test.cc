#include "common/redis_connection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/process_harness.h"
#include "tests/support/redis_server.h"

namespace llmrouter {
namespace {

using ::testing::HasSubstr;
using testing::MakeTempDir;
using testing::RedisServer;

RedisOptions Options(const RedisServer& server) {
  RedisOptions o;
  o.address = server.address();
  o.first_backoff = std::chrono::milliseconds(1);
  o.max_backoff = std::chrono::milliseconds(1);
  return o;
}

const RedisScript kIncrement("return redis.call('INCRBY', KEYS[1], ARGV[1])");

TEST(RedisConnectionTest, RunsCommandsAndScriptsAndReloadsScriptsRedisForgot) {
  RedisServer server(MakeTempDir("llmrouter-redis"));
  RedisConnection redis(Options(server));
  absl::StatusOr<RedisReply> pong = redis.Command({"PING"});
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->str, "PONG");
  absl::StatusOr<RedisReply> n = redis.Eval(kIncrement, {"k"}, {"5"});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->integer, 5);
  ASSERT_TRUE(redis.Command({"SCRIPT", "FLUSH"}).ok());
  n = redis.Eval(kIncrement, {"k"}, {"2"});
  ASSERT_TRUE(n.ok()) << n.status() << ": NOSCRIPT must load the script again";
  EXPECT_EQ(n->integer, 7);
  absl::StatusOr<RedisReply> wrong = redis.Command({"INCRBY", "k", "lots"});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("not an integer"));
  EXPECT_TRUE(redis.connected()) << "an error reply keeps the connection";
  EXPECT_FALSE(redis.may_evict());
}

TEST(RedisConnectionTest, ReconnectsAfterARestartAndNoticesTheLostData) {
  RedisServer server(MakeTempDir("llmrouter-redis"));
  RedisConnection redis(Options(server));
  ASSERT_TRUE(redis.Eval(kIncrement, {"k"}, {"1"}).ok());
  server.Restart();  // no persistence: the data is gone
  absl::StatusOr<RedisReply> after = redis.Eval(kIncrement, {"k"}, {"1"});
  if (!after.ok()) after = redis.Eval(kIncrement, {"k"}, {"1"});  // the first finds it broken
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->integer, 1);
  EXPECT_EQ(redis.connects(), 2);
  EXPECT_EQ(redis.data_losses(), 1);
}

TEST(RedisConnectionTest, AHungRedisCostsTheTimeoutNotAHang) {
  RedisServer server(MakeTempDir("llmrouter-redis"));
  RedisConnection redis(Options(server));
  ASSERT_TRUE(redis.Command({"PING"}).ok());
  server.Freeze();
  absl::StatusOr<RedisReply> hung = redis.Command({"PING"});
  EXPECT_EQ(hung.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(redis.connected());
  // Connecting again while it is stopped: the kernel accepts the connection, nothing answers,
  // and the connect's first command times out (this once crashed the next one).
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the back-off
    EXPECT_EQ(redis.Command({"PING"}).status().code(), absl::StatusCode::kUnavailable);
    EXPECT_FALSE(redis.connected());
  }
  server.Thaw();
  absl::StatusOr<RedisReply> back = redis.Command({"PING"});
  EXPECT_TRUE(back.ok()) << back.status();
}

TEST(RedisConnectionTest, AuthenticatesWithThePasswordFileAndSaysWhenItIsWrong) {
  const std::string dir = MakeTempDir("llmrouter-redis");
  RedisServer server(dir, {"--requirepass", "s3cret"});
  std::ofstream(dir + "/password") << "s3cret\n";
  absl::StatusOr<RedisOptions> options = RedisOptionsFrom(server.address(), dir + "/password");
  ASSERT_TRUE(options.ok()) << options.status();
  RedisConnection good(*options);
  EXPECT_TRUE(good.Command({"PING"}).ok());
  RedisOptions wrong = Options(server);
  wrong.password = "guess";
  RedisConnection bad(wrong);
  absl::StatusOr<RedisReply> refused = bad.Command({"PING"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("AUTH failed"));
  EXPECT_FALSE(RedisOptionsFrom(server.address(), dir + "/missing").ok());
}

TEST(RedisConnectionTest, AnEvictingRedisIsFlaggedAndABadAddressIsAnError) {
  RedisServer server(MakeTempDir("llmrouter-redis"), {"--maxmemory-policy", "allkeys-lru"});
  RedisConnection redis(Options(server));
  ASSERT_TRUE(redis.Command({"PING"}).ok());
  EXPECT_TRUE(redis.may_evict());
  RedisOptions bad;
  bad.address = "no-port";
  EXPECT_EQ(RedisConnection(bad).Command({"PING"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  RedisOptions nobody = Options(server);
  nobody.address = absl::StrCat("127.0.0.1:", testing::ClosedLoopbackPort());
  EXPECT_EQ(RedisConnection(nobody).Command({"PING"}).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(RedisConnectionTest, AddressesAreHostPortOrRedisUrlsAndTheDatabaseIsSelected) {
  RedisServer server(MakeTempDir("llmrouter-redis"));
  for (const std::string& address :
       {server.address(), "redis://" + server.address(), "REDIS://" + server.address() + "/"}) {
    absl::StatusOr<RedisOptions> o = RedisOptionsFrom(address, "");
    ASSERT_TRUE(o.ok()) << address << ": " << o.status();
    EXPECT_EQ(o->address, server.address());
    EXPECT_EQ(o->database, 0);
  }
  absl::StatusOr<RedisOptions> db3 = RedisOptionsFrom("redis://" + server.address() + "/3", "");
  ASSERT_TRUE(db3.ok()) << db3.status();
  EXPECT_EQ(db3->database, 3);
  RedisConnection in_3(*db3);
  ASSERT_TRUE(in_3.Command({"SET", "where", "three"}).ok());
  RedisConnection in_0(Options(server));
  absl::StatusOr<RedisReply> missing = in_0.Command({"GET", "where"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->type, RedisReply::Type::kNil) << "written to database 3, not 0";

  struct Bad {
    std::string address, says;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"rediss://cache:6380", "TLS"},
           {"redis://:hunter2@cache:6379", "--redis_password_file"},
           {"user:hunter2@cache:6379", "--redis_password_file"},
           {"http://cache:6379", "only redis:// URLs"},
           {"redis://cache", "is not host:port"},
           {"cache:99999", "is not host:port"},
           {"redis://cache:6379/x", "database must be a number"},
           {"::1:6379", "is not host:port"},
       }) {
    absl::StatusOr<RedisOptions> o = RedisOptionsFrom(bad.address, "");
    ASSERT_FALSE(o.ok()) << bad.address;
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(o.status().message()), HasSubstr(bad.says)) << bad.address;
    EXPECT_THAT(std::string(o.status().message()), ::testing::Not(HasSubstr("hunter2")));
  }
  absl::StatusOr<RedisOptions> v6 = RedisOptionsFrom("redis://[::1]:6379", "");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->address, "[::1]:6379");
}

TEST(RedisConnectionTest, ARedisThatRefusesConfigIsUsedAndNotReportedSafe) {
  // Managed Redis services often disable CONFIG; the eviction check cannot run there.
  RedisServer server(MakeTempDir("llmrouter-redis"), {"--rename-command", "CONFIG", "\"\""});
  RedisConnection redis(Options(server));
  ASSERT_TRUE(redis.Command({"PING"}).ok()) << "used all the same";
  EXPECT_FALSE(redis.eviction_checked()) << "not reported as checked";
  EXPECT_FALSE(redis.may_evict());
  RedisServer plain(MakeTempDir("llmrouter-redis"));
  RedisConnection checked(Options(plain));
  ASSERT_TRUE(checked.Command({"PING"}).ok());
  EXPECT_TRUE(checked.eviction_checked());
}

}  // namespace
}  // namespace llmrouter
