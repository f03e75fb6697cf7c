// HTTP/1.1 messages written without Beast's serializer: the start line and fields as one string,
// the body as a second buffer, in one gather write. Beast's serializer walks a chain of buffer
// adaptors per field; on the proxy path that cost as much as the system calls around it.
#ifndef LLMROUTER_COMMON_HTTP_WIRE_H_
#define LLMROUTER_COMMON_HTTP_WIRE_H_

// clang-format off
#include <utility>  // Boost 1.74's coroutine headers need it first with g++ 12.
// clang-format on

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <string>
#include <string_view>

namespace llmrouter {

// Appends one field line, "name: value".
inline void AppendHttpField(boost::beast::string_view name, boost::beast::string_view value,
                            std::string* out) {
  out->append(name.data(), name.size()).append(": ");
  out->append(value.data(), value.size()).append("\r\n");
}

// Appends a response's status line; an empty `reason` takes the standard one.
inline void AppendHttpStatusLine(unsigned version, unsigned status,
                                 boost::beast::string_view reason, std::string* out) {
  if (reason.empty())
    reason = boost::beast::http::obsolete_reason(boost::beast::http::int_to_status(status));
  out->append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out->append(std::to_string(status)).push_back(' ');
  out->append(reason.data(), reason.size()).append("\r\n");
}

// Appends the start line, the fields and the blank line that ends them.
template <bool isRequest, class Fields>
void AppendHttpHeader(const boost::beast::http::header<isRequest, Fields>& header,
                      std::string* out) {
  if constexpr (isRequest) {
    const auto method = header.method_string();
    const auto target = header.target();
    out->append(method.data(), method.size()).push_back(' ');
    out->append(target.data(), target.size()).push_back(' ');
    out->append(header.version() == 10 ? "HTTP/1.0" : "HTTP/1.1").append("\r\n");
  } else {
    AppendHttpStatusLine(header.version(), header.result_int(), header.reason(), out);
  }
  for (const auto& field : header) AppendHttpField(field.name_string(), field.value(), out);
  out->append("\r\n");
}

// Writes a head built with AppendHttpHeader (or the like) and a body in one gather write.
template <class AsyncWriteStream>
boost::asio::awaitable<void> WriteHttpHeadAndBody(AsyncWriteStream& stream, std::string_view head,
                                                  std::string_view body,
                                                  boost::beast::error_code& ec) {
  const std::array<boost::asio::const_buffer, 2> buffers = {
      boost::asio::buffer(head.data(), head.size()), boost::asio::buffer(body.data(), body.size())};
  co_await boost::asio::async_write(stream, buffers,
                                    boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

// Writes `message`, whose body is contiguous in memory (string_body, span_body) and whose
// framing is in its fields (prepare_payload() was called); `ec` tells how it went.
template <class AsyncWriteStream, bool isRequest, class Body, class Fields>
boost::asio::awaitable<void> WriteHttpMessage(
    AsyncWriteStream& stream, const boost::beast::http::message<isRequest, Body, Fields>& message,
    boost::beast::error_code& ec) {
  std::string head;
  head.reserve(512);
  AppendHttpHeader(message.base(), &head);
  co_await WriteHttpHeadAndBody(stream, head,
                                std::string_view(message.body().data(), message.body().size()), ec);
}

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_HTTP_WIRE_H_
