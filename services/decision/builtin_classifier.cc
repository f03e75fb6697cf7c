#include "services/decision/builtin_classifier.h"

#include <cstddef>

#include "common/sha256.h"

extern const unsigned char llmrouter_builtin_classifier[];
extern const std::size_t llmrouter_builtin_classifier_size;

namespace llmrouter::decision {

std::string_view BuiltinClassifierModel() {
  return std::string_view(reinterpret_cast<const char*>(llmrouter_builtin_classifier),
                           llmrouter_builtin_classifier_size);
}

const std::string& BuiltinClassifierSha256() {
  static const std::string* hash = new std::string(Sha256Hex(BuiltinClassifierModel()));
  return *hash;
}

}  // namespace llmrouter::decision
