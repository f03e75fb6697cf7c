// UTF-8 helpers for cutting text to a byte budget without splitting a character.
#ifndef LLMROUTER_COMMON_UTF8_H_
#define LLMROUTER_COMMON_UTF8_H_

#include <cstddef>
#include <string_view>

namespace llmrouter {

// True for the second, third or fourth byte of a UTF-8 character.
inline bool IsUtf8Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The largest prefix length <= `n` that does not split a UTF-8 character of `text`.
inline std::size_t Utf8PrefixLength(std::string_view text, std::size_t n) {
  if (n >= text.size()) return text.size();
  while (n > 0 && IsUtf8Continuation(text[n])) --n;
  return n;
}

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_UTF8_H_
