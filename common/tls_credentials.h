// Optional mutual TLS for every gRPC server and client of the project, from PEM files such as a
// cert-manager Secret mounted as a directory (tls.crt, tls.key, ca.crt).
#ifndef LLMROUTER_COMMON_TLS_CREDENTIALS_H_
#define LLMROUTER_COMMON_TLS_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace grpc {
class ChannelCredentials;
class ServerCredentials;
}  // namespace grpc

namespace llmrouter {

// Where the PEM files are. Either all three are set (mutual TLS) or none (plaintext).
struct TlsFiles {
  std::string cert_file;  // this process's certificate chain
  std::string key_file;   // its private key
  std::string ca_file;    // the CA bundle that peers' certificates must chain to
  // How often the files are re-read: a renewed certificate or CA is used for new connections
  // without a restart (gRPC's FileWatcherCertificateProvider).
  absl::Duration refresh_interval = absl::Seconds(60);

  bool enabled() const { return !cert_file.empty(); }
};

// Reads --tls_cert_file, --tls_key_file, --tls_ca_file and --tls_refresh_interval_s.
TlsFiles TlsFilesFromFlags();

// InvalidArgument when only some files are set or the interval is not positive; NotFound when a
// file cannot be read. Services call it at start-up (ServiceOptionsFromFlags) so that a broken
// mount stops the process instead of degrading to plaintext.
absl::Status ValidateTlsFiles(const TlsFiles& files);

// Server credentials: plaintext when `files` is not enabled; otherwise TLS that requires and
// verifies a client certificate chaining to the CA.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TlsFiles& files);

// Channel credentials: plaintext when `files` is not enabled; otherwise TLS that presents the
// certificate and verifies the server's certificate, including its name against the target's
// host (so the certificates must name the Services, e.g. the headless Service's DNS name).
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const TlsFiles& files);

// The above, from the flags: what servers and clients in services use.
std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFromFlags();
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFromFlags();

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_TLS_CREDENTIALS_H_
