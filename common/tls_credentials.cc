#include "common/tls_credentials.h"

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <fstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain for mutual TLS on every gRPC server and client; with "
          "--tls_key_file and --tls_ca_file (all three or none)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM CA bundle that gRPC peers' certificates must chain to");
ABSL_FLAG(int, tls_refresh_interval_s, 60,
          "How often the TLS files are re-read; renewed certificates need no restart");

namespace llmrouter {

namespace {

using ::grpc::experimental::FileWatcherCertificateProvider;

std::shared_ptr<FileWatcherCertificateProvider> Provider(const TlsFiles& files) {
  auto seconds = static_cast<unsigned int>(absl::ToInt64Seconds(files.refresh_interval));
  return std::make_shared<FileWatcherCertificateProvider>(files.key_file, files.cert_file,
                                                          files.ca_file, seconds < 1 ? 1 : seconds);
}

}  // namespace

TlsFiles TlsFilesFromFlags() {
  TlsFiles files;
  files.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  files.key_file = absl::GetFlag(FLAGS_tls_key_file);
  files.ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  files.refresh_interval = absl::Seconds(absl::GetFlag(FLAGS_tls_refresh_interval_s));
  return files;
}

absl::Status ValidateTlsFiles(const TlsFiles& files) {
  int set = !files.cert_file.empty() + !files.key_file.empty() + !files.ca_file.empty();
  if (set == 0) return absl::OkStatus();
  if (set != 3) {
    return absl::InvalidArgumentError(
        "mutual TLS needs --tls_cert_file, --tls_key_file and --tls_ca_file together");
  }
  if (files.refresh_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--tls_refresh_interval_s must be at least 1");
  }
  for (const std::string* path : {&files.cert_file, &files.key_file, &files.ca_file}) {
    std::ifstream in(*path);
    if (!in || in.peek() == std::ifstream::traits_type::eof()) {
      return absl::NotFoundError(absl::StrCat("cannot read TLS file ", *path));
    }
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TlsFiles& files) {
  if (!files.enabled()) return grpc::InsecureServerCredentials();
  grpc::experimental::TlsServerCredentialsOptions options(Provider(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const TlsFiles& files) {
  if (!files.enabled()) return grpc::InsecureChannelCredentials();
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFromFlags() {
  return ServerCredentials(TlsFilesFromFlags());
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFromFlags() {
  return ChannelCredentials(TlsFilesFromFlags());
}

}  // namespace llmrouter
