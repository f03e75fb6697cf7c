#include "services/gateway/request_inspector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/token_estimator.h"

namespace llmrouter::gateway {
namespace {

using ::testing::HasSubstr;

MATCHER_P2(StatusIs, code, message_matcher, "") {
  return arg.code() == code && ::testing::ExplainMatchResult(
                                   message_matcher, std::string(arg.message()), result_listener);
}

TEST(RequestInspectorTest, ReadsTheFieldsRoutingNeeds) {
  RequestInspector inspector;
  absl::StatusOr<InspectedRequest> r = inspector.Inspect(R"({
    "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": "Hello there"}],
    "model": "llama-3-8b",
    "stream": true,
    "stream_options": {"include_usage": true},
    "max_tokens": 64,
    "temperature": 0.2,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"content": "no"}}}]
  })");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->model, "llama-3-8b");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->max_output_tokens, 64u);
  EXPECT_EQ(r->message_count, 2u);
  EXPECT_EQ(r->excerpt, "Be brief.\nHello there");
  EXPECT_FALSE(r->excerpt_truncated);
  EXPECT_EQ(r->prompt_bytes, 21u);
  EXPECT_EQ(r->estimated_tokens, EstimateTokens("Be brief.") + EstimateTokens("Hello there") +
                                     2 * kChatTokensPerMessage + kChatReplyTokens);
  EXPECT_EQ(r->last_user_message, "Hello there");
}

TEST(RequestInspectorTest, TheUserFieldIsTheEndUsersIdCutAtACharacterBoundary) {
  RequestInspector inspector;
  auto r = inspector.Inspect(R"({"model":"m","user":"user-1234","messages":[]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->user, "user-1234");
  // 200 two-byte characters: cut to 128 of them (256 bytes), never inside one.
  std::string long_user;
  for (int i = 0; i < 200; ++i) long_user += "\xc3\xa9";
  r = inspector.Inspect(absl::StrCat(R"({"model":"m","user":")", long_user, R"("})"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->user.size(), kMaxUserBytes);
  EXPECT_EQ(r->user, long_user.substr(0, kMaxUserBytes));
  EXPECT_TRUE(inspector.Inspect(R"({"model":"m","user":null})")->user.empty());
  EXPECT_THAT(inspector.Inspect(R"({"model":"m","user":42})").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"user\" must be a string")));
}

TEST(RequestInspectorTest, DefaultsWhenOptionalFieldsAreAbsentOrNull) {
  RequestInspector inspector;
  absl::StatusOr<InspectedRequest> r =
      inspector.Inspect(R"({"model":"m","stream":null,"max_tokens":null,"messages":[]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->include_usage);
  EXPECT_EQ(r->max_output_tokens, 0u);
  EXPECT_EQ(r->message_count, 0u);
  EXPECT_EQ(r->excerpt, "");
  EXPECT_EQ(r->estimated_tokens, 0u);
}

TEST(RequestInspectorTest, MaxCompletionTokensWinsOverMaxTokensAndIsClamped) {
  RequestInspector inspector;
  auto r = inspector.Inspect(
      R"({"max_completion_tokens": 99999999999, "model": "m", "max_tokens": 10})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->max_output_tokens, 4294967295u);
}

TEST(RequestInspectorTest, ArrayOfPartsContributesOnlyText) {
  RequestInspector inspector;
  auto r = inspector.Inspect(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"text","text":"Describe"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},
      {"text":"this image","type":"text"}]},
      {"role":"assistant","content":null,"tool_calls":[]}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->excerpt, "Describe\nthis image");
  EXPECT_EQ(r->message_count, 2u);
}

TEST(RequestInspectorTest, CompletionPromptAndEmbeddingInput) {
  RequestInspector inspector;
  auto completion = inspector.Inspect(R"({"model":"m","prompt":"Once upon a time"})");
  ASSERT_TRUE(completion.ok()) << completion.status();
  EXPECT_EQ(completion->excerpt, "Once upon a time");
  auto embedding = inspector.Inspect(R"({"input":["first","second",[1,2,3]],"model":"e"})");
  ASSERT_TRUE(embedding.ok()) << embedding.status();
  EXPECT_EQ(embedding->excerpt, "first\nsecond");
  EXPECT_EQ(embedding->model, "e");
}

