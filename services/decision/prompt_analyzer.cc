#include "services/decision/prompt_analyzer.h"

#include <re2/re2.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/token_estimator.h"
#include "services/decision/pattern_limits.h"

namespace llmrouter::decision {
namespace {

// RE2 wants its own string_view type in some versions; these hold the patterns once.
const RE2& EmailRe() {
  static const RE2* re =
      new RE2(R"([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})");
  return *re;
}
const RE2& PhoneRe() {
  // International (+CC) or North-American style numbers with separators.
  static const RE2* re = new RE2(
      R"((?:\+\d{1,3}[ .-]?(?:\(?\d{1,4}\)?[ .-]?){2,4}\d{2,4})|(?:\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b))");
  return *re;
}
const RE2& CardRe() {
  static const RE2* re = new RE2(R"(\b(\d(?:[ -]?\d){12,18})\b)");
  return *re;
}
const RE2& NationalIdRe() {
  static const RE2* re =
      new RE2(R"(\b\d{3}-\d{2}-\d{4}\b|\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b)");
  return *re;
}
// Cue groups, matched in the same pass as the bundle's intents: the more groups a prompt
// shows, the more reasoning or constraint it asks for.
constexpr const char* kReasoningCues[] = {
    R"((?i)\b(?:step[- ]by[- ]step|explain why|reason(?:ing)? about|walk me through)\b)",
    R"((?i)\b(?:prove|derive|analy[sz]e|root cause|justify)\b)",
    R"((?i)\b(?:compare|trade-?offs?|pros and cons|evaluate|design an?|architect)\b)",
};
constexpr const char* kConstraintCues[] = {
    R"((?i)\b(?:must|must not|should not|do not|don't|never|only use)\b)",
    R"((?i)\b(?:at least|at most|no more than|exactly|within \d+|under \d+)\b)",
    R"((?i)\b(?:in json|as json|format as|as a table|in markdown|bullet points)\b)",
};
constexpr int kCueCount = 6;

double Complexity(uint32_t tokens, int questions, bool code, int reasoning, int constraints) {
  const double length = std::min(1.0, std::log1p(tokens) / std::log1p(4000.0));
  const double multi_part = std::min(1.0, std::max(0, questions - 1) / 3.0);
  double score = 0.30 * length + 0.20 * multi_part + 0.25 * (reasoning / 3.0) +
                 0.10 * (code ? 1.0 : 0.0) + 0.15 * (constraints / 3.0);
  return std::clamp(score, 0.0, 1.0);
}

// Every PII pattern needs a digit or an '@': most prompts skip all regexes.
uint32_t Pii(absl::string_view text) {
  bool digit = false, at = false;
  for (char c : text) {
    digit |= static_cast<unsigned char>(c - '0') < 10;
    at |= c == '@';
  }
  uint32_t mask = 0;
  re2::StringPiece input(text.data(), text.size());
  if (at && RE2::PartialMatch(input, EmailRe())) mask |= kPiiEmail;
  if (!digit) return mask;
  if (RE2::PartialMatch(input, NationalIdRe())) mask |= kPiiNationalId;
  re2::StringPiece rest = input;
  std::string digits;
  while (RE2::FindAndConsume(&rest, CardRe(), &digits)) {
    if (LuhnValid(digits)) {
      mask |= kPiiCard;
      break;
    }
  }
  if (RE2::PartialMatch(input, PhoneRe())) mask |= kPiiPhone;
  return mask;
}

// The classifier's first `n` intents, most probable first.
std::array<uint8_t, kMaxClassifierIntents> ByProbability(const ClassifierOutput& out,
                                                         std::size_t n) {
  std::array<uint8_t, kMaxClassifierIntents> order;
  for (std::size_t k = 0; k < n; ++k) order[k] = static_cast<uint8_t>(k);
  const auto& p = out.intent_probability;
  std::sort(order.begin(), order.begin() + n, [&](uint8_t a, uint8_t b) { return p[a] > p[b]; });
  return order;
}

}  // namespace

bool LuhnValid(absl::string_view s) {
  int sum = 0, n = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (*it == ' ' || *it == '-') continue;
    if (*it < '0' || *it > '9') return false;
    int d = *it - '0';
    if (n % 2 == 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    ++n;
  }
  return n >= 13 && sum % 10 == 0;
}

std::vector<std::string> PiiKindNames(uint32_t mask) {
  std::vector<std::string> out;
  if (mask & kPiiEmail) out.push_back("email");
  if (mask & kPiiPhone) out.push_back("phone");
  if (mask & kPiiCard) out.push_back("card");
  if (mask & kPiiNationalId) out.push_back("national_id");
  return out;
}

PromptAnalyzer::PromptAnalyzer(const std::vector<IntentSpec>& intents,
                               std::shared_ptr<const LearnedClassifier> classifier,
                               double min_confidence)
    : classifier_(std::move(classifier)), min_confidence_(min_confidence) {
  for (const IntentSpec& intent : intents) intent_names_.push_back(intent.name);
  if (classifier_) {
    for (const std::string& name : classifier_->intents()) {
      int i = IntentIndex(name);
      if (i < 0) {
        i = static_cast<int>(intent_names_.size());
        intent_names_.push_back(name);
      }
      learned_index_.push_back(static_cast<uint8_t>(i));
    }
    general_chat_ = IntentIndex(kGeneralChatIntent);
  }
  signals_ = BuildSignalSet(&intents);
  conversation_ = BuildConversationSet(intents);
  if (signals_ == nullptr) {
    // Bundles are checked against pattern_limits.h when parsed, so this is a bundle that
    // bypassed the parser: route without its intents rather than fail every request.
    spdlog::error("intent_patterns_not_compiled intents={} reason=\"over RE2's memory budget\"",
                  intents.size());
    signals_ = BuildSignalSet(nullptr);
    conversation_ = nullptr;
  }
}

std::unique_ptr<RE2::Set> PromptAnalyzer::BuildSignalSet(const std::vector<IntentSpec>* intents) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kIntentSetMaxMemBytes);
  auto set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  for (const char* cue : kReasoningCues) set->Add(cue, nullptr);
  for (const char* cue : kConstraintCues) set->Add(cue, nullptr);
  if (intents != nullptr) {
    // An intent whose regex does not parse keeps its index and never matches.
    for (const IntentSpec& intent : *intents) {
      if (set->Add(IntentRegex(intent), nullptr) < 0) set->Add(R"(\b\B)", nullptr);
    }
  }
  // Matching an uncompiled set dereferences a program that is not there.
  if (!set->Compile()) return nullptr;
  return set;
}

