#include "services/inventory/prometheus_text.h"

#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace llmrouter::inventory {
namespace {

bool IsNameStart(char c) { return absl::ascii_isalpha(c) || c == '_' || c == ':'; }
bool IsNameChar(char c) { return IsNameStart(c) || absl::ascii_isdigit(c); }
bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// A cursor over one line.
class LineReader {
 public:
  explicit LineReader(absl::string_view line) : s_(line) {}

  void SkipBlanks() {
    while (pos_ < s_.size() && IsBlank(s_[pos_])) ++pos_;
  }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  bool Consume(char c) {
    if (Peek() != c || AtEnd()) return false;
    ++pos_;
    return true;
  }
  // A metric or label name; empty when none starts here. Label names may not contain ':',
  // but accepting it costs nothing and real exporters never write one.
  absl::string_view Name() {
    size_t start = pos_;
    if (AtEnd() || !IsNameStart(s_[pos_])) return {};
    while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // The next run of non-blank characters.
  absl::string_view Token() {
    size_t start = pos_;
    while (pos_ < s_.size() && !IsBlank(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  absl::string_view Rest() const { return s_.substr(std::min(pos_, s_.size())); }
  // A double-quoted label value with \\, \" and \n escapes; false when unterminated.
  bool QuotedValue(std::string* out) {
    if (!Consume('"')) return false;
    while (!AtEnd()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (AtEnd()) return false;
      char e = s_[pos_++];
      if (e == 'n') {
        out->push_back('\n');
      } else if (e == '\\' || e == '"') {
        out->push_back(e);
      } else {
        // Not a defined escape: keep it as written rather than lose the series.
        out->push_back('\\');
        out->push_back(e);
      }
    }
    return false;
  }

 private:
  absl::string_view s_;
  size_t pos_ = 0;
};

std::string UnescapeHelp(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == '\\')) {
      out.push_back(s[i + 1] == 'n' ? '\n' : '\\');
      ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::optional<double> ParseValue(absl::string_view token) {
  if (token.empty()) return std::nullopt;
  absl::string_view unsigned_part = token;
  bool negative = false;
  if (token[0] == '+' || token[0] == '-') {
    negative = token[0] == '-';
    unsigned_part = token.substr(1);
  }
  if (absl::EqualsIgnoreCase(unsigned_part, "inf") ||
      absl::EqualsIgnoreCase(unsigned_part, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (absl::EqualsIgnoreCase(unsigned_part, "nan")) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  double v = 0;
  // SimpleAtod would also take "0x1p3" and spaces; the format allows neither, but a value
  // that reads as a number is worth more to a scraper than a strict refusal.
  if (!absl::SimpleAtod(token, &v)) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseTimestamp(absl::string_view token) {
  int64_t ms = 0;
  if (absl::SimpleAtoi(token, &ms)) return ms;
  // OpenMetrics writes seconds with a fraction.
  double seconds = 0;
  if (absl::SimpleAtod(token, &seconds) && std::isfinite(seconds)) {
    return static_cast<int64_t>(std::llround(seconds * 1000));
  }
  return std::nullopt;
}

// Returns an error message, or empty on success.
std::string ParseSample(absl::string_view line, MetricSample* sample) {
  LineReader r(line);
  absl::string_view name = r.Name();
  if (name.empty()) return "expected a metric name";
  sample->name = std::string(name);
  r.SkipBlanks();
  if (r.Consume('{')) {
    while (true) {
      r.SkipBlanks();
      if (r.Consume('}')) break;
      absl::string_view label = r.Name();
      if (label.empty()) return absl::StrCat("expected a label name in ", sample->name);
      r.SkipBlanks();
      if (!r.Consume('=')) return absl::StrCat("expected '=' after label ", label);
      r.SkipBlanks();
      std::string value;
      if (!r.QuotedValue(&value)) {
        return absl::StrCat("label ", label, " needs a terminated double-quoted value");
      }
      sample->labels.emplace_back(std::string(label), std::move(value));
      r.SkipBlanks();
      if (r.Consume(',')) continue;
      if (r.Consume('}')) break;
      return absl::StrCat("expected ',' or '}' after label ", label);
    }
  }
  r.SkipBlanks();
  absl::string_view value_token = r.Token();
  std::optional<double> value = ParseValue(value_token);
  if (!value) return absl::StrCat("bad value \"", value_token, "\" for ", sample->name);
  sample->value = *value;
  r.SkipBlanks();
  if (r.AtEnd() || r.Peek() == '#') return {};  // '#' starts an OpenMetrics exemplar
  absl::string_view ts_token = r.Token();
  std::optional<int64_t> ts = ParseTimestamp(ts_token);
  if (!ts) return absl::StrCat("bad timestamp \"", ts_token, "\" for ", sample->name);
  sample->timestamp_ms = ts;
  r.SkipBlanks();
  if (!r.AtEnd() && r.Peek() != '#') {
    return absl::StrCat("unexpected text after the timestamp of ", sample->name);
  }
  return {};
}

void ParseComment(absl::string_view line, ParsedExposition* out) {
  LineReader r(line);
  r.Consume('#');
  r.SkipBlanks();
  absl::string_view keyword = r.Token();
  if (keyword != "HELP" && keyword != "TYPE") return;  // a plain comment (or # EOF)
  r.SkipBlanks();
  absl::string_view name = r.Name();
  if (name.empty()) return;
  // One blank separates the name from the text; the text itself keeps its spaces.
  if (IsBlank(r.Peek())) r.Consume(r.Peek());
  MetricFamilyInfo& family = out->families[name];
  if (keyword == "HELP") {
    family.help = UnescapeHelp(r.Rest());
  } else {
    family.type = std::string(absl::StripAsciiWhitespace(r.Rest()));
  }
}

}  // namespace

const std::string* MetricSample::Label(absl::string_view label) const {
  for (const auto& [k, v] : labels) {
    if (k == label) return &v;
  }
  return nullptr;
}

ParsedExposition ParsePrometheusText(absl::string_view text) {
  ParsedExposition out;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    absl::string_view line = text.substr(0, nl);
    text = nl == absl::string_view::npos ? absl::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = absl::StripLeadingAsciiWhitespace(line);
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (absl::StartsWith(line, "# EOF")) break;
      ParseComment(line, &out);
      continue;
    }
    MetricSample sample;
    std::string error = ParseSample(line, &sample);
    if (!error.empty()) {
      out.errors.push_back(absl::StrCat("line ", line_no, ": ", error));
      continue;
    }
    out.samples.push_back(std::move(sample));
  }
  return out;
}

}  // namespace llmrouter::inventory
