// What the route link tests share: a scripted decision answer, decision's server on loopback and
// the gateway's client on an event loop of its own.
#ifndef LLMROUTER_TESTS_UNIT_GATEWAY_ROUTE_LINK_TEST_UTIL_H_
#define LLMROUTER_TESTS_UNIT_GATEWAY_ROUTE_LINK_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <prometheus/gauge.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/route_link.h"
#include "services/decision/route_link_server.h"
#include "services/gateway/route_link_client.h"

namespace llmrouter::testing {

using RouteResult = absl::StatusOr<v1::RouteRequestResponse>;

// Answers like decision would: decision_id "d-<model>", NOT_FOUND for model "missing".
inline void Answer(const v1::RouteCall& call, v1::RouteResult* result) {
  result->set_id(call.id());
  if (call.request().model() == "missing") {
    result->set_status_code(static_cast<int>(absl::StatusCode::kNotFound));
    result->set_status_message("model \"missing\" is not known");
    return;
  }
  result->mutable_response()->set_decision_id(absl::StrCat("d-", call.request().model()));
}

inline v1::RouteRequestRequest Request(const std::string& model) {
  v1::RouteRequestRequest request;
  request.set_model(model);
  request.set_tenant("acme");
  return request;
}

// Waits up to `deadline` for `condition`, looking every 10 ms; the condition's last value.
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

inline std::unique_ptr<decision::RouteLinkServer> StartLinkServer(
    decision::RouteLinkServerOptions options = {}, decision::RouteLinkServerMetrics metrics = {},
    decision::RouteLinkServer::AnswerFunction answer = Answer) {
  options.host = "127.0.0.1";
  auto server = std::make_unique<decision::RouteLinkServer>(options, std::move(answer), metrics);
  EXPECT_TRUE(server->Start().ok());
  return server;
}

// A RouteLinkClient on an event loop of its own; the test thread talks to it through posts.
class ClientLoop {
 public:
  explicit ClientLoop(const std::string& target,
                      std::chrono::milliseconds resolve_interval = std::chrono::seconds(5),
                      prometheus::Gauge* connections = nullptr,
                      std::shared_ptr<RouteLinkTls> tls = nullptr) {
    gateway::RouteLinkClientOptions options;
    options.target = target;
    options.resolve_interval = resolve_interval;
    options.max_backoff = std::chrono::milliseconds(100);
    options.tls = std::move(tls);
    client_ = std::make_unique<gateway::RouteLinkClient>(io_.get_executor(), options, connections);
    thread_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  ~ClientLoop() {
    boost::asio::post(io_, [this] { client_.reset(); });
    io_.stop();
    thread_.join();
    client_.reset();
  }

  bool Ready() {
    std::promise<bool> ready;
    boost::asio::post(io_, [&] { ready.set_value(client_->ready()); });
    return ready.get_future().get();
  }
  bool WaitReady(bool want = true) {
    return WaitFor([&] { return Ready() == want; }, std::chrono::seconds(5));
  }

  // Starts the calls together (in one turn of the loop) and waits for all answers.
  std::vector<RouteResult> Route(const std::vector<std::string>& models,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    auto results =
        std::make_shared<std::vector<RouteResult>>(models.size(), absl::UnknownError(""));
    auto left = std::make_shared<std::atomic<int>>(static_cast<int>(models.size()));
    auto done = std::make_shared<std::promise<void>>();
    boost::asio::post(io_, [this, models, timeout, results, left, done] {
      const auto deadline = gateway::RouteLinkClient::Clock::now() + timeout;  // one for all
      for (std::size_t i = 0; i < models.size(); ++i) {
        client_->Route(Request(models[i]), deadline, [results, left, done, i](RouteResult r) {
          (*results)[i] = std::move(r);
          if (left->fetch_sub(1) == 1) done->set_value();
        });
      }
    });
    done->get_future().wait();
    return *results;
  }

 private:
  boost::asio::io_context io_{1};
  std::unique_ptr<gateway::RouteLinkClient> client_;
  std::thread thread_;
};

}  // namespace llmrouter::testing

#endif  // LLMROUTER_TESTS_UNIT_GATEWAY_ROUTE_LINK_TEST_UTIL_H_