std::unique_ptr<RE2::Set> PromptAnalyzer::BuildConversationSet(
    const std::vector<IntentSpec>& intents) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kIntentSetMaxMemBytes);
  auto set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  for (size_t i = 0; i < intents.size(); ++i) {
    if (intents[i].scope != IntentScope::kConversation) continue;
    if (set->Add(IntentRegex(intents[i]), nullptr) < 0) set->Add(R"(\b\B)", nullptr);
    conversation_intents_.push_back(static_cast<int>(i));
  }
  if (conversation_intents_.empty() || !set->Compile()) return nullptr;
  return set;
}

int PromptAnalyzer::IntentIndex(absl::string_view name) const {
  for (size_t i = 0; i < intent_names_.size(); ++i) {
    if (intent_names_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

uint32_t PromptAnalyzer::EstimatedTokens(const llmrouter::v1::Prompt& prompt) {
  return prompt.estimated_tokens() > 0 ? prompt.estimated_tokens()
                                       : EstimateTokens(prompt.excerpt());
}

PromptSignals PromptAnalyzer::Analyze(const llmrouter::v1::Prompt& prompt) const {
  return Analyze(prompt, EstimatedTokens(prompt));
}

uint32_t PromptAnalyzer::PiiMask(const llmrouter::v1::Prompt& prompt) {
  const absl::string_view excerpt = prompt.excerpt();
  uint32_t mask = Pii(excerpt);
  // A message cut out of the excerpt (a long history) is still searched for PII.
  if (!prompt.last_user_message().empty() && (prompt.truncated() || excerpt.empty())) {
    mask |= Pii(prompt.last_user_message());
  }
  return mask;
}

PromptSignals PromptAnalyzer::Analyze(const llmrouter::v1::Prompt& prompt,
                                      uint32_t estimated_tokens, bool with_pii) const {
  PromptSignals s;
  s.estimated_tokens = estimated_tokens;
  const absl::string_view excerpt = prompt.excerpt();
  const bool separate = !prompt.last_user_message().empty();
  const absl::string_view message = separate ? prompt.last_user_message() : excerpt;
  if (message.empty() && excerpt.empty()) return s;
  const MessageCues cues = MatchMessage(message, &s);
  if (separate) MatchConversation(excerpt, &s);
  s.complexity =
      Complexity(s.estimated_tokens, cues.questions, cues.code, cues.reasoning, cues.constraints);
  if (with_pii) s.pii_mask = PiiMask(prompt);
  for (std::size_t i = 0; i < intent_names_.size() && s.listed_count < s.listed.size(); ++i) {
    if (s.intent_mask & (uint64_t{1} << i)) {
      s.listed[s.listed_count++] = {static_cast<uint8_t>(i), 1.0f, IntentSource::kKeywords};
    }
  }
  // The learned classifier reads the last user message only.
  if (classifier_) {
    classifier_->Classify(message, &s.learned);
    s.classified = true;
    if (!s.learned.empty) s.complexity = s.learned.complexity;
    ListLearnedIntents(&s);
  }
  return s;
}

PromptAnalyzer::MessageCues PromptAnalyzer::MatchMessage(absl::string_view message,
                                                         PromptSignals* s) const {
  MessageCues cues;
  for (char c : message) cues.questions += c == '?';
  cues.code = message.find("```") != absl::string_view::npos;
  thread_local std::vector<int> hits;
  hits.clear();
  if (!signals_->Match(re2::StringPiece(message.data(), message.size()), &hits)) return cues;
  for (int i : hits) {
    if (i < 3) {
      ++cues.reasoning;
    } else if (i < kCueCount) {
      ++cues.constraints;
    } else {
      s->intent_mask |= uint64_t{1} << (i - kCueCount);
    }
  }
  return cues;
}

void PromptAnalyzer::MatchConversation(absl::string_view excerpt, PromptSignals* s) const {
  if (conversation_ == nullptr || excerpt.empty()) return;
  thread_local std::vector<int> hits;
  hits.clear();
  if (!conversation_->Match(re2::StringPiece(excerpt.data(), excerpt.size()), &hits)) return;
  for (int i : hits) s->intent_mask |= uint64_t{1} << conversation_intents_[i];
}

void PromptAnalyzer::ListLearnedIntents(PromptSignals* s) const {
  const std::size_t n = learned_index_.size();
  const std::array<uint8_t, kMaxClassifierIntents> order = ByProbability(s->learned, n);
  const auto& p = s->learned.intent_probability;
  const bool keywords_matched = s->listed_count > 0;
  for (std::size_t k = 0; k < n && !s->learned.empty; ++k) {
    if (p[order[k]] < min_confidence_ || s->listed_count == s->listed.size()) break;
    const uint8_t index = learned_index_[order[k]];
    if (s->intent_mask & (uint64_t{1} << index)) continue;  // a keyword match listed it first
    s->intent_mask |= uint64_t{1} << index;
    s->listed[s->listed_count++] = {index, p[order[k]], IntentSource::kClassifier};
  }
  if (s->listed_count == 0 && !keywords_matched && general_chat_ >= 0) {
    const int k = classifier_->IntentIndex(kGeneralChatIntent);
    s->intent_mask |= uint64_t{1} << general_chat_;
    s->listed[s->listed_count++] = {static_cast<uint8_t>(general_chat_),
                                    s->learned.empty ? 0.0f : p[k], IntentSource::kFallback};
  }
}

void PromptAnalyzer::Describe(const PromptSignals& s, bool every_intent,
                              llmrouter::v1::PromptAnalysis* out) const {
  out->set_estimated_tokens(s.estimated_tokens);
  out->set_complexity(s.complexity);
  out->set_complexity_band(ComplexityBand(s.complexity));
  out->set_analysed(true);
  for (std::string& kind : PiiKindNames(s.pii_mask)) out->add_pii_kinds(std::move(kind));
  static constexpr const char* kSource[] = {"keywords", "classifier", "fallback"};
  for (std::size_t k = 0; k < s.listed_count; ++k) {
    const ListedIntent& l = s.listed[k];
    out->add_intents(intent_names_[l.index]);
    llmrouter::v1::IntentConfidence* c = out->add_intent_confidences();
    c->set_intent(intent_names_[l.index]);
    c->set_confidence(l.confidence);
    c->set_source(kSource[static_cast<int>(l.source)]);
    c->set_listed(true);
  }
  if (!s.classified) return;
  out->set_reasoning(s.learned.reasoning);
  out->set_classifier_sha256(classifier_->sha256());
  if (!every_intent) return;
  const std::size_t n = learned_index_.size();
  const std::array<uint8_t, kMaxClassifierIntents> order = ByProbability(s.learned, n);
  const auto& p = s.learned.intent_probability;
  for (std::size_t k = 0; k < n; ++k) {
    const uint8_t index = learned_index_[order[k]];
    if (s.intent_mask & (uint64_t{1} << index)) continue;
    llmrouter::v1::IntentConfidence* c = out->add_intent_confidences();
    c->set_intent(intent_names_[index]);
    c->set_confidence(p[order[k]]);
    c->set_source("classifier");
  }
}

}  // namespace llmrouter::decision
