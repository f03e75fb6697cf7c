// Idle keep-alive connections to model backends, so that a request does not pay for a TCP
// handshake when a connection to its backend is already open.
#ifndef LLMROUTER_SERVICES_GATEWAY_UPSTREAM_POOL_H_
#define LLMROUTER_SERVICES_GATEWAY_UPSTREAM_POOL_H_

// Boost 1.74's coroutine headers need <utility> first with g++ 12; keep it first.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace llmrouter::gateway {

struct UpstreamPoolOptions {
  std::chrono::milliseconds connect_timeout{2000};
  // Pooled connections idle longer than this are closed rather than reused: backends close
  // idle keep-alive connections themselves after a few seconds (uvicorn: 5 s).
  std::chrono::milliseconds idle_timeout{4000};
  std::size_t max_idle_per_address = 64;
};

// One connection lent by the pool.
struct UpstreamConnection {
  std::unique_ptr<boost::beast::tcp_stream> stream;
  // True when it came from the pool: it may have been closed by the backend meanwhile.
  bool reused = false;
};

// An UpstreamPool belongs to one io_context and is used only from the thread that runs it: it
// is not thread-safe. Connections are keyed by "host:port". A connection is lent by Acquire()
// and comes back only through Release(), which the caller does only after reading a complete
// response that allowed keep-alive; anything else is simply destroyed (closed).
class UpstreamPool {
 public:
  UpstreamPool(boost::asio::any_io_executor executor, UpstreamPoolOptions options);

  // Lends an idle connection to `address` (unless `fresh` is set) or opens a new one within the
  // connect timeout. Errors: InvalidArgument for an address that is not host:port,
  // DeadlineExceeded when the connect timed out, Unavailable when it failed.
  boost::asio::awaitable<absl::StatusOr<UpstreamConnection>> Acquire(const std::string& address,
                                                                     bool fresh);
  void Release(const std::string& address, std::unique_ptr<boost::beast::tcp_stream> stream);

  std::size_t idle_count() const;

 private:
  struct Idle {
    std::unique_ptr<boost::beast::tcp_stream> stream;
    std::chrono::steady_clock::time_point since;
  };

  boost::asio::awaitable<absl::StatusOr<UpstreamConnection>> Connect(const std::string& address);

  boost::asio::any_io_executor executor_;
  UpstreamPoolOptions options_;
  // Oldest at the front; the most recently used connection is lent first.
  absl::flat_hash_map<std::string, std::deque<Idle>> idle_;
};

// Splits "host:port" or "[v6]:port". False when there is no valid port.
bool SplitHostPort(std::string_view address, std::string* host, std::string* port);

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_UPSTREAM_POOL_H_
