#include "services/decision/compiled_policy.h"

namespace llmrouter::decision {

std::shared_ptr<const CompiledPolicy> CompiledPolicy::Compile(
    PolicyBundle bundle, uint64_t revision, std::string content_hash,
    std::shared_ptr<const LearnedClassifier> classifier) {
  std::shared_ptr<CompiledPolicy> p(new CompiledPolicy());
  p->bundle_ = std::move(bundle);
  p->revision_ = revision;
  p->content_hash_ = std::move(content_hash);
  const PolicyBundle& b = p->bundle_;
  for (size_t i = 0; i < b.models.size(); ++i) {
    p->by_name_or_alias_.emplace(b.models[i].name, static_cast<int>(i));
    for (const std::string& a : b.models[i].aliases) {
      p->by_name_or_alias_.emplace(a, static_cast<int>(i));
    }
  }
  for (const TenantSpec& t : b.tenants) {
    p->tenants_.emplace(t.name, &t);
    if (t.allowed_models.empty()) continue;
    std::vector<bool>& allowed = p->allowed_[&t];
    allowed.assign(b.models.size(), false);
    for (const std::string& m : t.allowed_models) {
      int i = p->ModelIndex(m);
      if (i >= 0) allowed[i] = true;
    }
  }
  p->classifier_ = std::move(classifier);
  p->analyzer_ = std::make_unique<PromptAnalyzer>(
      b.intents, p->classifier_,
      b.classifier ? b.classifier->min_confidence : ClassifierSpec{}.min_confidence);
  for (const auto& [from, row] : b.region_latency_ms) {
    for (const auto& [to, ms] : row) p->region_latency_[from][to] = ms;
  }
  auto indexes = [&](const std::vector<std::string>& names) {
    std::vector<int> out;
    for (const std::string& n : names) {
      int i = p->ModelIndex(n);
      if (i >= 0 && std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
    }
    return out;
  };
  for (const RuleSpec& spec : b.rules) {
    CompiledRule rule;
    rule.spec = &spec;
    for (const HeaderMatch& h : spec.match.headers) {
      rule.header_regex.push_back(h.regex.empty() ? nullptr : std::make_unique<RE2>(h.regex));
      p->header_names_.insert(h.name);
    }
    for (const std::string& intent : spec.match.intents) {
      int i = p->analyzer_->IntentIndex(intent);
      if (i >= 0) rule.intent_mask |= uint64_t{1} << i;
    }
    rule.candidates = indexes(spec.then.candidates);
    for (const SplitEntry& e : spec.then.split) {
      int i = p->ModelIndex(e.model);
      if (i >= 0) rule.split.emplace_back(i, e.weight);
    }
    rule.fallbacks = indexes(spec.then.fallbacks);
    rule.endpoint_strategy =
        ParseEndpointStrategy(spec.then.endpoint_strategy).value_or(EndpointStrategy::kRoundRobin);
    p->rule_index_.emplace(spec.name, static_cast<int>(p->rules_.size()));
    p->rules_.push_back(std::move(rule));
  }
  return p;
}

int CompiledPolicy::ModelIndex(absl::string_view name_or_alias) const {
  auto it = by_name_or_alias_.find(name_or_alias);
  return it == by_name_or_alias_.end() ? -1 : it->second;
}

const ModelSpec* CompiledPolicy::Resolve(absl::string_view requested) const {
  int i = ModelIndex(requested);
  return i < 0 ? nullptr : &bundle_.models[i];
}

const TenantSpec* CompiledPolicy::Tenant(absl::string_view name) const {
  auto it = tenants_.find(name);
  return it == tenants_.end() ? nullptr : it->second;
}

const CompiledRule* CompiledPolicy::Rule(absl::string_view name) const {
  auto it = rule_index_.find(name);
  return it == rule_index_.end() ? nullptr : &rules_[it->second];
}

const TenantSpec* CompiledPolicy::ResolveTenant(absl::string_view requested) const {
  if (const TenantSpec* t = Tenant(requested.empty() ? "default" : requested)) return t;
  return Tenant("default");
}

bool CompiledPolicy::TenantAllows(const TenantSpec* tenant, int index) const {
  if (tenant == nullptr) return true;
  auto it = allowed_.find(tenant);
  return it == allowed_.end() || it->second[index];
}

}  // namespace llmrouter::decision
