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
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace llmrouter::gateway {

// A connection to a backend: plain TCP, or TLS over TCP for https backends.
class UpstreamStream {
 public:
  using Tls = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  explicit UpstreamStream(std::unique_ptr<boost::beast::tcp_stream> plain)
      : plain_(std::move(plain)) {}
  explicit UpstreamStream(std::unique_ptr<Tls> tls) : tls_(std::move(tls)) {}

  boost::beast::tcp_stream& tcp() { return tls_ ? boost::beast::get_lowest_layer(*tls_) : *plain_; }
  // Calls `f` with the stream to read and write (both kinds must yield the same type).
  template <typename F>
  auto Visit(F&& f) {
    return tls_ ? f(*tls_) : f(*plain_);
  }
  // Where answers are read into; it stays with the connection, so a pooled connection reuses
  // its memory. Empty whenever the connection is idle in the pool.
  boost::beast::flat_buffer& read_buffer() { return read_buffer_; }

 private:
  boost::beast::flat_buffer read_buffer_;
  std::unique_ptr<boost::beast::tcp_stream> plain_;
  std::unique_ptr<Tls> tls_;
};

struct UpstreamPoolOptions {
  std::chrono::milliseconds connect_timeout{2000};
  // Pooled connections idle longer than this are closed rather than reused: backends close
  // idle keep-alive connections themselves after a few seconds (uvicorn: 5 s).
  std::chrono::milliseconds idle_timeout{4000};
  std::size_t max_idle_per_address = 64;
  // Trust store for https backends (peer and host name are always verified); null: the
  // system's default CA paths.
  std::shared_ptr<boost::asio::ssl::context> tls_context;
};

// A TLS client context that verifies peers against the system CAs plus `ca_file` (when not
// empty). InvalidArgument when the file cannot be loaded.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeUpstreamTlsContext(
    const std::string& ca_file);

// One connection lent by the pool.
struct UpstreamConnection {
  std::unique_ptr<UpstreamStream> stream;
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
  // `tls`: speak TLS (https), verifying the backend's certificate and host name; connect
  // errors then include handshake and verification failures.
  boost::asio::awaitable<absl::StatusOr<UpstreamConnection>> Acquire(const std::string& address,
                                                                     bool tls, bool fresh);
  void Release(const std::string& address, bool tls, std::unique_ptr<UpstreamStream> stream);

  std::size_t idle_count() const;

 private:
  struct Idle {
    std::unique_ptr<UpstreamStream> stream;
    std::chrono::steady_clock::time_point since;
  };

  boost::asio::awaitable<absl::StatusOr<UpstreamConnection>> Connect(const std::string& address,
                                                                     bool tls);

  boost::asio::any_io_executor executor_;
  UpstreamPoolOptions options_;
  // Oldest at the front; the most recently used connection is lent first.
  absl::flat_hash_map<std::string, std::deque<Idle>> idle_;
};

// Splits "host:port" or "[v6]:port". False when there is no valid port.
bool SplitHostPort(std::string_view address, std::string* host, std::string* port);

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_UPSTREAM_POOL_H_
