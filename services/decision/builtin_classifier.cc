#include "services/decision/builtin_classifier.h"

#include <cstddef>

extern const unsigned char llmrouter_builtin_classifier[];
extern const std::size_t llmrouter_builtin_classifier_size;

namespace llmrouter::decision {

std::string_view BuiltinClassifierModel() {
  return std::string_view(reinterpret_cast<const char*>(llmrouter_builtin_classifier),
                           llmrouter_builtin_classifier_size);
}

}  // namespace llmrouter::decision
