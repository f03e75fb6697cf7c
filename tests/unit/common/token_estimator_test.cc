#include "common/token_estimator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "tests/support/process_harness.h"

namespace llmrouter {
namespace {

// Reference counts from gpt-tokenizer (cl100k_base), written by tests/tools/token_counts.mjs.
constexpr char kCorpusDir[] = "tests/data/tokenizer_corpus";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::map<std::string, long> ExpectedCounts() {
  std::map<std::string, long> counts;
  std::istringstream tsv(
      ReadFile(std::filesystem::path(testing::SourcePath(kCorpusDir)) / "expected_counts.tsv"));
  std::string name;
  long count;
  while (tsv >> name >> count) counts[name] = count;
  return counts;
}

TEST(TokenEstimatorTest, EmptyTextIsZeroTokens) { EXPECT_EQ(EstimateTokens(""), 0u); }

TEST(TokenEstimatorTest, ShortPiecesMatchTheTokenizer) {
  EXPECT_EQ(EstimateTokens("hello"), 1u);
  EXPECT_EQ(EstimateTokens(" world"), 1u);
  EXPECT_EQ(EstimateTokens("Hello, world!"), 4u);
  // Digit runs split into groups of up to three, and the space before a number stands alone.
  EXPECT_EQ(EstimateTokens("12345678"), 3u);
  EXPECT_EQ(EstimateTokens("total 1234"), 4u);
  EXPECT_EQ(EstimateTokens(" "), 1u);
  EXPECT_EQ(EstimateTokens("\n\n"), 1u);
}

TEST(TokenEstimatorTest, NonEnglishTextCostsMoreThanItsWordCount) {
  // gpt-tokenizer: 5 and 5 tokens.
  EXPECT_NEAR(EstimateTokens("你好世界"), 5, 1);
  EXPECT_NEAR(EstimateTokens("Привет мир"), 5, 1);
}

TEST(TokenEstimatorTest, InvalidUtf8CountsBytesWithoutReadingPastTheEnd) {
  EXPECT_EQ(EstimateTokens("\xff"), 1u);
  EXPECT_GE(EstimateTokens("abc\xe4\xbd"), 2u);  // truncated 3-byte sequence at the end
  EXPECT_GE(EstimateTokens("\xc3(\xa0\xa1"), 2u);
}

// Found by fuzzing: 14 bytes of junk were estimated at 15 tokens.
TEST(TokenEstimatorTest, NeverMoreTokensThanBytes) {
  const std::string junk("\x42\xff\xff\x42\xff\xff\x4d\xff\xff\x4d\xff\xd9\x61\xff", 14);
  EXPECT_LE(EstimateTokens(junk), junk.size());
  EXPECT_GE(EstimateTokens(junk), 1u);
}

TEST(TokenEstimatorTest, EveryCorpusFileHasAnExpectedCount) {
  const std::map<std::string, long> expected = ExpectedCounts();
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::SourcePath(kCorpusDir))) {
    if (entry.path().extension() != ".txt") continue;
    ++files;
    EXPECT_TRUE(expected.count(entry.path().filename().string()))
        << entry.path() << " is missing from expected_counts.tsv: run tests/tools/token_counts.mjs";
  }
  EXPECT_EQ(files, expected.size());
  EXPECT_GE(files, 20u);
}

// The contract: within 15% of gpt-tokenizer over the mixed corpus; 20% per sample.
TEST(TokenEstimatorTest, WithinTolerancesOfGptTokenizerOnTheCorpus) {
  const std::map<std::string, long> expected = ExpectedCounts();
  ASSERT_FALSE(expected.empty());
  long expected_total = 0;
  long estimated_total = 0;
  for (const auto& [name, count] : expected) {
    const std::string text =
        ReadFile(std::filesystem::path(testing::SourcePath(kCorpusDir)) / name);
    ASSERT_FALSE(text.empty()) << name;
    const long estimate = EstimateTokens(text);
    const double error = static_cast<double>(estimate - count) / static_cast<double>(count);
    std::printf("%-32s expected %5ld estimated %5ld  %+6.1f%%\n", name.c_str(), count, estimate,
                100 * error);
    EXPECT_LE(std::fabs(error), 0.20)
        << name << ": expected " << count << ", estimated " << estimate;
    expected_total += count;
    estimated_total += estimate;
  }
  const double total_error =
      static_cast<double>(estimated_total - expected_total) / static_cast<double>(expected_total);
  std::printf("%-32s expected %5ld estimated %5ld  %+6.1f%%\n", "TOTAL", expected_total,
              estimated_total, 100 * total_error);
  EXPECT_LE(std::fabs(total_error), 0.15);
}

TEST(PromptTokenCounterTest, UnderTheExactWindowItSumsTheEstimates) {
  PromptTokenCounter counter;
  counter.Add("Be brief.");
  counter.Add("你好世界");
  EXPECT_EQ(counter.Total(), EstimateTokens("Be brief.") + EstimateTokens("你好世界"));
  EXPECT_EQ(PromptTokenCounter().Total(), 0u);
}

// Past the exact window the per-script weights take over: each corpus sample, with only its
// first 256 bytes estimated exactly, against gpt-tokenizer's count.
TEST(PromptTokenCounterTest, BeyondTheWindowWithinTolerancesOfGptTokenizer) {
  long expected_total = 0;
  long estimated_total = 0;
  for (const auto& [name, count] : ExpectedCounts()) {
    const std::string text =
        ReadFile(std::filesystem::path(testing::SourcePath(kCorpusDir)) / name);
    PromptTokenCounter counter(256);
    counter.Add(text);
    const long estimate = counter.Total();
    const double error = static_cast<double>(estimate - count) / static_cast<double>(count);
    std::printf("%-32s expected %5ld counted %5ld  %+6.1f%%\n", name.c_str(), count, estimate,
                100 * error);
    EXPECT_LE(std::fabs(error), 0.40) << name;
    expected_total += count;
    estimated_total += estimate;
  }
  const double total_error =
      static_cast<double>(estimated_total - expected_total) / static_cast<double>(expected_total);
  std::printf("TOTAL expected %ld counted %ld %+.1f%%\n", expected_total, estimated_total,
              100 * total_error);
  EXPECT_LE(std::fabs(total_error), 0.10);
}

// A prompt that changes script after the window: the weights price the Chinese as Chinese.
TEST(PromptTokenCounterTest, AScriptChangeAfterTheWindowIsCounted) {
  const std::string english =
      ReadFile(std::filesystem::path(testing::SourcePath(kCorpusDir)) / "en_prose_report.txt");
  const std::string chinese =
      ReadFile(std::filesystem::path(testing::SourcePath(kCorpusDir)) / "zh_prose.txt");
  PromptTokenCounter counter(english.size());
  counter.Add(english);
  std::string many_chinese;
  for (int i = 0; i < 20; ++i) many_chinese += chinese;
  counter.Add(many_chinese);
  const double exact = EstimateTokens(english) + 20.0 * EstimateTokens(chinese);
  EXPECT_NEAR(counter.Total(), exact, exact * 0.25);
}

}  // namespace
}  // namespace llmrouter
