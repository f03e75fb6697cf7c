#include "services/gateway/api_key_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/gateway/api_key_db.h"
#include "services/gateway/upstream_credentials.h"
#include "tests/support/process_harness.h"

namespace llmrouter::gateway {
namespace {

using ::testing::HasSubstr;

std::string TempFile(const std::string& text) {
  char name[] = "/tmp/llmrouter-keys-XXXXXX";
  int fd = mkstemp(name);
  close(fd);
  std::ofstream(name) << text;
  return name;
}

TEST(Sha256HexTest, MatchesKnownDigest) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeyStoreTest, MapsKeysToTenantsByDigest) {
  std::string path = TempFile(absl::StrCat("# keys\n", Sha256Hex("sk-acme"), " acme\n",
                                           Sha256Hex("sk-beta"), "\tbeta  # comment\n"));
  auto store = ApiKeyStore::Load(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->size(), 2u);
  EXPECT_EQ((*store)->TenantFor("sk-acme"), "acme");
  EXPECT_EQ((*store)->TenantFor("sk-beta"), "beta");
  EXPECT_EQ((*store)->TenantFor("sk-other"), std::nullopt);
  // The file holds digests only: the digest itself is not a key.
  EXPECT_EQ((*store)->TenantFor(Sha256Hex("sk-acme")), std::nullopt);
}

TEST(ApiKeyStoreTest, RejectsMalformedLinesNamingThem) {
  auto bad = ApiKeyStore::Load(TempFile("sk-plaintext acme\n"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(":1: expected"));
  std::string twice = absl::StrCat(Sha256Hex("k"), " a\n", Sha256Hex("k"), " b\n");
  EXPECT_THAT(std::string(ApiKeyStore::Load(TempFile(twice)).status().message()),
              HasSubstr(":2: the same key is listed twice"));
  EXPECT_EQ(ApiKeyStore::Load("/nonexistent/keys").status().code(), absl::StatusCode::kNotFound);
}

TEST(ApiKeyStoreTest, ReloadsChangesAndKeepsOldKeysOnABadEdit) {
  std::string path = TempFile(absl::StrCat(Sha256Hex("sk-old"), " acme\n"));
  auto store = ApiKeyStore::Load(path);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->ReloadIfChanged().ok());  // unchanged
  std::ofstream(path) << absl::StrCat(Sha256Hex("sk-new"), " acme\n", Sha256Hex("sk-2"), " b\n");
  ASSERT_TRUE((*store)->ReloadIfChanged().ok());
  EXPECT_EQ((*store)->TenantFor("sk-old"), std::nullopt);
  EXPECT_EQ((*store)->TenantFor("sk-new"), "acme");
  std::ofstream(path) << "garbage\n";
  EXPECT_EQ((*store)->ReloadIfChanged().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->TenantFor("sk-new"), "acme");
}

const absl::Time kNow = absl::FromUnixSeconds(1767225600);

// A second connection to the store, as routerctl is.
std::unique_ptr<ApiKeyDb> Routerctl(const std::string& path) {
  auto db = ApiKeyDb::Open(path, /*create=*/true);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

std::string CreateKey(ApiKeyDb& db, const std::string& tenant, const std::string& name = "") {
  absl::StatusOr<CreatedApiKey> created = db.Create(tenant, name, kNow);
  EXPECT_TRUE(created.ok()) << created.status();
  return created.ok() ? created->key : "";
}

TEST(ApiKeyStoreDbTest, FollowsKeysCreatedAndRevokedInTheDatabase) {
  std::string path = testing::MakeTempDir("llmrouter-keystore") + "/keys.db";
  auto ctl = Routerctl(path);
  ASSERT_TRUE(ctl);
  std::string first = CreateKey(*ctl, "acme", "first");
  auto store = ApiKeyStore::Open({.db = path});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->TenantFor(first), "acme");
  EXPECT_EQ((*store)->TenantFor(Sha256Hex(first)), std::nullopt);
  EXPECT_EQ((*store)->ReloadIfChanged().value_or(true), false);

  std::string second = CreateKey(*ctl, "beta");
  EXPECT_EQ((*store)->ReloadIfChanged().value_or(false), true);
  EXPECT_EQ((*store)->TenantFor(second), "beta");
  EXPECT_EQ((*store)->size(), 2u);

  ASSERT_TRUE(ctl->Revoke("first", kNow).ok());
  EXPECT_EQ((*store)->ReloadIfChanged().value_or(false), true);
  EXPECT_EQ((*store)->TenantFor(first), std::nullopt);
  EXPECT_EQ((*store)->TenantFor(second), "beta");
  EXPECT_EQ((*store)->ReloadIfChanged().value_or(true), false);
}

TEST(ApiKeyStoreDbTest, ABrokenDatabaseKeepsThePreviousKeys) {
  std::string dir = testing::MakeTempDir("llmrouter-keystore");
  std::string path = dir + "/keys.db";
  auto ctl = Routerctl(path);
  ASSERT_TRUE(ctl);
  std::string key = CreateKey(*ctl, "acme");
  auto store = ApiKeyStore::Open({.db = path});
  ASSERT_TRUE(store.ok()) << store.status();

  // The table is gone: the next read fails and the keys in use stay.
  ASSERT_TRUE(ctl->Revoke("1", kNow).ok());
  {
    auto raw = SqliteDb::Open(path);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE((*raw)->Exec("DROP TABLE api_keys").ok());
  }
  absl::StatusOr<bool> dropped = (*store)->ReloadIfChanged();
  EXPECT_FALSE(dropped.ok());
  EXPECT_THAT(std::string(dropped.status().message()), HasSubstr("api_keys"));
  EXPECT_EQ((*store)->TenantFor(key), "acme");
  ctl.reset();

  // The file is replaced by something that is not a database at all.
  std::ofstream(dir + "/garbage") << std::string(4096, 'x');
  ASSERT_EQ(std::rename((dir + "/garbage").c_str(), path.c_str()), 0);
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
  absl::StatusOr<bool> garbage = (*store)->ReloadIfChanged();
  EXPECT_FALSE(garbage.ok());
  EXPECT_EQ((*store)->TenantFor(key), "acme");
  EXPECT_EQ((*store)->ReloadIfChanged().value_or(true), false);  // not rebuilt on every call

  // A good database put in its place is read again.
  std::string fresh_dir = testing::MakeTempDir("llmrouter-keystore");
  auto fresh = Routerctl(fresh_dir + "/keys.db");
  ASSERT_TRUE(fresh);
  std::string new_key = CreateKey(*fresh, "gamma");
  fresh.reset();
  ASSERT_EQ(std::rename((fresh_dir + "/keys.db").c_str(), path.c_str()), 0);
  EXPECT_EQ((*store)->ReloadIfChanged().value_or(false), true);
  EXPECT_EQ((*store)->TenantFor(new_key), "gamma");
  EXPECT_EQ((*store)->TenantFor(key), std::nullopt);
}

TEST(ApiKeyStoreDbTest, FileAndDatabaseTogetherAKeyInBothGoesByTheDatabase) {
  std::string dir = testing::MakeTempDir("llmrouter-keystore");
  auto ctl = Routerctl(dir + "/keys.db");
  ASSERT_TRUE(ctl);
  std::string shared = CreateKey(*ctl, "db-tenant", "shared");
  std::ofstream(dir + "/keys.txt") << Sha256Hex(shared) << " file-tenant\n"
                                   << Sha256Hex("sk-file-only") << " file-tenant\n";
  auto store = ApiKeyStore::Open({.file = dir + "/keys.txt", .db = dir + "/keys.db"});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->TenantFor("sk-file-only"), "file-tenant");
  EXPECT_EQ((*store)->TenantFor(shared), "db-tenant");

