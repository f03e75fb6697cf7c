// GrpcDecisionClient's RouteStreamPool against an in-process DecisionService whose RouteStream
// answers as each test tells it: out of order, with errors, never, or by breaking the stream.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "services/gateway/grpc_decision_client.h"

namespace llmrouter::gateway {
namespace {

using ::testing::HasSubstr;
using Result = absl::StatusOr<v1::RouteRequestResponse>;

// How the fake answers one read batch: it may answer some calls now and keep others.
enum class Behaviour { kAnswer, kHold, kBreak };

class FakeDecision final : public v1::DecisionService::CallbackService {
 public:
  grpc::ServerBidiReactor<v1::RouteStreamRequest, v1::RouteStreamResponse>* RouteStream(
      grpc::CallbackServerContext*) override {
    streams_opened.fetch_add(1);
    return new Reactor(*this);
  }

  std::atomic<Behaviour> behaviour{Behaviour::kAnswer};
  std::atomic<int> streams_opened{0};
  std::atomic<int> calls_seen{0};

 private:
  class Reactor final
      : public grpc::ServerBidiReactor<v1::RouteStreamRequest, v1::RouteStreamResponse> {
   public:
    explicit Reactor(FakeDecision& fake) : fake_(fake) { StartRead(&in_); }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status::OK);
        return;
      }
      fake_.calls_seen.fetch_add(in_.calls_size());
      switch (fake_.behaviour.load()) {
        case Behaviour::kBreak:
          Finish(grpc::Status(grpc::StatusCode::INTERNAL, "broken on purpose"));
          return;
        case Behaviour::kHold:
          in_.Clear();
          StartRead(&in_);
          return;
        case Behaviour::kAnswer:
          break;
      }
      // Answer in reverse order; model "missing" gets NOT_FOUND.
      out_.Clear();
      for (int i = in_.calls_size() - 1; i >= 0; --i) {
        const v1::RouteCall& call = in_.calls(i);
        v1::RouteResult* result = out_.add_results();
        result->set_id(call.id());
        if (call.request().model() == "missing") {
          result->set_status_code(static_cast<int>(grpc::StatusCode::NOT_FOUND));
          result->set_status_message("model \"missing\" is not known");
        } else {
          result->mutable_response()->set_decision_id(absl::StrCat("d-", call.request().model()));
        }
      }
      in_.Clear();
      StartWrite(&out_);
    }
    void OnWriteDone(bool ok) override {
      if (ok) StartRead(&in_);
    }
    void OnDone() override { delete this; }

   private:
    FakeDecision& fake_;
    v1::RouteStreamRequest in_;
    v1::RouteStreamResponse out_;
  };
};

class RouteStreamPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port_, 0);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    client_.reset();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  DecisionClient& Pool(RouteStreamPoolOptions stream = {}) {
    GrpcDecisionClientOptions options;
    options.stream = stream;
    client_ = std::make_unique<GrpcDecisionClient>(channel_, options);
    return *client_;
  }

  // Routes `model` and waits for the callback (which must come exactly once).
  Result RouteAndWait(DecisionClient& pool, const std::string& model,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    v1::RouteRequestRequest request;
    request.set_model(model);
    auto done = std::make_shared<absl::Notification>();
    auto result = std::make_shared<Result>(absl::UnknownError("no answer"));
    auto calls = std::make_shared<std::atomic<int>>(0);
    pool.Route(std::move(request), std::chrono::system_clock::now() + timeout,
               [done, result, calls](Result r) {
                 if (calls->fetch_add(1) == 0) {
                   *result = std::move(r);
                   done->Notify();
                 }
               });
    EXPECT_TRUE(done->WaitForNotificationWithTimeout(absl::Seconds(20)));
    EXPECT_EQ(calls->load(), 1);
    return *result;
  }

  FakeDecision fake_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<GrpcDecisionClient> client_;
};

