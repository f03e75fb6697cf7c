#include "services/decision/classifier_text.h"

#include <cstdint>

namespace llmrouter::decision {
namespace {

constexpr std::size_t kMaxPunctRun = 4;  // "```", "->", "==", "//" stay whole; longer runs split

// The code point at `s[*i]`, advancing `*i`; -1 for an invalid or truncated sequence (one byte
// consumed).
int32_t NextCodePoint(absl::string_view s, std::size_t* i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(*i);
  int len = 0;
  int32_t cp = 0;
  if (b < 0x80) {
    ++*i;
    return b;
  } else if ((b & 0xE0) == 0xC0) {
    len = 2, cp = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3, cp = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4, cp = b & 0x07;
  } else {
    ++*i;
    return -1;
  }
  if (*i + len > s.size()) {
    ++*i;
    return -1;
  }
  for (int k = 1; k < len; ++k) {
    const unsigned char c = byte(*i + k);
    if ((c & 0xC0) != 0x80) {
      ++*i;
      return -1;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  *i += len;
  static constexpr int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  return cp;
}

void AppendUtf8(int32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

enum class CharClass { kSpace, kWord, kPunct, kCjk };

// Scripts written without spaces between words: Han, Hiragana, Katakana.
bool IsCjk(int32_t cp) {
  return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x31F0 && cp <= 0x31FF) ||
         (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x2FFFF);
}

CharClass Classify(int32_t cp) {
  if (cp < 0x80) {
    if (cp <= ' ' || cp == 0x7F) return CharClass::kSpace;
    if ((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) {
      return CharClass::kWord;
    }
    return CharClass::kPunct;  // '_' included: no token can spell fastText's "__label__"
  }
  if (cp <= 0xA0 || cp == 0x2028 || cp == 0x2029 || cp == 0x3000 ||
      (cp >= 0x2000 && cp <= 0x200B) || cp == 0xFEFF) {
    return CharClass::kSpace;
  }
  if (IsCjk(cp)) return CharClass::kCjk;
  if ((cp >= 0xA1 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2010 && cp <= 0x2BFF) ||
      (cp >= 0x3001 && cp <= 0x303F) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
      (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0x1F000 && cp <= 0x1FAFF)) {
    return CharClass::kPunct;
  }
  return CharClass::kWord;  // letters of every other script, and their marks
}

// Lower case for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic; digits fold to '0'.
int32_t Fold(int32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp >= '0' && cp <= '9') return '0';
  if (cp < 0x80) return cp;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
  if (cp >= 0x100 && cp <= 0x17F && cp % 2 == 0 && cp != 0x138) return cp + 1;
  if (cp >= 0x391 && cp <= 0x3A9) return cp + 32;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
  return cp;
}

class Tokenizer {
 public:
  explicit Tokenizer(std::string* out) : out_(out) {}

  void Feed(absl::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
      int32_t cp = NextCodePoint(text, &i);
      if (cp < 0) continue;
      if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0;  // full-width ASCII forms
      Add(cp, Classify(cp));
    }
    Flush();
  }

 private:
  void Add(int32_t cp, CharClass cls) {
    if (cls != current_ || (cls == CharClass::kPunct && run_ == kMaxPunctRun)) Flush();
    switch (cls) {
      case CharClass::kSpace:
        return;
      case CharClass::kCjk:
        if (run_ > 0) {  // a bigram of the previous and this character
          Separate();
          AppendUtf8(previous_, out_);
          AppendUtf8(cp, out_);
        }
        previous_ = cp;
        break;
      case CharClass::kWord:
      case CharClass::kPunct:
        if (run_ == 0) Separate();
        AppendUtf8(Fold(cp), out_);
        break;
    }
    current_ = cls;
    ++run_;
  }

  void Flush() {
    if (current_ == CharClass::kCjk && run_ == 1) {  // a lone character is its own token
      Separate();
      AppendUtf8(previous_, out_);
    }
    current_ = CharClass::kSpace;
    run_ = 0;
  }

  void Separate() {
    if (!out_->empty()) out_->push_back(' ');
  }

  std::string* out_;
  CharClass current_ = CharClass::kSpace;
  std::size_t run_ = 0;
  int32_t previous_ = 0;
};

// The longest prefix of `s` of at most `n` bytes that does not end inside a UTF-8 sequence.
absl::string_view Head(absl::string_view s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// The longest suffix of at most `n` bytes that starts on a UTF-8 sequence.
absl::string_view Tail(absl::string_view s, std::size_t n) {
  if (s.size() <= n) return s;
  std::size_t start = s.size() - n;
  while (start < s.size() && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) ++start;
  return s.substr(start);
}

}  // namespace

void TokenizeForClassifier(absl::string_view text, std::string* out) {
  out->clear();
  Tokenizer(out).Feed(text);
}

void PrepareClassifierText(absl::string_view text, std::string* out) {
  out->clear();
  Tokenizer tokenizer(out);
  if (text.size() <= kClassifierHeadBytes + kClassifierTailBytes) {
    tokenizer.Feed(text);
    return;
  }
  tokenizer.Feed(Head(text, kClassifierHeadBytes));  // ends its last token
  tokenizer.Feed(Tail(text, kClassifierTailBytes));
}

}  // namespace llmrouter::decision
