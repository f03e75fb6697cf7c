// AppendHttpHeader writes what Beast's parser reads back, field for field.
#include "common/http_wire.h"

#include <gtest/gtest.h>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace llmrouter {
namespace {

namespace http = boost::beast::http;

TEST(HttpWireTest, ResponseHeaderHasStatusLineFieldsAndBlankLine) {
  http::response<http::string_body> response{http::status::not_found, 11};
  response.set(http::field::content_type, "application/json");
  response.set("x-router-model", "m");
  response.body() = "{}";
  response.prepare_payload();
  std::string head;
  AppendHttpHeader(response.base(), &head);
  EXPECT_EQ(head,
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nx-router-model: m\r\n"
            "Content-Length: 2\r\n\r\n");
}

TEST(HttpWireTest, RequestRoundTripsThroughBeastsParser) {
  http::request<http::string_body> request{http::verb::post, "/v1/chat/completions?x=1", 11};
  request.set(http::field::host, "10.0.0.1:8000");
  request.set(http::field::authorization, "Bearer k");
  request.body() = R"({"model":"a"})";
  request.prepare_payload();
  std::string wire;
  AppendHttpHeader(request.base(), &wire);
  wire += request.body();

  http::request_parser<http::string_body> parser;
  boost::beast::error_code ec;
  parser.eager(true);
  const std::size_t used = parser.put(boost::asio::buffer(wire), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(used, wire.size());
  ASSERT_TRUE(parser.is_done());
  const auto& parsed = parser.get();
  EXPECT_EQ(parsed.method(), http::verb::post);
  EXPECT_EQ(parsed.target(), "/v1/chat/completions?x=1");
  EXPECT_EQ(parsed[http::field::host], "10.0.0.1:8000");
  EXPECT_EQ(parsed[http::field::authorization], "Bearer k");
  EXPECT_EQ(parsed.body(), R"({"model":"a"})");
}

TEST(HttpWireTest, Http10AndCustomReasonAreKept) {
  http::response<http::string_body> response{http::status::ok, 10};
  response.reason("Fine");
  std::string head;
  AppendHttpHeader(response.base(), &head);
  EXPECT_EQ(head, "HTTP/1.0 200 Fine\r\n\r\n");
}

}  // namespace
}  // namespace llmrouter
