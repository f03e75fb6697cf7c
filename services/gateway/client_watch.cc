#include "services/gateway/client_watch.h"

namespace llmrouter::gateway {

namespace asio = boost::asio;

ClientWatch::ClientWatch(boost::beast::tcp_stream& client, std::function<void()> on_gone)
    : client_(client), state_(std::make_shared<State>()) {
  state_->on_gone = std::move(on_gone);
  asio::ip::tcp::socket& socket = client_.socket();
  socket.async_wait(asio::ip::tcp::socket::wait_read,
                    [state = state_, &socket](boost::system::error_code ec) {
                      if (!state->watching || ec == asio::error::operation_aborted) return;
                      state->watching = false;
                      // Readable with nothing to read: the peer closed (or reset) the connection.
                      boost::system::error_code available_ec;
                      const std::size_t bytes = socket.available(available_ec);
                      if (ec || available_ec || bytes == 0) {
                        state->gone = true;
                        state->on_gone();
                      }
                    });
}

ClientWatch::~ClientWatch() {
  if (!state_->watching) return;
  state_->watching = false;
  boost::system::error_code ignored;
  client_.socket().cancel(ignored);
}

}  // namespace llmrouter::gateway
