// An asynchronous HTTP/1.1 server on Boost.Beast with C++20 coroutines: one io_context per
// worker thread, keep-alive, body and header limits, timeouts against slow clients, and a
// graceful stop. Used by the gateway and by fake-llm.
#ifndef LLMROUTER_COMMON_HTTP_SERVER_H_
#define LLMROUTER_COMMON_HTTP_SERVER_H_

// clang-format off
#include <utility>  // Boost 1.74's coroutine headers need it first with g++ 12.
// clang-format on

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "boost/system/error_code.hpp"

namespace llmrouter {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// The limit a slow client ran into (see HttpServerOptions); named like the gateway's flags.
enum class ClientTimeout { kHeader, kRead, kIdle };
// A client connection accepted (and counted), closed after it was served, or closed at once
// because max_connections were open.
enum class ConnectionEvent { kOpened, kClosed, kRejected };
// "header", "read" or "idle".
std::string_view ClientTimeoutName(ClientTimeout timeout);

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;
  int threads = 1;
  std::size_t max_body_bytes = 4 << 20;
  std::size_t max_header_bytes = 16 << 10;
  // Timeouts against slow clients, split the way nginx and Envoy split them. A request starts at
  // its first byte; the first request of a connection starts at the accept.
  //
  // From the start until the header is complete (slowloris defence): a client that trickles its
  // header byte by byte is cut even though bytes keep arriving.
  std::chrono::milliseconds header_timeout{10000};
  // From the start until the whole request, body included, has arrived. A limit on the whole
  // request rather than on the gap between two pieces of the body, so that trickling cannot
  // stretch it; it bounds the header too when it is the shorter one.
  std::chrono::milliseconds read_timeout{30000};
  // A keep-alive connection on which no new request starts for this long is closed. Longer than
  // the 60 s idle timeout of common load balancers, so that they, not the server, close first.
  std::chrono::milliseconds idle_timeout{75000};
  // Called on the connection's worker thread each time one of the timeouts above cuts a
  // connection; may be empty.
  std::function<void(ClientTimeout)> on_client_timeout;
  // Client connections open at once; one more is accepted and closed at once (a client that
  // opens connections without end must not use up the process's file descriptors). 0: no cap.
  int max_connections = 0;
  // Called as connections open, close or are rejected, on the thread that saw it; may be
  // empty.
  std::function<void(ConnectionEvent)> on_connection;
  // Called after each failed accept (out of file descriptors, say), with the error and how long
  // the listener waits before it accepts again (see AcceptBackoff); may be empty. The failures
  // are logged at most once a second, with their count.
  std::function<void(const boost::system::error_code&, std::chrono::milliseconds)> on_accept_error;
  // Called on each worker thread, with its io_context, before it serves anything: where
  // per-thread state (connection pools, the decision link) is set up; may be empty.
  std::function<void(boost::asio::io_context&)> on_thread_start;
  std::string server_header = "llm-router";
  // After handling events, a worker keeps polling for more for this long before it sleeps in
  // the kernel (HAProxy's busy-polling, bounded). Trades CPU for latency where waking a sleeping
  // processor is slow, as in virtual machines; 0 (the default) sleeps at once.
  std::chrono::microseconds busy_poll{0};
};

// A handler writes the whole response to the stream itself (so it may stream it) and returns
// whether the connection may serve another request. It runs on the connection's worker thread;
// everything thread-local to that thread is safe to use without locks.
using HttpHandler =
    std::function<boost::asio::awaitable<bool>(boost::beast::tcp_stream&, HttpRequest&)>;

// HttpServer is started and stopped from one thread. Requests that break the limits get 413
// (body), 431 (headers), 400 (malformed) or 408 (header or read timeout, once a byte of the
// request has arrived) with an OpenAI-shaped error body, and the connection is closed; the
// server keeps serving. A connection cut before any byte of a request arrived (idle timeout, or
// a header timeout on a silent new connection) is closed without an answer.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();

  // Binds and starts the worker threads. Unavailable when the address cannot be bound.
  absl::Status Start();
  int port() const { return port_; }

  // Starts a shutdown that keeps accepting: stopping() turns true, so every response (on new
  // connections too) closes its connection, while the listener stays open until Stop().
  void BeginStopping() { stopping_.store(true); }
  // Stops accepting; connections finish the request they are serving (streams included) and
  // close. Waits up to `grace`, then cuts what is left and joins the threads.
  void Stop(std::chrono::milliseconds grace);

  // True once BeginStopping() or Stop() has been called; handlers use it to answer
  // "Connection: close".
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
  // Requests between the arrival of their header and the end of their response.
  int requests_in_flight() const { return active_.load(std::memory_order_relaxed); }
  // Client connections open (accepted and not yet closed), rejected ones aside.
  int connections() const { return connections_.load(std::memory_order_relaxed); }

 private:
  boost::asio::awaitable<void> Accept();
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket);
  void ClientTimedOut(ClientTimeout timeout) const;
  void Connection(ConnectionEvent event) const;

  HttpServerOptions options_;
  HttpHandler handler_;
  // Before contexts_: the connections those hold count themselves in active_ until destroyed.
  std::atomic<bool> stopping_{false};
  std::atomic<int> active_{0};
  std::atomic<int> connections_{0};
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<std::thread> threads_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::size_t next_context_ = 0;
  int port_ = 0;
};

// Writes a complete response with a body; returns false on a write error.
boost::asio::awaitable<bool> WriteHttpResponse(
    boost::beast::tcp_stream& stream, unsigned version, bool keep_alive, int status,
    std::string_view content_type, std::string body,
    const std::vector<std::pair<std::string, std::string>>& extra_headers = {});

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_HTTP_SERVER_H_
