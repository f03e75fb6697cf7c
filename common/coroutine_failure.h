// The completion handler for coroutines spawned to run on their own: an exception that ends one
// is logged instead of vanishing, as it would with asio::detached. Whatever the coroutine held
// is released by its frame's destructors either way.
#ifndef LLMROUTER_COMMON_COROUTINE_FAILURE_H_
#define LLMROUTER_COMMON_COROUTINE_FAILURE_H_

#include <exception>

#include "common/logging.h"

namespace llmrouter {

// Use as co_spawn's completion token: asio::co_spawn(io, Loop(), LogIfThrown("probe_loop")).
// `what` must outlive the coroutine (a string literal).
inline auto LogIfThrown(const char* what) {
  return [what](std::exception_ptr failure) {
    if (!failure) return;
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      spdlog::error("coroutine_failed coroutine={} error=\"{}\"", what, e.what());
    } catch (...) {
      spdlog::error("coroutine_failed coroutine={} error=\"unknown exception\"", what);
    }
  };
}

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_COROUTINE_FAILURE_H_