TEST_F(RouteStreamPoolTest, ManyConcurrentCallsEachGetTheirOwnAnswer) {
  DecisionClient& pool = Pool({.streams = 2});
  constexpr int kCalls = 500;
  absl::Mutex mu;
  std::vector<std::string> answers(kCalls);
  std::atomic<int> completed{0};
  for (int i = 0; i < kCalls; ++i) {
    v1::RouteRequestRequest request;
    request.set_model(absl::StrCat("model-", i));
    pool.Route(std::move(request), std::chrono::system_clock::now() + std::chrono::seconds(10),
               [&, i](Result r) {
                 absl::MutexLock lock(&mu);
                 answers[i] = r.ok() ? r->decision_id() : std::string(r.status().message());
                 completed.fetch_add(1);
               });
  }
  for (int i = 0; i < 2000 && completed.load() < kCalls; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(completed.load(), kCalls);
  absl::MutexLock lock(&mu);
  for (int i = 0; i < kCalls; ++i) EXPECT_EQ(answers[i], absl::StrCat("d-model-", i));
  EXPECT_EQ(fake_.calls_seen.load(), kCalls);
  EXPECT_LE(fake_.streams_opened.load(), 2) << "calls must share the long-lived streams";
}

TEST_F(RouteStreamPoolTest, ADecisionErrorKeepsItsCodeAndMessage) {
  DecisionClient& pool = Pool();
  Result result = RouteAndWait(pool, "missing");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(result.status().message(), HasSubstr("\"missing\" is not known"));
  EXPECT_TRUE(RouteAndWait(pool, "fine").ok()) << "one failed call leaves the stream usable";
}

TEST_F(RouteStreamPoolTest, AnUnansweredCallExpiresAtItsDeadline) {
  DecisionClient& pool = Pool({.streams = 1});
  fake_.behaviour = Behaviour::kHold;
  const auto start = std::chrono::steady_clock::now();
  Result result = RouteAndWait(pool, "slow", std::chrono::milliseconds(100));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  // The stream itself is fine: once decision answers again, so does the same stream.
  fake_.behaviour = Behaviour::kAnswer;
  EXPECT_TRUE(RouteAndWait(pool, "fast").ok());
  EXPECT_EQ(fake_.streams_opened.load(), 1);
}

TEST_F(RouteStreamPoolTest, ABrokenStreamFailsItsCallsAsUnavailableAndIsReplaced) {
  DecisionClient& pool = Pool({.streams = 1});
  ASSERT_TRUE(RouteAndWait(pool, "first").ok());
  fake_.behaviour = Behaviour::kBreak;
  Result broken = RouteAndWait(pool, "second");
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kUnavailable);
  fake_.behaviour = Behaviour::kAnswer;
  // The next call may still meet the dying stream; within a few calls a new one answers.
  bool answered = false;
  for (int i = 0; i < 50 && !answered; ++i) answered = RouteAndWait(pool, "third").ok();
  EXPECT_TRUE(answered);
  EXPECT_GE(fake_.streams_opened.load(), 2);
}

TEST_F(RouteStreamPoolTest, StreamsPastTheirAgeAreReplaced) {
  DecisionClient& pool = Pool({.streams = 1, .max_age = std::chrono::milliseconds(50)});
  ASSERT_TRUE(RouteAndWait(pool, "a").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  ASSERT_TRUE(RouteAndWait(pool, "b").ok());
  EXPECT_EQ(fake_.streams_opened.load(), 2);
}

TEST_F(RouteStreamPoolTest, ShuttingDownDoesNotWaitForTheDeadlinesOfAnsweredCalls) {
  DecisionClient& pool = Pool();
  ASSERT_TRUE(RouteAndWait(pool, "a", std::chrono::minutes(10)).ok());
  auto destroyed = std::make_shared<absl::Notification>();
  std::thread destroy([this, destroyed] {
    client_.reset();
    destroyed->Notify();
  });
  EXPECT_TRUE(destroyed->WaitForNotificationWithTimeout(absl::Seconds(30)))
      << "the client waited for a deadline ten minutes away";
  destroy.join();
}

TEST_F(RouteStreamPoolTest, DecisionDownMeansUnavailableNotAHang) {
  server_->Shutdown(std::chrono::system_clock::now());
  DecisionClient& pool = Pool();
  Result result = RouteAndWait(pool, "m", std::chrono::seconds(3));
  EXPECT_THAT(result.status().code(), ::testing::AnyOf(absl::StatusCode::kUnavailable,
                                                       absl::StatusCode::kDeadlineExceeded));
}

}  // namespace
}  // namespace llmrouter::gateway