  // Revoked in the database means revoked, whatever the file says.
  ASSERT_TRUE(ctl->Revoke("shared", kNow).ok());
  EXPECT_EQ((*store)->ReloadIfChanged().value_or(false), true);
  EXPECT_EQ((*store)->TenantFor(shared), std::nullopt);
  EXPECT_EQ((*store)->TenantFor("sk-file-only"), "file-tenant");

  // A bad file fails the rebuild; it is tried again with back-off, not on every call.
  std::ofstream(dir + "/keys.txt") << "not a digest\n";
  ASSERT_TRUE(ctl->Create("db-tenant", "", kNow).ok());
  EXPECT_EQ((*store)->ReloadIfChanged().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->ReloadIfChanged().value_or(true), false);
  EXPECT_EQ((*store)->TenantFor("sk-file-only"), "file-tenant");

  // Either source changing rebuilds the union.
  std::ofstream(dir + "/keys.txt") << Sha256Hex("sk-file-two") << " other\n";
  EXPECT_EQ((*store)->ReloadIfChanged().value_or(false), true);
  EXPECT_EQ((*store)->TenantFor("sk-file-two"), "other");
  EXPECT_EQ((*store)->TenantFor("sk-file-only"), std::nullopt);
}

TEST(ApiKeyStoreDbTest, NeedsASourceAndAnExistingDatabase) {
  EXPECT_EQ(ApiKeyStore::Open({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApiKeyStore::Open({.db = "/nonexistent/keys.db"}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(UpstreamCredentialsTest, ReadsSecretsFromEnvironmentAndFiles) {
  setenv("LLMROUTER_TEST_PROVIDER_KEY", "env-secret", 1);
  std::string file = TempFile("  file-secret\n");
  auto creds = UpstreamCredentials::Parse(absl::StrCat(
      "api.example.com:443=env:LLMROUTER_TEST_PROVIDER_KEY, 10.0.0.1:8000=file:", file));
  ASSERT_TRUE(creds.ok()) << creds.status();
  EXPECT_EQ(creds->AuthorizationFor("api.example.com:443"), "Bearer env-secret");
  EXPECT_EQ(creds->AuthorizationFor("10.0.0.1:8000"), "Bearer file-secret");
  EXPECT_EQ(creds->AuthorizationFor("10.0.0.2:8000"), "");
}

TEST(UpstreamCredentialsTest, RejectsMissingSecrets) {
  unsetenv("LLMROUTER_TEST_UNSET");
  EXPECT_THAT(
      std::string(UpstreamCredentials::Parse("h:1=env:LLMROUTER_TEST_UNSET").status().message()),
      HasSubstr("LLMROUTER_TEST_UNSET is not set"));
  EXPECT_EQ(UpstreamCredentials::Parse("h:1=file:/nonexistent").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UpstreamCredentials::Parse("h:1=plain").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmrouter::gateway
