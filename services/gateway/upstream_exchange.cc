#include "services/gateway/upstream_exchange.h"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/http_wire.h"

namespace llmrouter::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr std::size_t kPieceBytes = 16 << 10;
constexpr std::size_t kFirstReadBytes = 8 << 10;
constexpr std::uint32_t kMaxUpstreamHeaderBytes = 64 << 10;

}  // namespace

std::string_view AttemptResultName(AttemptResult result) {
  switch (result) {
    case AttemptResult::kOk:
      return "ok";
    case AttemptResult::kConnectError:
      return "connect_error";
    case AttemptResult::kTimeout:
      return "timeout";
    case AttemptResult::kHttp5xx:
      return "http_5xx";
    case AttemptResult::kHttp429:
      return "http_429";
    case AttemptResult::kReset:
      return "reset";
  }
  return "reset";
}

UpstreamExchange::UpstreamExchange(UpstreamPool& pool, std::string address, bool tls,
                                   std::chrono::milliseconds timeout)
    : pool_(pool), address_(std::move(address)), tls_(tls), timeout_(timeout) {}

asio::awaitable<AttemptResult> UpstreamExchange::Start(UpstreamRequest& request) {
  bool stale = false;
  AttemptResult result = co_await Exchange(request, /*fresh=*/false, &stale);
  if (stale && !aborted_) result = co_await Exchange(request, /*fresh=*/true, &stale);
  if (aborted_) error_ = absl::StrCat(address_, ": the client went away before the answer");
  co_return result;
}

void UpstreamExchange::Abort() {
  aborted_ = true;
  if (stream_) stream_->tcp().cancel();
}

asio::awaitable<AttemptResult> UpstreamExchange::Exchange(UpstreamRequest& request, bool fresh,
                                                          bool* stale) {
  *stale = false;
  absl::StatusOr<UpstreamConnection> connection = co_await pool_.Acquire(address_, tls_, fresh);
  if (!connection.ok()) {
    error_ = std::string(connection.status().message());
    co_return connection.status().code() == absl::StatusCode::kDeadlineExceeded
        ? AttemptResult::kTimeout
        : AttemptResult::kConnectError;
  }
  if (aborted_) {
    // The client left while the connection was being made; it goes back to the pool unused.
    pool_.Release(address_, tls_, std::move(connection->stream));
    co_return AttemptResult::kReset;
  }
  stream_ = std::move(connection->stream);
  beast::flat_buffer& buffer = stream_->read_buffer();
  buffer.clear();
  // Beast reads at most the buffer's free capacity (512 bytes when empty): one read should take
  // a whole small answer, header and body.
  buffer.reserve(kFirstReadBytes);
  parser_.emplace();
  // Not boost::none: Beast 1.74 compares content-length against an empty optional as larger.
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  parser_->header_limit(kMaxUpstreamHeaderBytes);

  beast::error_code ec;
  stream_->tcp().expires_after(timeout_);
  co_await stream_->Visit([&](auto& s) { return WriteHttpMessage(s, request, ec); });
  // An Abort() that came between two operations cancelled nothing: it is honoured here.
  if (!ec && aborted_) ec = asio::error::operation_aborted;
  if (!ec) {
    co_await stream_->Visit([&](auto& s) {
      return http::async_read_header(s, buffer, *parser_,
                                     asio::redirect_error(asio::use_awaitable, ec));
    });
  }
  if (ec) {
    const bool nothing_read = buffer.size() == 0;
    stream_.reset();
    bool timed_out = ec == beast::error::timeout;
    if (connection->reused && !timed_out && !parser_->got_some() && nothing_read) {
      *stale = true;
      co_return AttemptResult::kReset;
    }
    error_ = timed_out ? absl::StrCat(address_, " sent no response header within ",
                                      timeout_.count(), " ms")
                       : absl::StrCat(address_, " failed before answering: ", ec.message());
    co_return timed_out ? AttemptResult::kTimeout : AttemptResult::kReset;
  }
  unsigned status = parser_->get().result_int();
  if (status == 429 || status >= 500) {
    error_ = absl::StrCat(address_, " answered HTTP ", status);
    co_return status == 429 ? AttemptResult::kHttp429 : AttemptResult::kHttp5xx;
  }
  co_return AttemptResult::kOk;
}

bool UpstreamExchange::streaming() const {
  return !parser_->is_done() && (parser_->chunked() || !parser_->content_length());
}

asio::awaitable<absl::StatusOr<std::string_view>> UpstreamExchange::ReadSome() {
  if (!piece_) piece_.reset(new char[kPieceBytes]);  // not zeroed: only what was read is used
  while (!parser_->is_done()) {
    auto& body = parser_->get().body();
    body.data = piece_.get();
    body.size = kPieceBytes;
    beast::error_code ec;
    // What the header's read brought along is parsed here, without a turn of the event loop.
    beast::flat_buffer& buffer = stream_->read_buffer();
    if (buffer.size() > 0) {
      const std::size_t used = parser_->put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};
      if (ec) {
        co_return absl::UnavailableError(
            absl::StrCat(address_, " sent a malformed response: ", ec.message()));
      }
      std::size_t n = kPieceBytes - parser_->get().body().size;
      if (n > 0) co_return std::string_view(piece_.get(), n);
      if (parser_->is_done()) break;
      if (used > 0 && buffer.size() > 0) continue;  // e.g. a chunk header alone: parse on
    }
    if (aborted_) {
      co_return absl::CancelledError(absl::StrCat(address_, ": the client went away"));
    }
    stream_->tcp().expires_after(timeout_);
    co_await stream_->Visit([&](auto& s) {
      return http::async_read_some(s, stream_->read_buffer(), *parser_,
                                   asio::redirect_error(asio::use_awaitable, ec));
    });
    if (ec == http::error::need_buffer) ec = {};
    if (ec == beast::error::timeout) {
      co_return absl::DeadlineExceededError(
          absl::StrCat(address_, " sent nothing for ", timeout_.count(), " ms"));
    }
    if (ec) {
      co_return absl::UnavailableError(
          absl::StrCat(address_, " broke off its response: ", ec.message()));
    }
    std::size_t n = kPieceBytes - parser_->get().body().size;
    if (n > 0) co_return std::string_view(piece_.get(), n);
  }
  co_return std::string_view();
}

asio::awaitable<absl::Status> UpstreamExchange::ReadAll(std::string* body) {
  // A backend's content-length is not trusted with an allocation of any size.
  if (auto length = parser_->content_length()) {
    body->reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length, 16 << 20)));
  }
  for (;;) {
    absl::StatusOr<std::string_view> piece = co_await ReadSome();
    if (!piece.ok()) co_return piece.status();
    if (piece->empty()) co_return absl::OkStatus();
    body->append(*piece);
  }
}

void UpstreamExchange::Finish() {
  if (stream_ && parser_ && parser_->is_done() && parser_->keep_alive() &&
      stream_->read_buffer().size() == 0) {
    pool_.Release(address_, tls_, std::move(stream_));
  }
  stream_.reset();
}

}  // namespace llmrouter::gateway
