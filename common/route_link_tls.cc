#include "common/route_link_tls.h"

#include <openssl/ssl.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace llmrouter {

namespace asio = boost::asio;

namespace {

absl::StatusOr<std::shared_ptr<asio::ssl::context>> LoadContext(const TlsFiles& files,
                                                                RouteLinkTls::Side side) {
  const bool server = side == RouteLinkTls::Side::kServer;
  auto context = std::make_shared<asio::ssl::context>(server ? asio::ssl::context::tls_server
                                                             : asio::ssl::context::tls_client);
  boost::system::error_code ec;
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                       ec);
  const std::string* failed = nullptr;  // the file that did not load
  if (!ec) {
    context->use_certificate_chain_file(files.cert_file, ec);
    failed = &files.cert_file;
  }
  if (!ec) {
    context->use_private_key_file(files.key_file, asio::ssl::context::pem, ec);
    failed = &files.key_file;
  }
  if (!ec && SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("route link TLS: key ", files.key_file, " does not match ", files.cert_file));
  }
  if (!ec) {
    context->load_verify_file(files.ca_file, ec);
    failed = &files.ca_file;
  }
  if (!ec) {
    failed = nullptr;
    context->set_verify_mode(server
                                 ? asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert
                                 : asio::ssl::verify_peer,
                             ec);
  }
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "route link TLS: cannot load ", failed ? *failed : "options", ": ", ec.message()));
  }
  return context;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RouteLinkTls>> RouteLinkTls::Create(const TlsFiles& files,
                                                                   Side side) {
  if (files.cert_file.empty() || files.key_file.empty() || files.ca_file.empty()) {
    return absl::InvalidArgumentError("route link TLS needs a certificate, its key and a CA");
  }
  auto contexts = Contexts::Create(AnyFileChanged({files.cert_file, files.key_file, files.ca_file}),
                                   [files, side] { return LoadContext(files, side); });
  if (!contexts.ok()) return contexts.status();
  return std::unique_ptr<RouteLinkTls>(
      new RouteLinkTls(*std::move(contexts), files.refresh_interval));
}

RouteLinkTls::RouteLinkTls(std::unique_ptr<Contexts> contexts, absl::Duration refresh_interval)
    : contexts_(std::move(contexts)), refresh_(refresh_interval, [this] {
        absl::StatusOr<bool> reloaded = ReloadIfChanged();
        if (!reloaded.ok()) {
          spdlog::warn("route_link_tls_reload_failed error=\"{}\"", reloaded.status().message());
        } else if (*reloaded) {
          spdlog::info("route_link_tls_reloaded");
        }
      }) {
  refresh_.Start();
}

RouteLinkTls::~RouteLinkTls() { refresh_.Stop(); }

absl::StatusOr<bool> RouteLinkTls::ReloadIfChanged() {
  absl::MutexLock lock(&reload_mu_);  // Reloadable rebuilds from one thread at a time
  return contexts_->ReloadIfChanged();
}

}  // namespace llmrouter
