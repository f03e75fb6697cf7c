#include "tests/support/http_test_client.h"

// clang-format off
#include <utility>  // Boost 1.74's coroutine headers need it first with g++ 12.
// clang-format on

#include <poll.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <sstream>
#include <stdexcept>

namespace llmrouter::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Reads one response into `out`, keeping the body pieces as they come off the wire.
asio::awaitable<void> ReadResponseInto(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                       HttpResult& out) {
  beast::error_code ec;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(64 << 20);
  co_await http::async_read_header(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out.error = "read header: " + ec.message();
    co_return;
  }
  std::vector<char> piece(65536);
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    co_await http::async_read_some(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    size_t n = piece.size() - parser.get().body().size;
    if (n > 0) {
      out.pieces.emplace_back(piece.data(), n);
      out.body.append(piece.data(), n);
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
}

// Reads until the peer closes or an error; `ec` says which.
asio::awaitable<void> ReadUntilClosed(beast::tcp_stream& stream, std::string& out,
                                      beast::error_code& ec) {
  std::vector<char> chunk(4096);
  while (!ec) {
    std::size_t n = co_await stream.async_read_some(asio::buffer(chunk),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    out.append(chunk.data(), n);
  }
}

}  // namespace

struct HttpTestConnection::Io {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool connected = false;

  // Runs `task` on this connection's event loop until it ends; past `limit` the stream closes
  // the socket, which ends it.
  void Run(asio::awaitable<void> task, std::chrono::milliseconds limit) {
    stream.expires_after(limit);
    asio::co_spawn(ioc, std::move(task), asio::detached);
    ioc.restart();
    ioc.run();
    stream.expires_never();
  }
};

HttpTestConnection::HttpTestConnection(int port) : io_(std::make_unique<Io>()) {
  beast::error_code ec;
  io_->stream.socket().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                                       static_cast<unsigned short>(port)),
                               ec);
  io_->connected = !ec;
}

HttpTestConnection::~HttpTestConnection() = default;

bool HttpTestConnection::connected() const { return io_->connected; }

bool HttpTestConnection::Send(std::string_view bytes) {
  beast::error_code ec;
  asio::write(io_->stream.socket(), asio::buffer(bytes.data(), bytes.size()), ec);
  return !ec;
}

std::size_t HttpTestConnection::Trickle(std::string_view bytes, std::chrono::milliseconds gap) {
  std::size_t sent = 0;
  while (sent < bytes.size() && Send(bytes.substr(sent, 1))) {
    ++sent;
    // Readable means an answer or a close has arrived.
    pollfd fd{io_->stream.socket().native_handle(), POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(gap.count())) != 0) break;
  }
  return sent;
}

HttpResult HttpTestConnection::ReadResponse(std::chrono::milliseconds limit) {
  HttpResult out;
  io_->Run(ReadResponseInto(io_->stream, io_->buffer, out), limit);
  return out;
}

bool HttpTestConnection::WaitForClose(std::chrono::milliseconds limit, std::string* received) {
  std::string got = beast::buffers_to_string(io_->buffer.data());
  io_->buffer.clear();
  beast::error_code ec;
  io_->Run(ReadUntilClosed(io_->stream, got, ec), limit);
  if (received) received->append(got);
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

HttpResult HttpCall(int port, const std::string& method, const std::string& target,
                    const std::string& body, const std::map<std::string, std::string>& headers) {
  HttpTestConnection connection(port);
  if (!connection.connected()) return HttpResult{.error = "connect: refused"};
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
  std::ostringstream raw;
  raw << req;
  if (!connection.Send(raw.str())) return HttpResult{.error = "write: failed"};
  return connection.ReadResponse();
}

std::string RawExchange(int port, const std::string& bytes) {
  HttpTestConnection connection(port);
  std::string out;
  if (connection.connected() && connection.Send(bytes)) {
    connection.WaitForClose(std::chrono::seconds(5), &out);
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

double ScrapeMetric(int metrics_port, const std::string& series) {
  const std::string page = HttpCall(metrics_port, "GET", "/metrics").body;
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() <= series.size() || line.compare(0, series.size(), series) != 0 ||
        line[series.size()] != ' ') {
      continue;
    }
    try {
      return std::stod(line.substr(series.size() + 1));
    } catch (const std::exception&) {
      return -1;
    }
  }
  return -1;
}

}  // namespace llmrouter::testing
