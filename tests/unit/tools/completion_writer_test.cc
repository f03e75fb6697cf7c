#include "tools/fake-llm/completion_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "simdjson.h"
#include "tools/fake-llm/fake_llm_options.h"

namespace llmrouter {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

bool IsJson(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return !parser.parse(std::string(text)).get(doc);
}

FakeLlmOptions Options(int tokens) {
  FakeLlmOptions o;
  o.models = {"m"};
  o.name = "b";
  o.completion_tokens = tokens;
  return o;
}

TEST(CompletionWriterTest, TokensConcatenateToTheContent) {
  CompletionWriter w(Options(40));
  EXPECT_EQ(w.completion_tokens(), 40);
  std::string joined;
  for (int i = 0; i < 40; ++i) joined += w.Token(i);
  EXPECT_EQ(joined, w.Content(40));
  EXPECT_EQ(w.Content(2), "the quick");
  EXPECT_EQ(w.Content(0), "");
}

TEST(CompletionWriterTest, EveryBodyIsValidJson) {
  CompletionWriter w(Options(3));
  CompletionMeta meta{.id = "chatcmpl-1", .created = 5, .completion_tokens = 3, .prompt_tokens = 2};
  std::string out;
  w.WriteCompletion(InferenceApi::kChatCompletions, meta, &out);
  EXPECT_TRUE(IsJson(out)) << out;
  w.WriteCompletion(InferenceApi::kCompletions, meta, &out);
  EXPECT_TRUE(IsJson(out)) << out;
  EXPECT_TRUE(IsJson(w.models_json())) << w.models_json();
  InferenceRequest req;
  req.input_hashes = {1, 2};
  w.WriteEmbeddings(req, &out);
  EXPECT_TRUE(IsJson(out)) << out;

  for (InferenceApi api : {InferenceApi::kChatCompletions, InferenceApi::kCompletions}) {
    CompletionWriter::StreamEvents events(w, api, meta);
    std::string first(events.First());
    if (api == InferenceApi::kChatCompletions) {
      EXPECT_THAT(first, HasSubstr("\"role\":\"assistant\""));
    } else {
      EXPECT_EQ(first, "");
    }
    // Each event is copied before the next call reuses the buffer.
    for (std::string event : {std::string(events.TokenEvent(1)), std::string(events.Finish()),
                              std::string(events.Usage())}) {
      ASSERT_THAT(event, StartsWith("data: "));
      ASSERT_EQ(event.substr(event.size() - 2), "\n\n");
      EXPECT_TRUE(IsJson(event.substr(6, event.size() - 8))) << event;
    }
  }
}

TEST(CompletionWriterTest, FinishReasonFollowsTruncation) {
  CompletionWriter w(Options(3));
  CompletionMeta meta{.id = "x", .completion_tokens = 1, .truncated = true};
  std::string out;
  w.WriteCompletion(InferenceApi::kChatCompletions, meta, &out);
  EXPECT_THAT(out, HasSubstr("\"finish_reason\":\"length\""));
  EXPECT_THAT(out, HasSubstr("\"content\":\"the\""));
}

TEST(FakeLlmOptionsTest, RejectsOutOfRangeValuesNamingTheFlag) {
  FakeLlmOptions o = Options(3);
  EXPECT_TRUE(ValidateFakeLlmOptions(o).ok());
  o.drop_rate = 1.5;
  EXPECT_THAT(std::string(ValidateFakeLlmOptions(o).message()),
              HasSubstr("--drop_rate must be in [0, 1], got 1.5"));
  o = Options(3);
  o.error_status = 200;
  EXPECT_EQ(ValidateFakeLlmOptions(o).code(), absl::StatusCode::kInvalidArgument);
  o = Options(3);
  o.models = {"a b"};
  EXPECT_THAT(std::string(ValidateFakeLlmOptions(o).message()), HasSubstr("--model"));
}

}  // namespace
}  // namespace llmrouter
