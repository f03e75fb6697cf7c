// One HTTP request to one model backend and the reading of its answer, over a pooled
// connection.
#ifndef LLMROUTER_SERVICES_GATEWAY_UPSTREAM_EXCHANGE_H_
#define LLMROUTER_SERVICES_GATEWAY_UPSTREAM_EXCHANGE_H_

// Boost 1.74's coroutine headers need <utility> first with g++ 12; keep it first.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/span_body.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "services/gateway/upstream_pool.h"

namespace llmrouter::gateway {

using UpstreamRequest = boost::beast::http::request<boost::beast::http::span_body<const char>>;

// How one attempt at a backend ended, as counted in llmrouter_gateway_upstream_attempts_total.
enum class AttemptResult { kOk, kConnectError, kTimeout, kHttp5xx, kHttp429, kReset };
std::string_view AttemptResultName(AttemptResult result);

// An UpstreamExchange is used by one coroutine on the pool's thread; not thread-safe.
// Start() sends the request and reads the response header: any result but kOk means nothing
// usable arrived and error() says why. After kOk the body is read with ReadSome() or ReadAll();
// Finish() hands the connection back to the pool when the response was complete and the
// backend allowed keep-alive. A destroyed, unfinished exchange closes its connection.
class UpstreamExchange {
 public:
  // `tls`: https backend (see UpstreamPool::Acquire).
  UpstreamExchange(UpstreamPool& pool, std::string address, bool tls,
                   std::chrono::milliseconds timeout);
  UpstreamExchange(const UpstreamExchange&) = delete;
  UpstreamExchange& operator=(const UpstreamExchange&) = delete;

  // A pooled connection that fails before any byte of the answer arrived was closed by the
  // backend while idle; the request is then sent once more on a fresh connection.
  boost::asio::awaitable<AttemptResult> Start(UpstreamRequest& request);

  // The response header (valid after Start() returned kOk, or kHttp5xx/kHttp429).
  const boost::beast::http::response_header<>& header() const { return parser_->get().base(); }
  // True when the body comes in chunks or until the connection closes, as SSE streams do.
  bool streaming() const;
  const std::string& error() const { return error_; }
  // The timeout of each later read.
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

  // The next piece of the body, as it arrives; empty once the body is complete. The view is
  // valid until the next call. Errors: DeadlineExceeded when nothing arrived within the
  // timeout, Unavailable when the connection failed.
  boost::asio::awaitable<absl::StatusOr<std::string_view>> ReadSome();
  // Reads the rest of the body.
  boost::asio::awaitable<absl::Status> ReadAll(std::string* body);

  void Finish();
  // Gives up on the exchange (its client went away): a pending Start(), ReadSome() or ReadAll()
  // ends at once with an error and no fresh connection is tried. Same thread only.
  void Abort();
  bool aborted() const { return aborted_; }

 private:
  boost::asio::awaitable<AttemptResult> Exchange(UpstreamRequest& request, bool fresh, bool* stale);

  UpstreamPool& pool_;
  std::string address_;
  bool tls_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<UpstreamStream> stream_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::buffer_body>> parser_;
  std::unique_ptr<char[]> piece_;
  std::string error_;
  bool aborted_ = false;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_UPSTREAM_EXCHANGE_H_
