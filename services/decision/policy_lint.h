// Lint for policy bundles: what validation cannot reject but an operator would want to know.
#ifndef LLMROUTER_SERVICES_DECISION_POLICY_LINT_H_
#define LLMROUTER_SERVICES_DECISION_POLICY_LINT_H_

#include <string>
#include <vector>

#include "llmrouter/v1/policy.pb.h"

namespace llmrouter::decision {

// Every validation problem (severity ERROR, check "invalid"), then warnings:
//   shadowed-rule        a rule that can never match because an earlier rule always matches first
//   conflicting-overlap  two rules that can match the same request, neither containing the other,
//                        with different actions (the earlier wins)
//   empty-candidates     a rule whose every candidate is ruled out by its own constraints or by
//                        every tenant it matches
//   tie-break            a cheapest/quality strategy whose top candidates tie, so the order in
//                        the bundle decides
std::vector<llmrouter::v1::LintFinding> LintPolicyBundle(const std::string& yaml);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_POLICY_LINT_H_
