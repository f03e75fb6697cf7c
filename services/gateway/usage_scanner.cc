#include "services/gateway/usage_scanner.h"

#include <algorithm>
#include <limits>

namespace llmrouter::gateway {

namespace {

constexpr std::size_t kMaxEventBytes = 64 << 10;

// The unsigned number after `"key":` inside `object`, if any.
bool ReadCount(std::string_view object, std::string_view key, uint32_t* out) {
  std::string quoted = "\"" + std::string(key) + "\"";
  std::size_t at = object.find(quoted);
  if (at == std::string_view::npos) return false;
  at += quoted.size();
  while (at < object.size() && (object[at] == ' ' || object[at] == ':')) ++at;
  uint64_t n = 0;
  bool digits = false;
  while (at < object.size() && object[at] >= '0' && object[at] <= '9') {
    n = std::min<uint64_t>(n * 10 + (object[at] - '0'), std::numeric_limits<uint32_t>::max());
    ++at;
    digits = true;
  }
  if (digits) *out = static_cast<uint32_t>(n);
  return digits;
}

}  // namespace

TokenUsage FindUsage(std::string_view text) {
  TokenUsage usage;
  std::size_t at = text.rfind("\"usage\"");
  if (at == std::string_view::npos) return usage;
  std::size_t open = text.find_first_not_of(" :", at + 7);
  if (open == std::string_view::npos || text[open] != '{') return usage;  // null or absent
  std::size_t close = text.find('}', open);  // usage details nest one level at most
  std::string_view object =
      text.substr(open, close == std::string_view::npos ? close : close - open);
  // prompt_tokens_details {...} closes early; read across it.
  if (close != std::string_view::npos && object.find('{', 1) != std::string_view::npos) {
    std::size_t next = text.find('}', close + 1);
    object = text.substr(open, next == std::string_view::npos ? next : next - open);
  }
  bool prompt = ReadCount(object, "prompt_tokens", &usage.prompt_tokens);
  bool completion = ReadCount(object, "completion_tokens", &usage.completion_tokens);
  usage.found = prompt || completion;
  return usage;
}

void SseUsageScanner::Feed(std::string_view piece) {
  while (!piece.empty()) {
    std::size_t end = piece.find('\n');
    std::string_view line = piece.substr(0, end);
    if (!overflow_) {
      if (event_.size() + line.size() > kMaxEventBytes) {
        overflow_ = true;
        event_.clear();
      } else {
        event_.append(line);
      }
    }
    if (!line.empty()) {
      line_ = line_ == LineSoFar::kEmpty && line == "\r" ? LineSoFar::kCarriageReturn
                                                         : LineSoFar::kText;
    }
    if (end == std::string_view::npos) return;
    // A line ended: the event is complete when the line was blank (an event ends with "\n\n").
    const bool blank = line_ != LineSoFar::kText;
    line_ = LineSoFar::kEmpty;
    if (blank) {
      if (!overflow_ && event_.find("\"usage\"") != std::string::npos) {
        TokenUsage usage = FindUsage(event_);
        if (usage.found) usage_ = usage;
      }
      event_.clear();
      overflow_ = false;
    } else {
      event_.push_back('\n');
    }
    piece.remove_prefix(end + 1);
  }
}

}  // namespace llmrouter::gateway