TEST(RequestInspectorTest, ExcerptIsBoundedButTheEstimateCoversTheWholePrompt) {
  RequestInspector inspector(RequestInspectorOptions{.excerpt_limit_bytes = 100});
  std::string big(1000, 'a');
  auto r = inspector.Inspect(R"({"model":"m","messages":[{"role":"user","content":")" + big +
                             R"("},{"role":"user","content":"tail"}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->excerpt, std::string(100, 'a'));
  EXPECT_TRUE(r->excerpt_truncated);
  EXPECT_EQ(r->prompt_bytes, 1005u);
  EXPECT_EQ(r->estimated_tokens, EstimateTokens(big) + EstimateTokens("tail") +
                                     2 * kChatTokensPerMessage + kChatReplyTokens);
  EXPECT_EQ(r->last_user_message, "tail");
}

TEST(RequestInspectorTest, LastUserMessageIsTheLastMessageWithRoleUser) {
  RequestInspector inspector;
  auto r = inspector.Inspect(R"({"model":"m","messages":[
      {"role":"system","content":"You are a coding assistant; call the function tool."},
      {"role":"user","content":"first question"},
      {"role":"assistant","content":"an answer"},
      {"content":[{"type":"text","text":"Describe"},{"type":"image_url","image_url":{"url":"x"}},
                  {"type":"text","text":"this image"}],"role":"user"},
      {"role":"assistant","content":null,"tool_calls":[]},
      {"role":{"not":"a string"},"content":"ignored"}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->last_user_message, "Describe\nthis image") << "the role may follow the content";
  auto none = inspector.Inspect(R"({"model":"m","messages":[{"role":"system","content":"x"}]})");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->last_user_message, "");
  auto completion = inspector.Inspect(R"({"model":"m","prompt":["Once upon", "a time"]})");
  ASSERT_TRUE(completion.ok()) << completion.status();
  EXPECT_EQ(completion->last_user_message, "Once upon\na time");
  EXPECT_EQ(completion->estimated_tokens, EstimateTokens("Once upon") + EstimateTokens("a time"))
      << "a completion has no chat template";
}

TEST(RequestInspectorTest, LastUserMessageIsBoundedOnAUtf8Boundary) {
  RequestInspector inspector(RequestInspectorOptions{.classifier_window_bytes = 4});
  auto r = inspector.Inspect(
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\xC3\xA9\xE2\x82\xAC\"}]}");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->last_user_message, "a\xC3\xA9");
  EXPECT_EQ(r->excerpt, "a\xC3\xA9\xE2\x82\xAC") << "the excerpt has its own, larger bound";
}

// tests/data/tokenizer_corpus/zh_question.txt, which gpt-tokenizer (cl100k_base) makes 156
// tokens of: bytes / 4 would say 97.
constexpr char kChineseQuestion[] =
    "请帮我写一份周末两天的北京旅游计划。我们一家四口，两个孩子分别是七岁和十岁，喜欢历史和动物。预"
    "算大约三千元，不包括住宿。希望行程不要太赶，每天下午能休息一下。另外，请推荐几家适合带孩子吃饭"
    "的餐厅，并说明大概的人均消费。如果需要提前预约门票的景点，也请提醒我。";

TEST(RequestInspectorTest, EstimateIsHonestForChinese) {
  RequestInspector inspector;
  auto r = inspector.Inspect(absl::StrCat(R"({"model":"m","messages":[{"role":"user","content":")",
                                          kChineseQuestion, R"("}]})"));
  ASSERT_TRUE(r.ok()) << r.status();
  const double content = r->estimated_tokens - kChatTokensPerMessage - kChatReplyTokens;
  EXPECT_NEAR(content, 156, 156 * 0.1);
  EXPECT_EQ(r->last_user_message, kChineseQuestion);
}

TEST(RequestInspectorTest, ExcerptIsNotCutInsideAUtf8Character) {
  RequestInspector inspector(RequestInspectorOptions{.excerpt_limit_bytes = 4});
  // "aé€": 1 + 2 + 3 bytes; 4 bytes would split the euro sign.
  auto r = inspector.Inspect("{\"model\":\"m\",\"prompt\":\"a\xC3\xA9\xE2\x82\xAC\"}");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->excerpt, "a\xC3\xA9");
  EXPECT_TRUE(r->excerpt_truncated);
}

