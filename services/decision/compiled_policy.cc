#include "services/decision/compiled_policy.h"

#include <algorithm>

namespace llmrouter::decision {

std::shared_ptr<const CompiledPolicy> CompiledPolicy::Compile(PolicyBundle bundle,
                                                              uint64_t revision,
                                                              std::string content_hash) {
  std::shared_ptr<CompiledPolicy> p(new CompiledPolicy());
  p->bundle_ = std::move(bundle);
  p->revision_ = revision;
  p->content_hash_ = std::move(content_hash);
  for (const ModelSpec& m : p->bundle_.models) {
    p->by_name_or_alias_.emplace(m.name, &m);
    for (const std::string& a : m.aliases) p->by_name_or_alias_.emplace(a, &m);
  }
  return p;
}

const ModelSpec* CompiledPolicy::Resolve(absl::string_view requested) const {
  auto it = by_name_or_alias_.find(requested);
  return it == by_name_or_alias_.end() ? nullptr : it->second;
}

std::vector<const ModelSpec*> CompiledPolicy::CandidateModels(const ModelSpec& requested) const {
  std::vector<const ModelSpec*> out{&requested};
  for (const std::string& f : requested.fallbacks) {
    const ModelSpec* m = Resolve(f);
    if (m != nullptr && std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return out;
}

}  // namespace llmrouter::decision
