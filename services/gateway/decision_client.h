// The gateway's seam to the decision service, and asio adapters that let a coroutine await a
// decision without blocking its thread.
#ifndef LLMROUTER_SERVICES_GATEWAY_DECISION_CLIENT_H_
#define LLMROUTER_SERVICES_GATEWAY_DECISION_CLIENT_H_

// Boost 1.74's coroutine headers need <utility> first with g++ 12; keep it first.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "llmrouter/v1/decision.pb.h"

namespace llmrouter::gateway {

// A DecisionClient asks the decision service where a request goes. Implementations are safe for
// concurrent use. Each call completes exactly once by invoking `done`, possibly on another
// thread and possibly before the call returns; `done` must not block. Failures carry the
// decision's canonical status (NOT_FOUND, UNAVAILABLE, ...) or DEADLINE_EXCEEDED when
// `deadline` passed first; the call always completes by the deadline plus a little.
class DecisionClient {
 public:
  using Deadline = std::chrono::system_clock::time_point;
  using RouteCallback = std::function<void(absl::StatusOr<v1::RouteRequestResponse>)>;
  using ListModelsCallback = std::function<void(absl::StatusOr<v1::ListModelsResponse>)>;

  virtual ~DecisionClient() = default;

  virtual void Route(v1::RouteRequestRequest request, Deadline deadline, RouteCallback done) = 0;
  virtual void ListModels(v1::ListModelsRequest request, Deadline deadline,
                          ListModelsCallback done) = 0;
  // Whether the decision service looks reachable right now (for readiness); never blocks. May
  // start connecting in the background.
  virtual bool Reachable() { return true; }
};

// How a failed decision call is answered over HTTP, in the OpenAI error shape.
struct DecisionHttpError {
  int http_status = 500;
  std::string message;
  std::string code;             // OpenAI "code"; empty renders as null
  int retry_after_seconds = 0;  // 0: no Retry-After header
};
// Maps a decision failure (not OK) to its HTTP answer: NOT_FOUND 404 model_not_found,
// INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403, RESOURCE_EXHAUSTED 429,
// UNAVAILABLE 503, DEADLINE_EXCEEDED 503 "routing decision timed out", anything else 500.
DecisionHttpError DecisionErrorToHttp(const absl::Status& status);

// The status of a RouteStream (or route link) result that carries no response: its canonical
// code and message; UNKNOWN for a code outside the canonical set.
absl::Status RouteResultStatus(const v1::RouteResult& result);

namespace internal {

// Wraps an asio completion handler so a DecisionClient callback may run on any thread: the
// result is posted to the handler's own executor, where the awaiting coroutine lives.
template <typename Result, typename Handler>
std::function<void(Result)> PostToHandler(Handler handler) {
  auto shared = std::make_shared<Handler>(std::move(handler));
  return [shared](Result result) {
    auto executor = boost::asio::get_associated_executor(*shared);
    boost::asio::post(
        executor, [shared, result = std::move(result)]() mutable { (*shared)(std::move(result)); });
  };
}

// The same, but the handler runs inline when the callback is invoked on the handler's own
// executor (a completion handler of the same event loop): one turn of the loop less. The
// callback must then not be invoked from inside the call that started the operation.
template <typename Result, typename Handler>
std::function<void(Result)> DispatchToHandler(Handler handler) {
  auto shared = std::make_shared<Handler>(std::move(handler));
  return [shared](Result result) {
    auto executor = boost::asio::get_associated_executor(*shared);
    boost::asio::dispatch(
        executor, [shared, result = std::move(result)]() mutable { (*shared)(std::move(result)); });
  };
}

}  // namespace internal

// Asks `client` for a route; with asio::use_awaitable, `co_await` yields the StatusOr.
// `client` must outlive the operation.
template <typename CompletionToken>
auto AsyncRoute(DecisionClient& client, v1::RouteRequestRequest request,
                DecisionClient::Deadline deadline, CompletionToken&& token) {
  using Result = absl::StatusOr<v1::RouteRequestResponse>;
  return boost::asio::async_initiate<CompletionToken, void(Result)>(
      [&client, deadline](auto handler, v1::RouteRequestRequest request) {
        client.Route(std::move(request), deadline,
                     internal::PostToHandler<Result>(std::move(handler)));
      },
      token, std::move(request));
}

// Lists the models a tenant may use; see AsyncRoute.
template <typename CompletionToken>
auto AsyncListModels(DecisionClient& client, v1::ListModelsRequest request,
                     DecisionClient::Deadline deadline, CompletionToken&& token) {
  using Result = absl::StatusOr<v1::ListModelsResponse>;
  return boost::asio::async_initiate<CompletionToken, void(Result)>(
      [&client, deadline](auto handler, v1::ListModelsRequest request) {
        client.ListModels(std::move(request), deadline,
                          internal::PostToHandler<Result>(std::move(handler)));
      },
      token, std::move(request));
}

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_DECISION_CLIENT_H_