TEST(RequestInspectorTest, EscapedTextIsUnescapedInTheExcerpt) {
  RequestInspector inspector;
  auto r = inspector.Inspect(R"({"model":"m","prompt":"line\none \"q\" \u00e9"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->excerpt, "line\none \"q\" \xC3\xA9");
}

TEST(RequestInspectorTest, MalformedBodiesAreInvalidArgument) {
  RequestInspector inspector;
  for (const char* body : {"", "{", "{\"model\": \"x\", ", "[1,2]", "\"model\"", "nope",
                           "{\"model\":\"x\"} trailing", "{\"model\":\"x\",}"}) {
    EXPECT_THAT(inspector.Inspect(body).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_))
        << body;
  }
  EXPECT_THAT(inspector.Inspect("[1,2]").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be a JSON object")));
  EXPECT_THAT(inspector.Inspect("{\"model\": \"x\", ").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
}

TEST(RequestInspectorTest, ModelMustBePresentNonEmptyUniqueAndAString) {
  RequestInspector inspector;
  EXPECT_THAT(
      inspector.Inspect(R"({"messages":[]})").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing required field \"model\"")));
  EXPECT_THAT(inspector.Inspect(R"({"model":""})").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must not be empty")));
  EXPECT_THAT(
      inspector.Inspect(R"({"model":42})").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"model\" must be a string")));
  // Two models would let decision and the backend see different ones.
  EXPECT_THAT(inspector.Inspect(R"({"model":"a","model":"b"})").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than once")));
}

TEST(RequestInspectorTest, WrongTypesOfRoutingFieldsAreNamed) {
  RequestInspector inspector;
  EXPECT_THAT(inspector.Inspect(R"({"model":"m","stream":"yes"})").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"stream\" must be")));
  EXPECT_THAT(inspector.Inspect(R"({"model":"m","max_tokens":-1})").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"max_tokens\" must be")));
  EXPECT_THAT(inspector.Inspect(R"({"model":"m","messages":{}})").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"messages\" must be")));
}

TEST(RequestInspectorTest, RewriteModelChangesOnlyTheModelValue) {
  RequestInspector inspector;
  const std::string body =
      "{ \"messages\" : [ {\"role\":\"user\", \"content\":\"say \\\"model\\\": \\u0041\"} ],\n"
      "\t\"model\"  :  \"gpt-4o\\u002dmini\"  ,\r\n  \"stream\":true }";
  absl::StatusOr<InspectedRequest> inspected = inspector.Inspect(body);
  ASSERT_TRUE(inspected.ok()) << inspected.status();
  EXPECT_EQ(inspected->model, "gpt-4o-mini");
  std::string out = RequestInspector::RewriteModel(body, *inspected, "meta/llama \"3\"");
  EXPECT_EQ(out,
            "{ \"messages\" : [ {\"role\":\"user\", \"content\":\"say \\\"model\\\": \\u0041\"} "
            "],\n\t\"model\"  :  \"meta/llama \\\"3\\\"\"  ,\r\n  \"stream\":true }");
  // The result is still valid and says the new model.
  auto again = inspector.Inspect(out);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->model, "meta/llama \"3\"");
  EXPECT_TRUE(again->stream);
}

TEST(RequestInspectorTest, RewriteModelConvenienceInspectsFirst) {
  RequestInspector inspector;
  auto out = inspector.RewriteModel(R"({"model":"a","x":"model"})", "bb");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, R"({"model":"bb","x":"model"})");
  EXPECT_THAT(inspector.RewriteModel("{", "bb").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(RequestInspectorTest, InspectorIsReusableAcrossBodiesOfDifferentSizes) {
  RequestInspector inspector;
  std::string big = R"({"model":"big","prompt":")" + std::string(100000, 'x') + "\"}";
  ASSERT_TRUE(inspector.Inspect(big).ok());
  auto small = inspector.Inspect(R"({"model":"s"})");
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->model, "s");
  EXPECT_EQ(small->model_token_offset, 9u);
  EXPECT_EQ(small->model_token_size, 3u);
}

}  // namespace
}  // namespace llmrouter::gateway
