#include "services/decision/decision_log.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <functional>

#include "services/decision/decision_service.h"
#include "services/decision/sqlite_policy_store.h"
#include "tests/support/loopback_server.h"
#include "tests/unit/decision/policy_fixtures.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;

// Code goes to "big", anything else to "small"; "small" has a cost cap a long answer breaks.
constexpr char kBundle[] = R"(
intents:
  - {name: code, keywords: [python, function]}
models:
  - {name: small, price: {input_per_mtok: 1, output_per_mtok: 1}}
  - {name: big, price: {input_per_mtok: 10, output_per_mtok: 10}}
rules:
  - name: code-to-big
    match: {intent: code}
    then: {candidates: [big]}
  - name: rest-to-small
    then: {candidates: [small]}
)";

class DecisionLogTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(DecisionLogOptions{}); }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  void Start(DecisionLogOptions options) {
    if (server_) server_->Shutdown();
    options.replica = "decision-a:1";
    log_ = std::make_unique<DecisionLog>(options, &registry_);
    auto store = SqlitePolicyStore::Open(":memory:");
    ASSERT_TRUE(store.ok());
    store_ = *std::move(store);
    policy_ = std::make_unique<ActivePolicy>(*store_);
    auto applied = policy_->Apply(kBundle, "test", "");
    ASSERT_TRUE(applied.ok()) << applied.status();
    service_ = std::make_unique<DecisionServiceImpl>(*policy_, metrics_, RouterOptions{}, clock_);
    service_->set_decision_log(log_.get());
    SetEndpoints({"small-1", "big-1"});
    testing::LoopbackServer served = testing::ServeOnLoopback(*service_);
    ASSERT_TRUE(served.server);
    server_ = std::move(served.server);
    stub_ = v1::DecisionService::NewStub(served.channel);
  }

  // Healthy endpoints, one per id: "<model>-<n>".
  void SetEndpoints(const std::vector<std::string>& ids) {
    v1::InventorySnapshot snapshot;
    for (const std::string& id : ids) AddHealthyEndpoint(&snapshot, id.substr(0, id.find('-')), id);
    service_->SetInventory(std::make_shared<InventoryView>(snapshot, clock_.Now()));
  }

  static v1::RouteRequestRequest Request(const std::string& request_id, const std::string& text) {
    v1::RouteRequestRequest req;
    req.set_model("auto");
    req.set_tenant("acme");
    req.set_request_id(request_id);
    req.mutable_prompt()->set_excerpt(text);
    req.mutable_prompt()->set_last_user_message(text);
    req.mutable_prompt()->set_message_count(1);
    return req;
  }

  v1::RouteRequestResponse Route(const v1::RouteRequestRequest& req) {
    grpc::ClientContext ctx;
    v1::RouteRequestResponse resp;
    EXPECT_TRUE(stub_->RouteRequest(&ctx, req, &resp).ok());
    return resp;
  }

  grpc::Status Get(const std::string& id, v1::DecisionRecord* out) {
    grpc::ClientContext ctx;
    v1::GetDecisionRequest req;
    req.set_id(id);
    v1::GetDecisionResponse resp;
    grpc::Status status = stub_->GetDecision(&ctx, req, &resp);
    *out = resp.decision();
    return status;
  }

  grpc::Status WhyNotLogged(const std::string& id, const std::string& model,
                            v1::WhyNotResponse* out) {
    grpc::ClientContext ctx;
    v1::WhyNotRequest req;
    req.set_decision(id);
    req.set_model(model);
    return stub_->WhyNot(&ctx, req, out);
  }

  FakeClock clock_;
  prometheus::Registry registry_;
  DecisionMetrics metrics_{registry_};
  std::unique_ptr<DecisionLog> log_;
  std::unique_ptr<SqlitePolicyStore> store_;
  std::unique_ptr<ActivePolicy> policy_;
  std::unique_ptr<DecisionServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::DecisionService::Stub> stub_;
};

