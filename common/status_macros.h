// RETURN_IF_ERROR and ASSIGN_OR_RETURN: the Abseil version on Debian 12 lacks its own.
#ifndef LLMROUTER_COMMON_STATUS_MACROS_H_
#define LLMROUTER_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LLMR_CONCAT_INNER_(a, b) a##b
#define LLMR_CONCAT_(a, b) LLMR_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status llmr_status_ = (expr);        \
    if (!llmr_status_.ok()) return llmr_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK, else moves the
// value into `lhs`, which may be a declaration (`auto x`) or an existing variable.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  LLMR_ASSIGN_OR_RETURN_IMPL_(LLMR_CONCAT_(llmr_statusor_, __LINE__), lhs, rexpr)

#define LLMR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)  \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // LLMROUTER_COMMON_STATUS_MACROS_H_
