#include "common/openai_error.h"

#include <gtest/gtest.h>

namespace llmrouter {
namespace {

TEST(OpenAiErrorTest, ShapeAndEscaping) {
  EXPECT_EQ(OpenAiErrorJson(404, "The model \"x\" does not exist.", "model_not_found"),
            R"({"error":{"message":"The model \"x\" does not exist.","type":)"
            R"("invalid_request_error","param":null,"code":"model_not_found"}})");
  EXPECT_EQ(OpenAiErrorJson(503, "line1\nline2\x01"),
            R"({"error":{"message":"line1\nline2\u0001","type":"server_error",)"
            R"("param":null,"code":null}})");
}

TEST(OpenAiErrorTest, TypesFollowStatus) {
  EXPECT_EQ(OpenAiErrorType(401), "authentication_error");
  EXPECT_EQ(OpenAiErrorType(429), "rate_limit_error");
  EXPECT_EQ(OpenAiErrorType(413), "invalid_request_error");
  EXPECT_EQ(OpenAiErrorType(502), "server_error");
}

}  // namespace
}  // namespace llmrouter
