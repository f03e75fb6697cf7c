#include "tools/fake-llm/inference_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace llmrouter {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kServed = {"m1", "m2"};

absl::StatusOr<InferenceRequest> Chat(const std::string& body) {
  return ParseInferenceRequest(InferenceApi::kChatCompletions, body, kServed);
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(InferenceRequestTest, ReadsChatFieldsInAnyOrder) {
  auto r = Chat(R"({"stream":true,"max_completion_tokens":7,"stream_options":{"include_usage":true},
                    "messages":[{"role":"system","content":"12345678"},
                                {"role":"user","content":[{"type":"text","text":"abcd"},
                                                          {"type":"image_url","image_url":{}}]},
                                {"role":"assistant","content":null,"tool_calls":[]}],
                    "model":"m2","temperature":0.5})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->model_index, 1);
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->max_tokens, 7);
  EXPECT_EQ(r->prompt_tokens, 3);  // 12 bytes of text / 4
}

TEST(InferenceRequestTest, DefaultsWhenOptionalFieldsAreAbsentOrNull) {
  auto r = Chat(R"({"model":"m1","messages":[{"content":"x"}],"max_tokens":null,"stream":null})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->include_usage);
  EXPECT_EQ(r->max_tokens, -1);
  EXPECT_EQ(r->prompt_tokens, 1);
}

TEST(InferenceRequestTest, RejectsBadRequestsWithTheFieldNamed) {
  struct Case {
    std::string body;
    std::string message;
  } cases[] = {
      {R"({"model":"m1","messages":[)", "not valid JSON"},
      {R"([1,2])", "must be a JSON object"},
      {R"({"messages":[{"content":"x"}]})", "model is a required property"},
      {R"({"model":"m1"})", "messages is a required property"},
      {R"({"model":"m1","messages":[]})", "messages must be a non-empty array"},
      {R"({"model":7,"messages":[{"content":"x"}]})", "model must be a string"},
      {R"({"model":"m1","messages":[{"content":"x"}],"max_tokens":0})", "max_tokens must be"},
      {R"({"model":"m1","messages":[{"content":"x"}],"stream":"yes"})", "stream must be"},
      {R"({"model":"m1","messages":[{"content":"x"}],"stream_options":{"include_usage":1}})",
       "include_usage must be a boolean"},
  };
  for (const Case& c : cases) {
    auto r = Chat(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_THAT(Message(r.status()), HasSubstr(c.message)) << c.body;
  }
}

TEST(InferenceRequestTest, UnknownModelIsNotFound) {
  auto r = Chat(R"({"model":"llama","messages":[{"content":"x"}]})");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Message(r.status()), "The model `llama` does not exist.");
}

TEST(InferenceRequestTest, PromptsMayBeTextOrTokenIds) {
  auto text = ParseInferenceRequest(InferenceApi::kCompletions,
                                    R"({"model":"m1","prompt":"abcdefgh"})", kServed);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->prompt_tokens, 2);
  auto ids = ParseInferenceRequest(InferenceApi::kCompletions,
                                   R"({"model":"m1","prompt":[1,2,3,4,5]})", kServed);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->prompt_tokens, 5);
  auto mixed = ParseInferenceRequest(InferenceApi::kCompletions,
                                     R"({"model":"m1","prompt":[1,"a"]})", kServed);
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(InferenceRequestTest, EmbeddingInputsHashStably) {
  auto r = ParseInferenceRequest(
      InferenceApi::kEmbeddings,
      R"({"model":"m1","input":["a","b","a",[1,2]],"encoding_format":"base64"})", kServed);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->input_hashes.size(), 4u);
  EXPECT_EQ(r->input_hashes[0], r->input_hashes[2]);
  EXPECT_NE(r->input_hashes[0], r->input_hashes[1]);
  EXPECT_EQ(r->input_hashes[0], Fnv1a64("a"));
  EXPECT_TRUE(r->base64);
  auto bad = ParseInferenceRequest(
      InferenceApi::kEmbeddings, R"({"model":"m1","input":"a","encoding_format":"int8"})", kServed);
  EXPECT_THAT(Message(bad.status()), HasSubstr("encoding_format must be"));
}

}  // namespace
}  // namespace llmrouter
