#include "common/reloadable.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/text_file.h"
#include "tests/support/process_harness.h"

namespace llmrouter {
namespace {

using ::testing::HasSubstr;

// A value built from one file, as a service would follow its configuration.
std::unique_ptr<Reloadable<std::string>> FollowFile(const std::string& path) {
  auto made = Reloadable<std::string>::Create(
      AnyFileChanged({path}), [path]() -> absl::StatusOr<std::string> {
        absl::StatusOr<std::string> text = ReadTextFile(path);
        if (text.ok() && text->rfind("bad", 0) == 0) {
          return absl::InvalidArgumentError(path + ": bad content");
        }
        return text;
      });
  EXPECT_TRUE(made.ok()) << made.status();
  return made.ok() ? *std::move(made) : nullptr;
}

TEST(ReloadableTest, RebuildsOnlyWhenTheFileChangesAndKeepsTheLastGoodValue) {
  std::string path = testing::MakeTempDir("reloadable") + "/config";
  std::ofstream(path) << "one";
  auto config = FollowFile(path);
  ASSERT_TRUE(config);
  std::shared_ptr<const std::string> first = config->Get();
  EXPECT_EQ(*first, "one");
  EXPECT_EQ(config->ReloadIfChanged().value_or(true), false);

  std::ofstream(path) << "two!";
  EXPECT_EQ(config->ReloadIfChanged().value_or(false), true);
  EXPECT_EQ(*config->Get(), "two!");
  EXPECT_EQ(*first, "one");  // a reader's value stays intact while it holds it

  std::ofstream(path) << "bad edit";
  absl::StatusOr<bool> bad = config->ReloadIfChanged();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("bad content"));
  EXPECT_EQ(*config->Get(), "two!");
  EXPECT_EQ(config->ReloadIfChanged().value_or(true), false);  // not rebuilt on every call

  std::ofstream(path) << "three";
  EXPECT_EQ(config->ReloadIfChanged().value_or(false), true);
  EXPECT_EQ(*config->Get(), "three");
}

TEST(ReloadableTest, AFirstBuildThatFailsIsTheError) {
  auto missing = Reloadable<std::string>::Create(
      [] { return false; },
      []() -> absl::StatusOr<std::string> { return ReadTextFile("/nonexistent/x"); });
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(ReloadableTest, AnyFileChangedLooksAtEveryFile) {
  std::string dir = testing::MakeTempDir("reloadable");
  std::ofstream(dir + "/a") << "a";
  std::ofstream(dir + "/b") << "b";
  auto changed = AnyFileChanged({dir + "/a", dir + "/b"});
  EXPECT_FALSE(changed());
  std::ofstream(dir + "/a") << "a2";
  std::ofstream(dir + "/b") << "b2";
  EXPECT_TRUE(changed());
  EXPECT_FALSE(changed());  // both changes were seen at once
}

TEST(ReloadableTest, AFailedBuildIsTriedAgainWithBackOffEvenWhenNothingChanges) {
  // The source changed once (a revocation committed), but the first build failed (a busy
  // database); the change must not be lost.
  int changes = 1;
  int builds = 0;
  bool source_ok = false;
  auto made = Reloadable<int>::Create([&changes] { return changes > 0 && changes-- > 0; },
                                      [&builds, &source_ok]() -> absl::StatusOr<int> {
                                        ++builds;
                                        if (builds > 1 && !source_ok)
                                          return absl::UnavailableError("database is locked");
                                        return builds;
                                      });
  ASSERT_TRUE(made.ok());
  std::unique_ptr<Reloadable<int>> value = *std::move(made);
  EXPECT_EQ(value->ReloadIfChanged().status().code(), absl::StatusCode::kUnavailable);
  // Tried again after 2 calls, then 4, ...: not on every call.
  EXPECT_EQ(value->ReloadIfChanged().value_or(true), false);
  EXPECT_EQ(value->ReloadIfChanged().status().code(), absl::StatusCode::kUnavailable);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(value->ReloadIfChanged().value_or(true), false) << i;
  source_ok = true;
  EXPECT_EQ(value->ReloadIfChanged().value_or(false), true);
  EXPECT_EQ(*value->Get(), 4);
  EXPECT_EQ(builds, 4);
  // Once a build succeeded, nothing is rebuilt until the sources change again.
  for (int i = 0; i < 40; ++i) EXPECT_EQ(value->ReloadIfChanged().value_or(true), false);
  EXPECT_EQ(builds, 4);
}

TEST(ReloadableTest, FixedNeverChanges) {
  auto fixed = Reloadable<int>::Fixed(7);
  EXPECT_EQ(fixed->ReloadIfChanged().value_or(true), false);
  EXPECT_EQ(*fixed->Get(), 7);
}

}  // namespace
}  // namespace llmrouter
