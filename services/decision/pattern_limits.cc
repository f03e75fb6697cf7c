#include "services/decision/pattern_limits.h"

#include <re2/re2.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/utf8.h"

namespace llmrouter::decision {
namespace {

// RE2's \b is ASCII-only. These guards stand for a Unicode word boundary on one side of a
// keyword: the start or end of the text, or any character that is not a letter, a digit or '_'.
// Each compiles to about 1,350 instructions (\pL is hundreds of ranges), so keywords are
// grouped by the guards they need rather than guarded one by one.
constexpr char kLeftGuard[] = R"((?:^|[^\pL\pN_]))";
constexpr char kRightGuard[] = R"((?:$|[^\pL\pN_]))";

// What one end of a keyword needs from its neighbour in the text.
enum class Edge { kBoundary, kNone };

// The first (or last) character of `keyword`, as UTF-8 bytes.
absl::string_view EdgeCharacter(absl::string_view keyword, bool first) {
  if (keyword.empty()) return keyword;
  size_t start = 0, end = keyword.size();
  if (first) {
    end = 1;
    while (end < keyword.size() && IsUtf8Continuation(keyword[end])) ++end;
  } else {
    start = keyword.size() - 1;
    while (start > 0 && IsUtf8Continuation(keyword[start])) --start;
  }
  return keyword.substr(start, end - start);
}

// A word character needs a boundary on its side; punctuation needs none (so that "c++" and
// ".net" match), and neither do Han, Hiragana and Katakana, which are written without spaces:
// a CJK keyword matches inside a sentence.
Edge EdgeOf(absl::string_view keyword, bool first) {
  static const RE2* word = new RE2(R"([\pL\pN_])");
  static const RE2* cjk = new RE2(R"([\p{Han}\p{Hiragana}\p{Katakana}])");
  const absl::string_view c = EdgeCharacter(keyword, first);
  const re2::StringPiece piece(c.data(), c.size());
  if (!RE2::FullMatch(piece, *word) || RE2::FullMatch(piece, *cjk)) return Edge::kNone;
  return Edge::kBoundary;
}

}  // namespace

std::string KeywordsRegex(const std::vector<std::string>& keywords) {
  // Index: 2 * (left edge needs a boundary) + (right edge needs one).
  std::vector<std::string> groups[4];
  for (const std::string& k : keywords) {
    const int left = EdgeOf(k, /*first=*/true) == Edge::kBoundary;
    const int right = EdgeOf(k, /*first=*/false) == Edge::kBoundary;
    groups[2 * left + right].push_back(RE2::QuoteMeta(k));
  }
  std::vector<std::string> alternatives;
  for (int g = 0; g < 4; ++g) {
    if (groups[g].empty()) continue;
    alternatives.push_back(absl::StrCat(g >= 2 ? kLeftGuard : "",
                                        "(?:", absl::StrJoin(groups[g], "|"), ")",
                                        g % 2 == 1 ? kRightGuard : ""));
  }
  return absl::StrCat("(?i)(?:", absl::StrJoin(alternatives, "|"), ")");
}

absl::Status CheckPattern(const std::string& pattern) {
  RE2 re(pattern, RE2::Quiet);
  if (!re.ok())
    return absl::InvalidArgumentError(absl::StrCat("invalid RE2 pattern: ", re.error()));
  if (re.ProgramSize() > kMaxPatternProgramSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pattern compiles to ", re.ProgramSize(), " RE2 instructions; the limit is ",
        kMaxPatternProgramSize, " (bounded repeats such as {0,100} multiply what they follow)"));
  }
  return absl::OkStatus();
}

std::string IntentRegex(const IntentSpec& intent) {
  std::vector<std::string> alternatives;
  if (!intent.keywords.empty()) alternatives.push_back(KeywordsRegex(intent.keywords));
  for (const std::string& p : intent.patterns) alternatives.push_back(absl::StrCat("(?:", p, ")"));
  return absl::StrJoin(alternatives, "|");
}

IntentsProgramSize MeasureIntents(const std::vector<IntentSpec>& intents) {
  IntentsProgramSize out;
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kIntentSetMaxMemBytes);
  for (size_t i = 0; i < intents.size(); ++i) {
    RE2 re(IntentRegex(intents[i]), options);
    // A pattern that does not compile is reported where it is written; it adds nothing here.
    if (!re.ok()) continue;
    out.size += re.ProgramSize();
    if (out.size > kMaxIntentsProgramSize) {
      out.first_over = static_cast<int>(i);
      return out;
    }
  }
  return out;
}

}  // namespace llmrouter::decision
