// The route link over mutual TLS with the same kind of files as gRPC: certificates made by
// openssl for each test, decision's server and the gateway's client on loopback.
#include "common/route_link_tls.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/process_harness.h"
#include "tests/unit/gateway/route_link_test_util.h"

namespace llmrouter {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using testing::ClientLoop;
using ::testing::HasSubstr;
using testing::StartLinkServer;
using testing::WaitFor;

void Run(const std::string& command) { ASSERT_EQ(std::system(command.c_str()), 0) << command; }

// <dir>/<ca>.crt, and <name>.crt/.key signed by it for localhost and 127.0.0.1.
void MakeCa(const std::string& dir, const std::string& ca) {
  Run(absl::StrCat("cd ", dir, " && openssl req -x509 -newkey ec -pkeyopt ",
                   "ec_paramgen_curve:prime256v1 -nodes -keyout ", ca, ".key -out ", ca,
                   ".crt -days 2 -subj /CN=", ca, " >/dev/null 2>&1"));
}
void MakeCert(const std::string& dir, const std::string& ca, const std::string& name) {
  std::ofstream(dir + "/san.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  Run(absl::StrCat("cd ", dir, " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1",
                   " -nodes -keyout ", name, ".key -out ", name, ".csr -subj /CN=", name,
                   " >/dev/null 2>&1 && openssl x509 -req -in ", name, ".csr -CA ", ca,
                   ".crt -CAkey ", ca, ".key -CAcreateserial -out ", name,
                   ".crt -days 2 -extfile san.ext >/dev/null 2>&1"));
}

class RouteLinkTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("llmrouter-link-tls");
    MakeCa(dir_, "ca1");
    MakeCert(dir_, "ca1", "server1");
    MakeCert(dir_, "ca1", "client1");
    MakeCa(dir_, "ca2");
    MakeCert(dir_, "ca2", "server2");
    MakeCert(dir_, "ca2", "client2");
  }
  void TearDown() override { fs::remove_all(dir_); }

  TlsFiles Files(const std::string& cert, const std::string& ca) {
    return {dir_ + "/" + cert + ".crt", dir_ + "/" + cert + ".key", dir_ + "/" + ca + ".crt",
            absl::Hours(1)};  // reloads in these tests are asked for
  }
  // The server's files at fixed paths, replaced the way a Secret update replaces them.
  TlsFiles InstallServerFiles(const std::string& cert, const std::string& ca) {
    for (const auto& [from, to] :
         {std::pair{cert + ".crt", "live.crt"}, std::pair{cert + ".key", "live.key"},
          std::pair{ca + ".crt", "live-ca.crt"}}) {
      fs::copy_file(dir_ + "/" + from, dir_ + "/next", fs::copy_options::overwrite_existing);
      fs::rename(dir_ + "/next", dir_ + "/" + to);
    }
    return {dir_ + "/live.crt", dir_ + "/live.key", dir_ + "/live-ca.crt", absl::Hours(1)};
  }

  std::shared_ptr<RouteLinkTls> Tls(const TlsFiles& files, RouteLinkTls::Side side) {
    auto tls = RouteLinkTls::Create(files, side);
    EXPECT_TRUE(tls.ok()) << tls.status();
    return tls.ok() ? std::shared_ptr<RouteLinkTls>(*std::move(tls)) : nullptr;
  }

  std::unique_ptr<decision::RouteLinkServer> Serve(std::shared_ptr<RouteLinkTls> tls) {
    decision::RouteLinkServerOptions options;
    options.tls = std::move(tls);
    return StartLinkServer(options, {nullptr, &rejected_, nullptr});
  }
  double Rejected(const std::string& reason) { return rejected_.Add({{"reason", reason}}).Value(); }

  std::string dir_;
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& rejected_ =
      prometheus::BuildCounter().Name("rejected_total").Register(registry_);
};

