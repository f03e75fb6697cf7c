#include "services/gateway/upstream_pool.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace llmrouter::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

bool SplitHostPort(std::string_view address, std::string* host, std::string* port) {
  std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = address.substr(0, colon);
  std::string_view p = address.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  uint32_t n = 0;
  if (h.empty() || !absl::SimpleAtoi(absl::string_view(p.data(), p.size()), &n) || n == 0 ||
      n > 65535)
    return false;
  host->assign(h);
  port->assign(p);
  return true;
}

UpstreamPool::UpstreamPool(asio::any_io_executor executor, UpstreamPoolOptions options)
    : executor_(std::move(executor)), options_(options) {}

namespace {

std::string PoolKey(const std::string& address, bool tls) {
  return tls ? "https://" + address : address;
}

}  // namespace

absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeUpstreamTlsContext(
    const std::string& ca_file) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  beast::error_code ec;
  context->set_default_verify_paths(ec);
  if (!ca_file.empty() && !ec) context->load_verify_file(ca_file, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load CA certificates ", ca_file, ": ", ec.message()));
  }
  context->set_verify_mode(asio::ssl::verify_peer);
  return context;
}

asio::awaitable<absl::StatusOr<UpstreamConnection>> UpstreamPool::Acquire(
    const std::string& address, bool tls, bool fresh) {
  if (!fresh) {
    auto it = idle_.find(PoolKey(address, tls));
    if (it != idle_.end()) {
      auto now = std::chrono::steady_clock::now();
      std::deque<Idle>& idle = it->second;
      while (!idle.empty()) {
        Idle entry = std::move(idle.back());
        idle.pop_back();
        if (now - entry.since < options_.idle_timeout) {
          co_return UpstreamConnection{std::move(entry.stream), /*reused=*/true};
        }
      }
    }
  }
  co_return co_await Connect(address, tls);
}

asio::awaitable<absl::StatusOr<UpstreamConnection>> UpstreamPool::Connect(
    const std::string& address, bool tls) {
  std::string host, port;
  if (!SplitHostPort(address, &host, &port)) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("upstream address \"", address, "\" is not host:port"));
  }
  beast::error_code ec;
  auto stream = std::make_unique<beast::tcp_stream>(executor_);
  asio::ip::address ip = asio::ip::make_address(host, ec);
  stream->expires_after(options_.connect_timeout);
  if (!ec) {
    co_await stream->async_connect(tcp::endpoint(ip, static_cast<unsigned short>(std::stoi(port))),
                                   asio::redirect_error(asio::use_awaitable, ec));
  } else {
    // Not covered by the connect timeout: the system resolver cannot be interrupted.
    tcp::resolver resolver(executor_);
    auto endpoints =
        co_await resolver.async_resolve(host, port, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      co_return absl::UnavailableError(
          absl::StrCat("cannot resolve upstream ", address, ": ", ec.message()));
    }
    co_await stream->async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec == beast::error::timeout) {
    co_return absl::DeadlineExceededError(absl::StrCat("connect to ", address, " timed out after ",
                                                       options_.connect_timeout.count(), " ms"));
  }
  if (ec) {
    co_return absl::UnavailableError(
        absl::StrCat("connect to ", address, " failed: ", ec.message()));
  }
  stream->socket().set_option(tcp::no_delay(true), ec);
  if (!tls) {
    stream->expires_never();
    co_return UpstreamConnection{std::make_unique<UpstreamStream>(std::move(stream)),
                                 /*reused=*/false};
  }
  if (!options_.tls_context) {
    absl::StatusOr<std::shared_ptr<asio::ssl::context>> context = MakeUpstreamTlsContext("");
    if (!context.ok()) co_return context.status();
    options_.tls_context = *std::move(context);
  }
  auto secure = std::make_unique<UpstreamStream::Tls>(std::move(*stream), *options_.tls_context);
  asio::ip::make_address(host, ec);
  if (ec && !SSL_set_tlsext_host_name(secure->native_handle(), host.c_str())) {
    co_return absl::InternalError(absl::StrCat("cannot set TLS server name ", host));
  }
  secure->set_verify_mode(asio::ssl::verify_peer);
  secure->set_verify_callback(asio::ssl::host_name_verification(host));
  beast::get_lowest_layer(*secure).expires_after(options_.connect_timeout);
  ec = {};
  co_await secure->async_handshake(asio::ssl::stream_base::client,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return absl::UnavailableError(
        absl::StrCat("TLS handshake with ", address, " failed: ", ec.message()));
  }
  beast::get_lowest_layer(*secure).expires_never();
  co_return UpstreamConnection{std::make_unique<UpstreamStream>(std::move(secure)),
                               /*reused=*/false};
}

void UpstreamPool::Release(const std::string& address, bool tls,
                           std::unique_ptr<UpstreamStream> stream) {
  if (!stream || !stream->tcp().socket().is_open()) return;
  stream->tcp().expires_never();
  std::deque<Idle>& idle = idle_[PoolKey(address, tls)];
  if (idle.size() >= options_.max_idle_per_address) idle.pop_front();
  idle.push_back(Idle{std::move(stream), std::chrono::steady_clock::now()});
}

std::size_t UpstreamPool::idle_count() const {
  std::size_t n = 0;
  for (const auto& [address, idle] : idle_) n += idle.size();
  return n;
}

}  // namespace llmrouter::gateway
