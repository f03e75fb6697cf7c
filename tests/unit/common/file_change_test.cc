#include "common/file_change.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/process_harness.h"

namespace llmrouter {
namespace {

TEST(FileChangeDetectorTest, SeesReplacementNotUntouchedFile) {
  std::string dir = testing::MakeTempDir("filechange");
  std::string path = dir + "/bundle.yaml";
  std::ofstream(path) << "a: 1\n";
  FileChangeDetector detector(path);
  EXPECT_FALSE(detector.Changed());
  // A ConfigMap update replaces the file: write a new one and rename it over the old.
  std::ofstream(dir + "/next.yaml") << "a: 22\n";
  ASSERT_EQ(std::rename((dir + "/next.yaml").c_str(), path.c_str()), 0);
  EXPECT_TRUE(detector.Changed());
  EXPECT_FALSE(detector.Changed());
}

TEST(FileChangeDetectorTest, MissingFileIsNotAChange) {
  FileChangeDetector detector(testing::MakeTempDir("filechange") + "/absent.yaml");
  EXPECT_FALSE(detector.Changed());
}

}  // namespace
}  // namespace llmrouter
