// decision and inventory as real processes: decision keeps routing on its last snapshot while
// inventory is down, reconnects when it returns, and follows its policy file and PolicyService.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "llmrouter/v1/decision.grpc.pb.h"
#include "llmrouter/v1/policy.grpc.pb.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"
#include "tests/support/wait_until.h"

namespace llmrouter::testing {
namespace {

using ::testing::HasSubstr;
namespace v1 = llmrouter::v1;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp") << text;
  std::rename((path + ".tmp").c_str(), path.c_str());
}

std::string Endpoints(const std::string& id) {
  return absl::StrCat("endpoints:\n  - {id: ", id, ", model: m, address: \"127.0.0.1:9\"}\n");
}

class DecisionInventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("llmrouter-decision");
    WriteFile(dir_ + "/endpoints.yaml", Endpoints("first"));
    WriteFile(dir_ + "/policy.yaml", "models:\n  - name: m\n");
    WriteFile(dir_ + "/admin.token", "s3cret-admin\n");
    StartInventory(0);
    auto d = ServiceProcess::Start(
        "decision", BuildPath("services/decision/decision"),
        {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1", "--db=" + dir_ + "/d.db",
         "--policy_file=" + dir_ + "/policy.yaml", "--admin_token_file=" + dir_ + "/admin.token",
         absl::StrCat("--inventory_target=127.0.0.1:", inventory_port_)},
        dir_);
    ASSERT_TRUE(d.ok()) << d.status();
    decision_ = *std::move(d);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", decision_->port("grpc_port")),
                                       grpc::InsecureChannelCredentials());
    decision_stub_ = v1::DecisionService::NewStub(channel);
    policy_stub_ = v1::PolicyService::NewStub(channel);
  }

  void StartInventory(int port) {
    auto p = ServiceProcess::Start(
        "inventory", BuildPath("services/inventory/inventory"),
        {absl::StrCat("--grpc_port=", port), "--metrics_port=0", "--host=127.0.0.1",
         "--maintenance_interval_ms=50", "--endpoints_file=" + dir_ + "/endpoints.yaml",
         // The endpoints point at a closed port: this test is about routing, not probing.
         "--active_health_checks=false"},
        dir_);
    ASSERT_TRUE(p.ok()) << p.status();
    inventory_ = *std::move(p);
    inventory_port_ = inventory_->port("grpc_port");
  }

  grpc::Status Route(const std::string& model, v1::RouteRequestResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::RouteRequestRequest req;
    req.set_model(model);
    return decision_stub_->RouteRequest(&ctx, req, resp);
  }

  // Routes "m" until the chosen endpoint is `id` (true) or 15 s pass (false).
  bool EventuallyRoutesTo(const std::string& id) {
    for (int i = 0; i < 750; ++i) {
      v1::RouteRequestResponse resp;
      if (Route("m", &resp).ok() && resp.target().endpoint_id() == id) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // A context for policy writes, with the admin token.
  static void Admin(grpc::ClientContext* ctx) {
    ctx->AddMetadata("authorization", "Bearer s3cret-admin");
  }

  std::string Metrics() {
    return HttpCall(decision_->port("metrics_port"), "GET", "/metrics").body;
  }

  std::string dir_;
  int inventory_port_ = 0;
  std::unique_ptr<ServiceProcess> inventory_;
  std::unique_ptr<ServiceProcess> decision_;
  std::unique_ptr<v1::DecisionService::Stub> decision_stub_;
  std::unique_ptr<v1::PolicyService::Stub> policy_stub_;
};

TEST_F(DecisionInventoryTest, KeepsRoutingWhileInventoryIsDownAndReconnects) {
  ASSERT_TRUE(EventuallyRoutesTo("first"));
  inventory_.reset();  // SIGTERM and wait
  for (int i = 0;
       i < 250 && Metrics().find("llmrouter_decision_inventory_connected 0") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_THAT(Metrics(), HasSubstr("llmrouter_decision_inventory_connected 0"));
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(Route("m", &resp).ok()) << "must route on the last snapshot";
  EXPECT_EQ(resp.target().endpoint_id(), "first");

  WriteFile(dir_ + "/endpoints.yaml", Endpoints("second"));
  const int port = inventory_port_;
  StartInventory(port);
  EXPECT_TRUE(EventuallyRoutesTo("second")) << "decision did not pick up the restarted inventory";
  EXPECT_THAT(Metrics(), HasSubstr("llmrouter_decision_inventory_stream_losses_total 1"));
}

TEST_F(DecisionInventoryTest, RouteStreamAnswersEachCallOfABatchLikeRouteRequest) {
  ASSERT_TRUE(EventuallyRoutesTo("first"));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = decision_stub_->RouteStream(&ctx);
  v1::RouteStreamRequest batch;
  for (auto [id, model] : {std::pair<int, const char*>{7, "m"}, {8, "no-such-model"}, {9, "m"}}) {
    v1::RouteCall* call = batch.add_calls();
    call->set_id(id);
    call->mutable_request()->set_model(model);
  }
  ASSERT_TRUE(stream->Write(batch));
  v1::RouteStreamRequest second;
  second.add_calls()->set_id(10);
  second.mutable_calls(0)->mutable_request()->set_model("m");
  ASSERT_TRUE(stream->Write(second));
  ASSERT_TRUE(stream->WritesDone());

  std::map<uint64_t, v1::RouteResult> results;
  v1::RouteStreamResponse answers;
  while (stream->Read(&answers)) {
    for (const v1::RouteResult& result : answers.results()) results[result.id()] = result;
  }
  grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(results.size(), 4u);
  for (uint64_t id : {7, 9, 10}) {
    EXPECT_EQ(results[id].status_code(), 0) << id;
    EXPECT_EQ(results[id].response().target().endpoint_id(), "first") << id;
    EXPECT_FALSE(results[id].response().decision_id().empty()) << id;
  }
  // The unknown model fails exactly as the unary call does, and only that call fails.
  v1::RouteRequestResponse unary;
  grpc::Status unary_status = Route("no-such-model", &unary);
  EXPECT_EQ(results[8].status_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(results[8].status_code(), static_cast<int>(unary_status.error_code()));
  EXPECT_EQ(results[8].status_message(), unary_status.error_message());
  EXPECT_FALSE(results[8].has_response());
  EXPECT_THAT(Metrics(), HasSubstr("llmrouter_decision_routes_total{code=\"not_found\"} 2"));
}

TEST_F(DecisionInventoryTest, InventoryFollowsItsEndpointsFile) {
  ASSERT_TRUE(EventuallyRoutesTo("first"));
  WriteFile(dir_ + "/endpoints.yaml", Endpoints("edited"));
  EXPECT_TRUE(EventuallyRoutesTo("edited"));
}

TEST_F(DecisionInventoryTest, PolicyWritesNeedTheAdminToken) {
  v1::ApplyBundleRequest req;
  req.set_bundle("models:\n  - name: m\n    aliases: [mm]\n");
  v1::ApplyBundleResponse resp;
  {
    grpc::ClientContext ctx;
    grpc::Status s = policy_stub_->ApplyBundle(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(s.error_message(), HasSubstr("Bearer"));
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer wrong");
    EXPECT_EQ(policy_stub_->ApplyBundle(&ctx, req, &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    v1::RollbackRequest rb;
    rb.set_revision(1);
    v1::RollbackResponse rresp;
    EXPECT_EQ(policy_stub_->Rollback(&ctx, rb, &rresp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // Reads stay open.
  grpc::ClientContext ctx;
  v1::ListRevisionsResponse list;
  EXPECT_TRUE(policy_stub_->ListRevisions(&ctx, v1::ListRevisionsRequest(), &list).ok());
  EXPECT_EQ(list.revisions_size(), 1);
}

TEST_F(DecisionInventoryTest, PolicyServiceAppliesValidatesAndRollsBack) {
  ASSERT_TRUE(EventuallyRoutesTo("first"));
  {
    grpc::ClientContext ctx;
    Admin(&ctx);
    v1::ApplyBundleRequest req;
    req.set_bundle("models:\n  - name: m\n    fallbacks: [ghost]\n");
    v1::ApplyBundleResponse resp;
    grpc::Status s = policy_stub_->ApplyBundle(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("models[0].fallbacks[0]: unknown model \"ghost\""));
  }
  {
    grpc::ClientContext ctx;
    Admin(&ctx);
    v1::ApplyBundleRequest req;
    req.set_bundle("models:\n  - name: m\n    aliases: [mm]\n");
    req.set_author("test");
    v1::ApplyBundleResponse resp;
    ASSERT_TRUE(policy_stub_->ApplyBundle(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.revision().revision(), 2u);
  }
  v1::RouteRequestResponse routed;
  ASSERT_TRUE(Route("mm", &routed).ok());
  EXPECT_EQ(routed.policy_revision(), 2u);
  {
    grpc::ClientContext ctx;
    Admin(&ctx);
    v1::RollbackRequest req;
    req.set_revision(1);
    v1::RollbackResponse resp;
    ASSERT_TRUE(policy_stub_->Rollback(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(Route("mm", &routed).error_code(), grpc::StatusCode::NOT_FOUND);
  {
    grpc::ClientContext ctx;
    v1::ListRevisionsRequest req;
    req.set_page_size(1);
    v1::ListRevisionsResponse resp;
    ASSERT_TRUE(policy_stub_->ListRevisions(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.revisions_size(), 1);
    EXPECT_EQ(resp.revisions(0).revision(), 2u);
    EXPECT_FALSE(resp.revisions(0).active());
    EXPECT_EQ(resp.next_page_token(), "2");
  }
}

TEST_F(DecisionInventoryTest, PolicyFileEditsApplyAndBadEditsAreRejected) {
  ASSERT_TRUE(EventuallyRoutesTo("first"));
  WriteFile(dir_ + "/policy.yaml", "models:\n  - name: m\n    aliases: [from-file]\n");
  v1::RouteRequestResponse resp;
  bool applied = false;
  for (int i = 0; i < 250 && !applied; ++i) {
    applied = Route("from-file", &resp).ok();
    if (!applied) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(applied);
  WriteFile(dir_ + "/policy.yaml", "models: [\n");
  for (int i = 0; i < 250 && Metrics().find("result=\"rejected\"") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_THAT(Metrics(), HasSubstr("op=\"file\",result=\"rejected\""));
  EXPECT_TRUE(Route("from-file", &resp).ok()) << "a bad edit must leave the active revision";
}

TEST_F(DecisionInventoryTest, ReloadsDropNoRequest) {
  ASSERT_TRUE(EventuallyRoutesTo("first"));
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::mutex mu;
  std::set<uint64_t> revisions_seen;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        v1::RouteRequestResponse resp;
        grpc::Status s = Route("m", &resp);
        if (s.ok()) {
          ++ok;
          std::lock_guard<std::mutex> lock(mu);
          revisions_seen.insert(resp.policy_revision());
        } else {
          ++failed;
        }
      }
    });
  }
  // Twenty applies through the API and a file change, while requests flow.
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    Admin(&ctx);
    v1::ApplyBundleRequest req;
    req.set_bundle(absl::StrCat("models:\n  - name: m\n    aliases: [alias-", i, "]\n"));
    v1::ApplyBundleResponse resp;
    ASSERT_TRUE(policy_stub_->ApplyBundle(&ctx, req, &resp).ok());
    // The next apply once requests have been routed by this revision.
    const uint64_t applied = resp.revision().revision();
    const bool seen = WaitUntil([&] {
      std::lock_guard<std::mutex> lock(mu);
      return revisions_seen.count(applied) > 0;
    });
    if (!seen) {
      ADD_FAILURE() << "no request was routed by revision " << applied;
      break;  // the clients still use the locals: stop them below
    }
  }
  WriteFile(dir_ + "/policy.yaml", "models:\n  - name: m\n    aliases: [from-file]\n");
  v1::RouteRequestResponse probe;
  for (int i = 0; i < 250 && !Route("from-file", &probe).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop.store(true);
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 100);
  EXPECT_GE(revisions_seen.size(), 5u) << "requests should have seen several revisions";
  EXPECT_TRUE(Route("from-file", &probe).ok());
}

}  // namespace
}  // namespace llmrouter::testing
