#include "common/text_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/process_harness.h"

namespace llmrouter {
namespace {

using ::testing::HasSubstr;

TEST(TextFileTest, ReadsWholeFilesAndTrimsSecrets) {
  const std::string dir = testing::MakeTempDir("textfile");
  std::ofstream(dir + "/bundle.yaml") << "models:\n  - name: m\n";
  std::ofstream(dir + "/token") << "  s3cret\n\n";
  std::ofstream(dir + "/blank") << " \n";
  EXPECT_EQ(*ReadTextFile(dir + "/bundle.yaml"), "models:\n  - name: m\n");
  EXPECT_EQ(*ReadSecretFile(dir + "/token"), "s3cret");
  EXPECT_EQ(ReadSecretFile(dir + "/blank").status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status missing = ReadTextFile(dir + "/absent").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("cannot read " + dir + "/absent"));
}

}  // namespace
}  // namespace llmrouter
