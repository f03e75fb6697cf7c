#include "services/gateway/client_watch.h"

namespace llmrouter::gateway {

namespace asio = boost::asio;

ClientWatch::ClientWatch(boost::beast::tcp_stream& client, std::function<void()> on_gone)
    : client_(client), state_(std::make_shared<State>()) {
  state_->on_gone = std::move(on_gone);
  // A one-byte peek that reads nothing. A receive is tried at once (a wait is not), so a close
  // that came before the watch began is seen without the reactor having to report it again.
  client_.socket().async_receive(asio::buffer(&state_->peeked, 1), asio::socket_base::message_peek,
                                 [state = state_](boost::system::error_code ec, std::size_t bytes) {
                                   if (!state->watching || ec == asio::error::operation_aborted)
                                     return;
                                   state->watching = false;
                                   // Nothing to read and the receive ended: the peer closed (or
                                   // reset) the connection.
                                   if (ec || bytes == 0) {
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