TEST_F(DecisionLogTest, ADecisionIsFoundByItsIdAndByItsRequestIdWithoutThePromptText) {
  const v1::RouteRequestResponse routed =
      Route(Request("req-1", "write a python function that sorts a list, card 4111111111111111"));
  ASSERT_EQ(routed.target().model(), "big");

  for (const std::string& id : {routed.decision_id(), std::string("req-1")}) {
    v1::DecisionRecord record;
    ASSERT_TRUE(Get(id, &record).ok()) << id;
    EXPECT_EQ(record.decision_id(), routed.decision_id());
    EXPECT_EQ(record.request_id(), "req-1");
    EXPECT_EQ(record.replica(), "decision-a:1");
    EXPECT_EQ(record.status_code(), 0);
    EXPECT_EQ(record.response().target().model(), "big");
    EXPECT_EQ(record.response().target().endpoint_id(), "big-1");
    EXPECT_EQ(record.response().policy_rule(), "code-to-big");
    EXPECT_EQ(record.response().policy_sha256(), routed.policy_sha256());
    EXPECT_EQ(record.request().tenant(), "acme");
    EXPECT_EQ(record.request().prompt().message_count(), 1u);
    EXPECT_TRUE(record.request().prompt().excerpt().empty());
    EXPECT_TRUE(record.request().prompt().last_user_message().empty());
    EXPECT_EQ(record.SerializeAsString().find("4111111111111111"), std::string::npos);
    EXPECT_EQ(record.SerializeAsString().find("sorts a list"), std::string::npos);
  }
  v1::DecisionRecord none;
  EXPECT_EQ(Get("nope", &none).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get("", &none).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(DecisionLogTest, ARefusedDecisionIsLoggedUnderItsRequestId) {
  SetEndpoints({"big-1"});  // nothing serves small
  grpc::ClientContext ctx;
  v1::RouteRequestResponse resp;
  ASSERT_EQ(stub_->RouteRequest(&ctx, Request("req-refused", "hello"), &resp).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  v1::DecisionRecord record;
  ASSERT_TRUE(Get("req-refused", &record).ok());
  EXPECT_FALSE(record.response().policy_sha256().empty()) << "the policy that refused it";
  EXPECT_EQ(record.status_code(), static_cast<int>(grpc::StatusCode::UNAVAILABLE));
  EXPECT_NE(record.status_message().find("small"), std::string::npos) << record.status_message();
  EXPECT_EQ(record.decision_id().size(), 16u) << "a refused decision gets an id of its own";
  // Why-not replays a refusal (it kept no trace) under the policy that refused it.
  v1::WhyNotResponse answer;
  ASSERT_TRUE(WhyNotLogged("req-refused", "small", &answer).ok());
  EXPECT_NE(answer.basis().find("refused"), std::string::npos) << answer.basis();
}

TEST_F(DecisionLogTest, TheSampleAndExplainRequestsKeepTheFullTraceTheCallerSeesOnlyWhatItAsked) {
  DecisionLogOptions options;
  options.trace_sample = 1;
  Start(options);
  const v1::RouteRequestResponse plain = Route(Request("req-sampled", "hello there"));
  EXPECT_FALSE(plain.has_trace()) << "the sampled trace is the log's, not the caller's";
  v1::DecisionRecord record;
  ASSERT_TRUE(Get("req-sampled", &record).ok());
  EXPECT_TRUE(record.trace_kept());
  ASSERT_GT(record.response().trace().rules_size(), 0);
  EXPECT_EQ(record.response().trace().rules(0).rule(), "code-to-big");

  options.trace_sample = 0;
  Start(options);
  Route(Request("req-compact", "hello there"));
  ASSERT_TRUE(Get("req-compact", &record).ok());
  EXPECT_FALSE(record.trace_kept());
  EXPECT_FALSE(record.response().has_trace());
  v1::RouteRequestRequest explained = Request("req-explain", "hello there");
  explained.set_explain(true);
  EXPECT_TRUE(Route(explained).has_trace());
  ASSERT_TRUE(Get("req-explain", &record).ok());
  EXPECT_TRUE(record.trace_kept());
}

TEST_F(DecisionLogTest, WhyNotForAPastDecisionReadsItsTraceOrReplaysItUnderTheSamePolicy) {
  DecisionLogOptions options;
  options.trace_sample = 1;
  Start(options);
  const std::string code = "write a python function that sorts a list";
  const std::string traced = Route(Request("req-traced", code)).decision_id();
  // The endpoint serving small goes away after the decision: the trace still says what was.
  SetEndpoints({"big-1"});
  v1::WhyNotResponse answer;
  ASSERT_TRUE(WhyNotLogged(traced, "small", &answer).ok());
  EXPECT_FALSE(answer.would_be_chosen());
  EXPECT_EQ(answer.stage(), v1::CANDIDATE_STAGE_NOT_IN_RULE) << answer.detail();
  EXPECT_EQ(answer.rule(), "code-to-big");
  EXPECT_NE(answer.basis().find("the trace kept"), std::string::npos) << answer.basis();

  options.trace_sample = 0;
  Start(options);
  const std::string compact = Route(Request("req-compact", code)).decision_id();
  ASSERT_TRUE(WhyNotLogged(compact, "small", &answer).ok());
  EXPECT_EQ(answer.stage(), v1::CANDIDATE_STAGE_NOT_IN_RULE) << answer.detail();
  EXPECT_EQ(answer.rule(), "code-to-big")
      << "the replay uses the intents analysed then, though the prompt's text is gone";
  EXPECT_NE(answer.basis().find("replayed"), std::string::npos) << answer.basis();
  ASSERT_TRUE(WhyNotLogged("req-compact", "big", &answer).ok());
  EXPECT_TRUE(answer.would_be_chosen());

  // Under another bundle the decision cannot be replayed as it was.
  ASSERT_TRUE(policy_->Apply("models:\n  - {name: small}\n  - {name: big}\n", "test", "").ok());
  EXPECT_EQ(WhyNotLogged(compact, "small", &answer).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(WhyNotLogged("nope", "small", &answer).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(DecisionLogTest, OnlyHeadersARuleReadsAreKept) {
  // The bundle's rules match on no header: a credential a client sent in one is not logged.
  v1::RouteRequestRequest req = Request("req-headers", "hello");
  (*req.mutable_headers())["x-api-key"] = "sk-secret-credential";
  Route(req);
  v1::DecisionRecord record;
  ASSERT_TRUE(Get("req-headers", &record).ok());
  EXPECT_TRUE(record.request().headers().empty());
  EXPECT_EQ(record.SerializeAsString().find("sk-secret"), std::string::npos);
  // Under a bundle whose rule reads x-team, that header is kept.
  ASSERT_TRUE(
      policy_
          ->Apply("models:\n  - {name: small}\n  - {name: big}\nrules:\n"
                  "  - {name: team, match: {headers: {x-team: platform}}, then: {candidates: "
                  "[big]}}\n  - {name: rest, then: {candidates: [small]}}\n",
                  "test", "")
          .ok());
  (*req.mutable_headers())["x-team"] = "platform";
  req.set_request_id("req-team");
  EXPECT_EQ(Route(req).target().model(), "big");
  ASSERT_TRUE(Get("req-team", &record).ok());
  EXPECT_EQ(record.request().headers().size(), 1u);
  EXPECT_EQ(record.request().headers().at("x-team"), "platform");
}

TEST_F(DecisionLogTest, ReadsNeedTheAdminTokenWhenOneIsSet) {
  AdminAuth admin = AdminAuth::WithToken("s3cret");
  service_->set_admin(&admin);
  const std::string id = Route(Request("req-1", "hi")).decision_id();
  v1::DecisionRecord record;
  EXPECT_EQ(Get(id, &record).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer s3cret");
  v1::GetDecisionRequest req;
  req.set_id(id);
  v1::GetDecisionResponse resp;
  EXPECT_TRUE(stub_->GetDecision(&ctx, req, &resp).ok());
  service_->set_admin(nullptr);
}

TEST(DecisionLogBoundsTest, TheOldestRecordsGoPastTheByteCapAndPastTheirAge) {
  DecisionLogOptions options;
  options.max_bytes = 8 * 1024;
  options.max_age = absl::Minutes(10);
  prometheus::Registry registry;
  DecisionLog log(options, &registry);
  v1::RouteRequestRequest req;
  req.set_model("m");
  v1::RouteRequestResponse resp;
  resp.mutable_target()->set_model("m");
  absl::Time at = kTestNow;
  for (int i = 0; i < 200; ++i) {
    req.set_request_id("req-" + std::to_string(i));
    resp.set_decision_id("d-" + std::to_string(i));
    log.Add(at, req, absl::OkStatus(), resp, PromptSnapshot{}, resp.decision_id());
    EXPECT_LE(log.bytes(), options.max_bytes);
  }
  EXPECT_GT(log.records(), 5u);
  EXPECT_LT(log.records(), 200u);
  EXPECT_FALSE(log.Find("d-0", at).has_value()) << "evicted";
  EXPECT_FALSE(log.Find("req-0", at).has_value());
  ASSERT_TRUE(log.Find("d-199", at).has_value());
  EXPECT_EQ(log.Find("req-199", at)->record.decision_id(), "d-199");

  // A request id seen twice finds its latest decision.
  req.set_request_id("req-199");
  resp.set_decision_id("d-retry");
  log.Add(at, req, absl::OkStatus(), resp, PromptSnapshot{}, resp.decision_id());
  EXPECT_EQ(log.Find("req-199", at)->record.decision_id(), "d-retry");
  EXPECT_EQ(log.Find("d-199", at)->record.decision_id(), "d-199");

  EXPECT_TRUE(log.Find("d-retry", at + absl::Minutes(9)).has_value());
  EXPECT_FALSE(log.Find("d-retry", at + absl::Minutes(11)).has_value()) << "older than max_age";
  EXPECT_EQ(log.records(), 0u);
  EXPECT_EQ(log.bytes(), 0u);
}

// Sets every field of `m` (and of its messages, recursively) to something other than its default.
void FillEveryField(google::protobuf::Message* m, int depth = 0) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* r = m->GetReflection();
  const google::protobuf::Descriptor* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_map()) {
      google::protobuf::Message* entry = r->AddMessage(m, f);
      FillEveryField(entry, depth + 1);
      continue;
    }
    if (f->is_repeated()) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) r->AddString(m, f, "v");
      continue;
    }
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        r->SetString(m, f, "value-" + f->name());
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        r->SetBool(m, f, true);
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        r->SetEnumValue(m, f, 1);
        break;
      case FieldDescriptor::CPPTYPE_INT32:
        r->SetInt32(m, f, 7);
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        r->SetUInt32(m, f, 7);
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        r->SetInt64(m, f, 7);
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        r->SetUInt64(m, f, 7);
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        r->SetDouble(m, f, 0.5);
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        r->SetFloat(m, f, 0.5);
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (depth < 3) FillEveryField(r->MutableMessage(m, f), depth + 1);
        break;
    }
  }
}

TEST(DecisionLogBoundsTest, TheLogKeepsEveryFieldOfTheRequestButThePromptsText) {
  // A field added to RouteRequestRequest (or Prompt, Constraints) and not to
  // CopyWithoutPromptText fails here.
  v1::RouteRequestRequest from;
  FillEveryField(&from);
  ASSERT_FALSE(from.prompt().excerpt().empty());
  ASSERT_FALSE(from.prompt().last_user_message().empty());
  v1::RouteRequestRequest expected = from;
  expected.mutable_prompt()->clear_excerpt();
  expected.mutable_prompt()->clear_last_user_message();
  v1::RouteRequestRequest to;
  to.mutable_prompt()->set_excerpt("left over from the last request");
  (*to.mutable_headers())["stale"] = "x";
  const std::function<bool(absl::string_view)> keep_all = [](absl::string_view) { return true; };
  CopyWithoutPromptText(from, &to, &keep_all);
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(expected, to)) << diff;
}

TEST(DecisionLogBoundsTest, ZeroBytesTurnsTheLogOff) {
  DecisionLogOptions options;
  options.max_bytes = 0;
  DecisionLog log(options, nullptr);
  EXPECT_FALSE(log.enabled());
  v1::RouteRequestRequest req;
  req.set_request_id("r");
  log.Add(kTestNow, req, absl::OkStatus(), v1::RouteRequestResponse(), PromptSnapshot{}, "d");
  EXPECT_FALSE(log.Find("r", kTestNow).has_value());
}

}  // namespace
}  // namespace llmrouter::decision
