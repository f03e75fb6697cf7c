// The prompt classifier built into decision: data/classifier/builtin.ftz, trained from the
// project's corpus by scripts/train-classifier.sh and compiled into the binary, so that every
// image carries it and bundles can name it by hash without shipping a file.
#ifndef LLMROUTER_SERVICES_DECISION_BUILTIN_CLASSIFIER_H_
#define LLMROUTER_SERVICES_DECISION_BUILTIN_CLASSIFIER_H_

#include <string>
#include <string_view>

namespace llmrouter::decision {

// The built-in model file's bytes.
std::string_view BuiltinClassifierModel();
// Their hex SHA-256, computed once.
const std::string& BuiltinClassifierSha256();

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_BUILTIN_CLASSIFIER_H_
