#include "tests/support/http_test_client.h"

// clang-format off
#include <utility>  // Boost 1.74's coroutine headers need it first with g++ 12.
// clang-format on

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

namespace llmrouter::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpResult HttpCall(int port, const std::string& method, const std::string& target,
                    const std::string& body, const std::map<std::string, std::string>& headers) {
  HttpResult out;
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                         static_cast<unsigned short>(port)),
                 ec);
  if (ec) {
    out.error = "connect: " + ec.message();
    return out;
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req.set(k, v);
    has_type = has_type || beast::iequals(k, "content-type");
  }
  if (!body.empty() && !has_type) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) {
    out.error = "write: " + ec.message();
    return out;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(64 << 20);
  http::read_header(stream, buffer, parser, ec);
  if (ec) {
    out.error = "read header: " + ec.message();
    return out;
  }
  char piece[65536];
  while (!parser.is_done()) {
    parser.get().body().data = piece;
    parser.get().body().size = sizeof piece;
    http::read_some(stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    size_t n = sizeof piece - parser.get().body().size;
    if (n > 0) {
      out.pieces.emplace_back(piece, n);
      out.body.append(piece, n);
    }
    if (ec) {
      out.error = "read body: " + ec.message();
      break;
    }
  }
  const auto& res = parser.get();
  out.status = res.result_int();
  out.chunked = res.chunked();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  return out;
}

std::string RawExchange(int port, const std::string& bytes) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.expires_after(std::chrono::seconds(5));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                         static_cast<unsigned short>(port)),
                 ec);
  if (ec) return "";
  asio::write(stream.socket(), asio::buffer(bytes), ec);
  std::string out;
  char buf[4096];
  for (;;) {
    size_t n = stream.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

std::vector<std::string> SseData(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end;
  }
  return out;
}

}  // namespace llmrouter::testing