TEST_F(RouteLinkTlsTest, CallsTravelOverMutualTls) {
  auto server = Serve(Tls(Files("server1", "ca1"), RouteLinkTls::Side::kServer));
  ClientLoop client(absl::StrCat("localhost:", server->port()), std::chrono::seconds(5), nullptr,
                    Tls(Files("client1", "ca1"), RouteLinkTls::Side::kClient));
  ASSERT_TRUE(client.WaitReady());
  std::vector<std::string> models;
  for (int i = 0; i < 100; ++i) models.push_back(absl::StrCat("m", i));
  std::vector<testing::RouteResult> results = client.Route(models);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(results[i]->decision_id(), absl::StrCat("d-m", i));
  }
}

TEST_F(RouteLinkTlsTest, APlaintextClientIsRefused) {
  auto server = Serve(Tls(Files("server1", "ca1"), RouteLinkTls::Side::kServer));
  ClientLoop plaintext(absl::StrCat("127.0.0.1:", server->port()));
  ASSERT_TRUE(WaitFor([&] { return Rejected("tls_handshake") >= 1; }));
  std::vector<testing::RouteResult> results = plaintext.Route({"a"});
  EXPECT_FALSE(results[0].ok());
  EXPECT_TRUE(gateway::IsRouteLinkFailure(results[0].status()));
}

TEST_F(RouteLinkTlsTest, AClientCertificateOfAnotherCaIsRefused) {
  auto server = Serve(Tls(Files("server1", "ca1"), RouteLinkTls::Side::kServer));
  ClientLoop intruder(absl::StrCat("localhost:", server->port()), std::chrono::seconds(5), nullptr,
                      Tls(Files("client2", "ca1"), RouteLinkTls::Side::kClient));
  ASSERT_TRUE(WaitFor([&] { return Rejected("tls_handshake") >= 1; }));
  // Under TLS 1.3 the client's side of the handshake ends before the server has judged its
  // certificate: it may count itself connected until the server's alert arrives.
  EXPECT_TRUE(WaitFor([&] { return !intruder.Ready(); }));
  std::vector<testing::RouteResult> results = intruder.Route({"a"});
  EXPECT_FALSE(results[0].ok());
}

TEST_F(RouteLinkTlsTest, AGatewayRefusesADecisionCertificateOfAnotherCa) {
  auto server = Serve(Tls(Files("server1", "ca1"), RouteLinkTls::Side::kServer));
  ClientLoop distrustful(absl::StrCat("localhost:", server->port()), std::chrono::seconds(5),
                         nullptr, Tls(Files("client1", "ca2"), RouteLinkTls::Side::kClient));
  ASSERT_TRUE(WaitFor([&] { return Rejected("tls_handshake") >= 1; }));
  EXPECT_FALSE(distrustful.Ready());
}

// Certificates are renewed by replacing the files: new connections use them without a restart.
TEST_F(RouteLinkTlsTest, ReplacedFilesServeNewConnections) {
  std::shared_ptr<RouteLinkTls> server_tls =
      Tls(InstallServerFiles("server1", "ca1"), RouteLinkTls::Side::kServer);
  auto server = Serve(server_tls);
  ClientLoop renewed(absl::StrCat("localhost:", server->port()), std::chrono::seconds(5), nullptr,
                     Tls(Files("client2", "ca2"), RouteLinkTls::Side::kClient));
  ASSERT_TRUE(WaitFor([&] { return Rejected("tls_handshake") >= 1; }));
  EXPECT_FALSE(renewed.Ready());

  InstallServerFiles("server2", "ca2");
  absl::StatusOr<bool> reloaded = server_tls->ReloadIfChanged();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(*reloaded);
  ASSERT_TRUE(renewed.WaitReady());
  std::vector<testing::RouteResult> results = renewed.Route({"a"});
  ASSERT_TRUE(results[0].ok()) << results[0].status();
}

TEST_F(RouteLinkTlsTest, FilesThatDoNotLoadAreAnError) {
  TlsFiles files = Files("server1", "ca1");
  files.key_file = dir_ + "/client1.key";  // another certificate's key
  EXPECT_THAT(RouteLinkTls::Create(files, RouteLinkTls::Side::kServer).status().message(),
              HasSubstr("client1.key"));
  files.key_file = dir_ + "/missing.key";
  EXPECT_EQ(RouteLinkTls::Create(files, RouteLinkTls::Side::kServer).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmrouter
