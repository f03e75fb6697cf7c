#include "services/gateway/api_key_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/gateway/upstream_credentials.h"

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
