// Mutual TLS for the route link (common/route_link.h) from the same PEM files as gRPC
// (common/tls_credentials.h): Asio contexts that present this process's certificate and require
// and verify the peer's, rebuilt when the files change so that renewed certificates serve new
// connections without a restart, as gRPC's certificate provider does.
#ifndef LLMROUTER_COMMON_ROUTE_LINK_TLS_H_
#define LLMROUTER_COMMON_ROUTE_LINK_TLS_H_

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/periodic_task.h"
#include "common/reloadable.h"
#include "common/tls_credentials.h"

namespace llmrouter {

// A RouteLinkTls is safe for concurrent use. context() is what a new connection uses; a
// connection holds on to the context it started with for its life. The files are looked at
// every files.refresh_interval; a change that does not load (a half-written or mismatched pair)
// is logged and the previous context stays.
class RouteLinkTls {
 public:
  enum class Side {
    kServer,  // decision: requires a client certificate chaining to the CA
    kClient,  // gateway: verifies the server's certificate against the CA and the target's name
  };

  // InvalidArgument when the files are not all set or do not load (unreadable, no key for the
  // certificate, no CA).
  static absl::StatusOr<std::unique_ptr<RouteLinkTls>> Create(const TlsFiles& files, Side side);
  ~RouteLinkTls();
  RouteLinkTls(const RouteLinkTls&) = delete;
  RouteLinkTls& operator=(const RouteLinkTls&) = delete;

  std::shared_ptr<boost::asio::ssl::context> context() const { return *contexts_->Get(); }

  // Reloads now if the files changed: true when a new context is in use. For tests; the
  // refresh task calls it too.
  absl::StatusOr<bool> ReloadIfChanged();

 private:
  using Contexts = Reloadable<std::shared_ptr<boost::asio::ssl::context>>;
  explicit RouteLinkTls(std::unique_ptr<Contexts> contexts, absl::Duration refresh_interval);

  absl::Mutex reload_mu_;
  std::unique_ptr<Contexts> contexts_;
  PeriodicTask refresh_;
};

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_ROUTE_LINK_TLS_H_
