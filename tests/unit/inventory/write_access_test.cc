#include "services/inventory/write_access.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace llmrouter::inventory {
namespace {

using ::testing::HasSubstr;

TEST(WriteAccessTest, OpenWithoutTokenOrRanges) {
  auto access = WriteAccess::Create("", {});
  ASSERT_TRUE(access.ok());
  EXPECT_FALSE(access->token_required());
  EXPECT_TRUE(access->Check("", "ipv4:203.0.113.9:4000").ok());
}

TEST(WriteAccessTest, TokenMustBePresentedAsBearer) {
  auto access = WriteAccess::Create("s3cret", {});
  ASSERT_TRUE(access.ok());
  EXPECT_EQ(access->Check("", "ipv4:127.0.0.1:1").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(access->Check("s3cret", "ipv4:127.0.0.1:1").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(access->Check("Bearer s3cre", "ipv4:127.0.0.1:1").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(access->Check("Bearer s3cret!", "ipv4:127.0.0.1:1").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(access->Check("Bearer s3cret", "ipv4:127.0.0.1:1").ok());
}

TEST(WriteAccessTest, RangesMatchIpv4AndIpv6Peers) {
  auto access = WriteAccess::Create("", {"10.0.0.0/8", "192.168.1.7", "fd00::/8"});
  ASSERT_TRUE(access.ok());
  EXPECT_TRUE(access->Check("", "ipv4:10.200.3.4:5555").ok());
  EXPECT_TRUE(access->Check("", "ipv4:192.168.1.7:1").ok());
  EXPECT_TRUE(access->Check("", "ipv6:[fd12:3456::1]:5555").ok());
  EXPECT_TRUE(access->Check("", "unix:/run/inventory.sock").ok());
  absl::Status denied = access->Check("", "ipv4:11.0.0.1:5555");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(denied.message()), HasSubstr("ipv4:11.0.0.1:5555"));
  EXPECT_EQ(access->Check("", "ipv4:192.168.1.8:1").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(access->Check("", "ipv6:[fe80::1]:1").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(access->Check("", "garbage").code(), absl::StatusCode::kPermissionDenied);
}

TEST(WriteAccessTest, AddressIsCheckedBeforeTheToken) {
  auto access = WriteAccess::Create("t", {"127.0.0.0/8"});
  ASSERT_TRUE(access.ok());
  EXPECT_EQ(access->Check("Bearer t", "ipv4:10.0.0.1:1").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(access->Check("", "ipv4:127.0.0.1:1").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(access->Check("Bearer t", "ipv4:127.0.0.1:1").ok());
}

TEST(WriteAccessTest, ReportsAreOpenOnlyWithoutAnyToken) {
  auto open = WriteAccess::Create("", {"10.0.0.0/8"});
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE(open->reports_protected());
  EXPECT_TRUE(open->CheckReport("").ok());
}

TEST(WriteAccessTest, ReportsNeedTheReporterOrTheWriteToken) {
  auto access = WriteAccess::Create("writer", {"10.0.0.0/8"}, "reporter");
  ASSERT_TRUE(access.ok());
  EXPECT_TRUE(access->reports_protected());
  absl::Status missing = access->CheckReport("");
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("--inventory_reporter_token_file"));
  EXPECT_EQ(access->CheckReport("reporter").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(access->CheckReport("Bearer reporte").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(access->CheckReport("Bearer other").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(access->CheckReport("Bearer reporter").ok());
  EXPECT_TRUE(access->CheckReport("Bearer writer").ok());
  // The reporter token is no write token.
  EXPECT_EQ(access->Check("Bearer reporter", "ipv4:10.0.0.1:1").code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(WriteAccessTest, WithoutAReporterTokenReportsNeedTheWriteToken) {
  auto access = WriteAccess::Create("writer", {});
  ASSERT_TRUE(access.ok());
  EXPECT_TRUE(access->reports_protected());
  EXPECT_FALSE(access->reporter_token_set());
  EXPECT_EQ(access->CheckReport("").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(access->CheckReport("Bearer writer").ok());
}

TEST(WriteAccessTest, AReporterTokenAloneProtectsReportsButNotWrites) {
  auto access = WriteAccess::Create("", {}, "reporter");
  ASSERT_TRUE(access.ok());
  EXPECT_EQ(access->CheckReport("").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(access->CheckReport("Bearer reporter").ok());
  EXPECT_TRUE(access->Check("", "ipv4:127.0.0.1:1").ok());
}

TEST(WriteAccessTest, RejectsBadRanges) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0/8", "fd00::/129", "host.example", "10.0.0.0/x"}) {
    auto access = WriteAccess::Create("", {bad});
    ASSERT_FALSE(access.ok()) << bad;
    EXPECT_EQ(access.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(access.status().message()), HasSubstr(bad));
  }
}

}  // namespace
}  // namespace llmrouter::inventory
