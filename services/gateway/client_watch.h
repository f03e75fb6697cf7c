// Notices a client that goes away while the gateway waits on a backend. Without it, a client of
// a JSON (non-streaming) answer that disconnected kept its concurrency slot, and its backend kept
// generating, until the backend answered (up to --upstream_timeout_ms).
#ifndef LLMROUTER_SERVICES_GATEWAY_CLIENT_WATCH_H_
#define LLMROUTER_SERVICES_GATEWAY_CLIENT_WATCH_H_

// Boost 1.74's coroutine headers need <utility> first with g++ 12; keep it first.
// clang-format off
#include <utility>
// clang-format on

#include <boost/beast/core/tcp_stream.hpp>
#include <functional>
#include <memory>

namespace llmrouter::gateway {

// While a ClientWatch lives, the client's socket is watched with a peek that consumes nothing:
// when the client closes its end (or the connection fails), `on_gone` runs once, on the
// socket's event-loop thread. Bytes the client sends meanwhile (a pipelined request) end the
// watch and stay unread for the server. Create and destroy it on that thread, and start no
// other operation on the client's socket while it lives (the destructor cancels the wait).
class ClientWatch {
 public:
  ClientWatch(boost::beast::tcp_stream& client, std::function<void()> on_gone);
  ~ClientWatch();
  ClientWatch(const ClientWatch&) = delete;
  ClientWatch& operator=(const ClientWatch&) = delete;

  bool gone() const { return state_->gone; }

 private:
  struct State {
    bool watching = true;
    bool gone = false;
    char peeked = 0;  // the byte a pipelined request's peek copies here
    std::function<void()> on_gone;
  };
  boost::beast::tcp_stream& client_;
  std::shared_ptr<State> state_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_CLIENT_WATCH_H_
