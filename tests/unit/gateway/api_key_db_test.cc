#include "services/gateway/api_key_db.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "common/text_file.h"
#include "services/gateway/api_key_store.h"
#include "tests/support/process_harness.h"

namespace llmrouter::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

const absl::Time kNow = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

std::unique_ptr<ApiKeyDb> OpenDb(const std::string& path) {
  auto db = ApiKeyDb::Open(path, /*create=*/true);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

TEST(ApiKeyDbTest, CreatesKeysStoringOnlyTheirDigest) {
  std::string path = testing::MakeTempDir("llmrouter-keydb") + "/keys.db";
  auto db = OpenDb(path);
  ASSERT_TRUE(db);
  absl::StatusOr<CreatedApiKey> created = db->Create("acme", "ci bot", kNow);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(absl::StartsWith(created->key, "sk-lr-")) << created->key;
  EXPECT_EQ(created->key.size(), 6u + 48u);
  EXPECT_EQ(created->record.id, 1);
  EXPECT_EQ(created->record.sha256, Sha256Hex(created->key));
  EXPECT_EQ(created->record.created_at, kNow);
  absl::StatusOr<CreatedApiKey> second = db->Create("beta", "", kNow + absl::Seconds(1));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(second->key, created->key);

  absl::StatusOr<std::vector<ApiKeyRecord>> all = db->List();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_THAT(*all, SizeIs(2));
  EXPECT_EQ((*all)[0].name, "ci bot");
  EXPECT_EQ((*all)[0].tenant, "acme");
  EXPECT_EQ((*all)[0].sha256, created->record.sha256);
  EXPECT_FALSE((*all)[0].revoked_at.has_value());
  EXPECT_EQ((*all)[1].tenant, "beta");

  db.reset();  // the plain key is nowhere in the files
  for (const std::string& file : {path, path + "-wal"}) {
    absl::StatusOr<std::string> bytes = ReadTextFile(file);
    if (bytes.ok()) EXPECT_THAT(*bytes, ::testing::Not(HasSubstr(created->key))) << file;
  }
}

TEST(ApiKeyDbTest, RevokesByIdOrByTheOneActiveName) {
  auto db = OpenDb(testing::MakeTempDir("llmrouter-keydb") + "/keys.db");
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Create("acme", "deploy", kNow).ok());
  ASSERT_TRUE(db->Create("acme", "ci", kNow).ok());
  ASSERT_TRUE(db->Create("acme", "ci", kNow).ok());

  absl::StatusOr<ApiKeyRecord> by_name = db->Revoke("deploy", kNow + absl::Hours(1));
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->id, 1);
  EXPECT_EQ(by_name->revoked_at, kNow + absl::Hours(1));

  absl::StatusOr<ApiKeyRecord> ambiguous = db->Revoke("ci", kNow);
  EXPECT_EQ(ambiguous.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(ambiguous.status().message()), HasSubstr("(ids 2, 3); revoke one by id"));
  ASSERT_TRUE(db->Revoke("3", kNow).ok());
  EXPECT_EQ(db->Revoke("ci", kNow).value_or(ApiKeyRecord{}).id, 2);  // now only one is active

  absl::StatusOr<ApiKeyRecord> again = db->Revoke("1", kNow);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.status().message()),
              HasSubstr("API key 1 was already revoked at 2026-01-01 01:00:00Z"));
  EXPECT_EQ(db->Revoke("deploy", kNow).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(db->Revoke("42", kNow).status().message()),
              HasSubstr("no API key has id 42"));
  EXPECT_EQ(db->Revoke(" ", kNow).status().code(), absl::StatusCode::kInvalidArgument);

  absl::StatusOr<std::vector<ApiKeyRecord>> all = db->List();
  ASSERT_TRUE(all.ok());
  for (const ApiKeyRecord& r : *all) EXPECT_TRUE(r.revoked_at.has_value()) << r.id;
}

TEST(ApiKeyDbTest, RejectsBadTenantsAndNamesNamingThem) {
  auto db = OpenDb(":memory:");
  ASSERT_TRUE(db);
  for (const char* tenant : {"", "two words", "tab\there"}) {
    absl::StatusOr<CreatedApiKey> bad = db->Create(tenant, "", kNow);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << tenant;
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr("tenant \"")) << tenant;
  }
  EXPECT_EQ(db->Create(std::string(129, 't'), "", kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<CreatedApiKey> numeric = db->Create("acme", "2024", kNow);
  EXPECT_EQ(numeric.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(numeric.status().message()), HasSubstr("revoke would take for an id"));
  EXPECT_EQ(db->Create("acme", std::string(129, 'n'), kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db->Create("acme", "new\nline", kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(*db->List(), SizeIs(0));
}

TEST(ApiKeyDbTest, OpeningNeedsAnExistingFileUnlessCreatingAndRefusesANewerSchema) {
  std::string dir = testing::MakeTempDir("llmrouter-keydb");
  absl::StatusOr<std::unique_ptr<ApiKeyDb>> missing = ApiKeyDb::Open(dir + "/none.db", false);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("routerctl apikeys create"));

  ASSERT_TRUE(OpenDb(dir + "/keys.db"));
  {
    auto raw = SqliteDb::Open(dir + "/keys.db");
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE((*raw)->Exec("PRAGMA user_version = 99").ok());
  }
  absl::StatusOr<std::unique_ptr<ApiKeyDb>> newer = ApiKeyDb::Open(dir + "/keys.db", false);
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(newer.status().message()), HasSubstr("refusing to downgrade"));
}

TEST(ApiKeyDbTest, DataVersionMovesWhenAnotherConnectionCommits) {
  std::string path = testing::MakeTempDir("llmrouter-keydb") + "/keys.db";
  auto reader = OpenDb(path);
  auto writer = OpenDb(path);
  ASSERT_TRUE(reader && writer);
  int64_t before = reader->DataVersion().value_or(-1);
  EXPECT_EQ(reader->DataVersion().value_or(-1), before);
  ASSERT_TRUE(writer->Create("acme", "", kNow).ok());
  EXPECT_NE(reader->DataVersion().value_or(before), before);
}

}  // namespace
}  // namespace llmrouter::gateway
