// One-pass cl100k token estimate: mirrors the tokenizer's pre-tokenizer split and prices pieces by
// character class and length. The constants were fitted against gpt-tokenizer's counts on
// tests/data/tokenizer_corpus; the regex being mirrored is
//   's|'t|'re|'ve|'m|'ll|'d | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} | ?[^\s\p{L}\p{N}]+[\r\n]*
//   | \s*[\r\n]+ | \s+(?!\S) | \s+
#include "common/token_estimator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "common/utf8.h"

namespace llmrouter {
namespace {

enum class Kind : uint8_t { kLetter, kDigit, kSpace, kNewline, kPunct };

// Letter scripts, grouped by how finely cl100k splits them.
enum class Script : uint8_t {
  kAscii,     // a-z A-Z
  kLatin,     // accented and extended Latin
  kAlphabet,  // Cyrillic, Greek, Armenian, Georgian, Hebrew, Arabic: ~2-3 letters per token
  kHan,       // CJK ideographs: more than one token per character
  kKana,      // Hiragana and Katakana: about one token per character
  kHangul,    // Hangul syllables and jamo
  kOther,     // Indic, Thai and other scripts cl100k barely knows: a token or more per letter
};

struct CodePoint {
  Kind kind;
  Script script;   // for letters
  uint8_t length;  // bytes in the UTF-8 encoding (1 for an invalid byte)
  uint32_t value = 0;
};

constexpr CodePoint Letter(Script script, uint8_t length) {
  return {Kind::kLetter, script, length};
}

constexpr CodePoint Other(Kind kind, uint8_t length) { return {kind, Script::kOther, length}; }

// ä ö ü ß: German words carrying them are split finer than French or Spanish accented ones.
bool IsGermanLetter(uint32_t cp) {
  return cp == 0xE4 || cp == 0xF6 || cp == 0xFC || cp == 0xDF || cp == 0xC4 || cp == 0xD6 ||
         cp == 0xDC;
}

// і ї є ґ: Ukrainian, whose words cl100k splits finer than Russian ones.
bool IsUkrainianLetter(uint32_t cp) {
  return cp == 0x456 || cp == 0x457 || cp == 0x454 || cp == 0x491 || cp == 0x406 || cp == 0x407 ||
         cp == 0x404 || cp == 0x490;
}

// Kind of each ASCII byte: a table, since the scan looks at every byte at least once.
constexpr std::array<Kind, 128> kAsciiKind = [] {
  std::array<Kind, 128> kinds{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      kinds[c] = Kind::kLetter;
    } else if (c >= '0' && c <= '9') {
      kinds[c] = Kind::kDigit;
    } else if (c == '\n' || c == '\r') {
      kinds[c] = Kind::kNewline;
    } else if (c == ' ' || c == '\t' || c == '\v' || c == '\f') {
      kinds[c] = Kind::kSpace;
    } else {
      kinds[c] = Kind::kPunct;
    }
  }
  return kinds;
}();

bool IsAsciiLetter(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x80 && kAsciiKind[u] == Kind::kLetter;
}

// Classifies a non-ASCII code point by Unicode block; close enough to \p{L} / \p{N} / \s for the
// blocks prompts actually use.
CodePoint ClassifyNonAscii(uint32_t cp, uint8_t length) {
  if (cp < 0xC0) return Other(cp == 0xA0 ? Kind::kSpace : Kind::kPunct, length);
  if (cp < 0x370) {
    if (cp == 0xD7 || cp == 0xF7) return Other(Kind::kPunct, length);
    return Letter(Script::kLatin, length);
  }
  if (cp < 0x900) return Letter(Script::kAlphabet, length);   // Greek .. Arabic, Syriac
  if (cp < 0x10A0) return Letter(Script::kOther, length);     // Indic, Thai, Tibetan, Myanmar
  if (cp < 0x1100) return Letter(Script::kAlphabet, length);  // Georgian
  if (cp < 0x1200) return Letter(Script::kHangul, length);    // Hangul jamo
  if (cp < 0x1E00) return Letter(Script::kOther, length);
  if (cp < 0x1F00) return Letter(Script::kLatin, length);     // Latin Extended Additional
  if (cp < 0x2000) return Letter(Script::kAlphabet, length);  // Greek Extended
  if (cp <= 0x200A || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F) {
    return Other(Kind::kSpace, length);
  }
  if (cp < 0x3000) return Other(Kind::kPunct, length);  // punctuation, symbols, arrows, math
  if (cp == 0x3000) return Other(Kind::kSpace, length);
  if (cp == 0x3005) return Letter(Script::kHan, length);
  if (cp < 0x3040) return Other(Kind::kPunct, length);  // CJK punctuation
  if (cp < 0x3100) {
    return cp == 0x30FB ? Other(Kind::kPunct, length) : Letter(Script::kKana, length);
  }
  if (cp >= 0x3130 && cp < 0x3190) return Letter(Script::kHangul, length);
  if (cp < 0x3200) return Letter(Script::kHan, length);  // Bopomofo, Kanbun, CJK strokes
  if (cp < 0x3400) return Other(Kind::kPunct, length);   // enclosed and compatibility CJK
  if (cp < 0xA000) return Letter(Script::kHan, length);
  if (cp < 0xAC00) return Letter(Script::kOther, length);  // Yi, Vai, ...
  if (cp < 0xD800) return Letter(Script::kHangul, length);
  if (cp < 0xF900) return Other(Kind::kPunct, length);  // private use
  if (cp < 0xFB00) return Letter(Script::kHan, length);
  if (cp < 0xFF00) return Letter(Script::kAlphabet, length);  // presentation forms
  if ((cp >= 0xFF21 && cp <= 0xFF3A) || (cp >= 0xFF41 && cp <= 0xFF5A)) {
    return Letter(Script::kLatin, length);  // fullwidth Latin
  }
  if (cp >= 0xFF66 && cp <= 0xFF9F) return Letter(Script::kKana, length);
  if (cp >= 0xFFA0 && cp <= 0xFFDC) return Letter(Script::kHangul, length);
  if (cp < 0x10000) return Other(Kind::kPunct, length);
  if (cp >= 0x20000 && cp < 0x40000) return Letter(Script::kHan, length);
  return Other(Kind::kPunct, length);  // emoji and other symbols
}

CodePoint DecodeMultiByte(absl::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  uint8_t length;
  uint32_t cp;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    cp = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    cp = lead & 0x07;
  } else {
    return Other(Kind::kPunct, 1);
  }
  if (i + length > text.size()) return Other(Kind::kPunct, 1);
  for (uint8_t k = 1; k < length; ++k) {
    const auto c = static_cast<unsigned char>(text[i + k]);
    if ((c & 0xC0) != 0x80) return Other(Kind::kPunct, 1);
    cp = (cp << 6) | (c & 0x3F);
  }
  CodePoint decoded = ClassifyNonAscii(cp, length);
  decoded.value = cp;
  return decoded;
}

// The code point at text[i] (i < text.size()), with an inline fast path for ASCII.
inline CodePoint Decode(absl::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead < 0x80) return {kAsciiKind[lead], Script::kAscii, 1, lead};
  return DecodeMultiByte(text, i);
}

// Tokens of an ASCII word of `n` letters in English text; `spaced` when it carries a leading
// space (" word"), which cl100k's vocabulary favours.
double EnglishWordCost(size_t n, bool spaced) {
  static constexpr double kSpaced[] = {1.0,  1.0,  1.0,  1.0, 1.0, 1.0, 1.05, 1.08,
                                       1.15, 1.25, 1.35, 1.5, 1.8, 2.0, 2.2,  2.4};
  constexpr size_t kMax = sizeof(kSpaced) / sizeof(kSpaced[0]);
  double cost = n <= kMax ? kSpaced[n - 1] : kSpaced[kMax - 1] + 0.25 * (n - kMax);
  if (!spaced) cost += 0.1 + 0.1 * (n > 7 ? n - 7 : 0);
  return cost;
}

// The same in German text, where fewer whole words are in the vocabulary and compounds are long.
double GermanWordCost(size_t n, bool spaced) {
  static constexpr double kSpaced[] = {1.0, 1.0, 1.0, 1.1, 1.15, 1.6, 2.2, 2.6,
                                       2.9, 3.1, 3.3, 3.5, 3.7,  3.9, 4.2, 4.5};
  constexpr size_t kMax = sizeof(kSpaced) / sizeof(kSpaced[0]);
  double cost = n <= kMax ? kSpaced[n - 1] : kSpaced[kMax - 1] + 0.3 * (n - kMax);
  if (!spaced) cost += 0.15;
  return cost;
}

// The same in French, Spanish, Portuguese or Italian text.
double RomanceWordCost(size_t n, bool spaced) {
  static constexpr double kSpaced[] = {1.0,  1.0,  1.0, 1.16, 1.3, 1.65, 1.85, 2.1,
                                       2.25, 2.35, 2.5, 2.7,  2.9, 3.1,  3.3,  3.5};
  constexpr size_t kMax = sizeof(kSpaced) / sizeof(kSpaced[0]);
  double cost = n <= kMax ? kSpaced[n - 1] : kSpaced[kMax - 1] + 0.25 * (n - kMax);
  if (!spaced) cost += 0.15;
  return cost;
}

// Tokens of a Cyrillic (or Greek, Hebrew, Arabic ...) word of `n` letters: roots and endings are
// in the vocabulary, so growth slows for long words.
double AlphabetWordCost(size_t n) {
  static constexpr double kCost[] = {1.0, 1.2, 1.5, 2.4, 2.8, 2.9, 3.6, 4.1,
                                     4.4, 4.7, 4.9, 5.1, 5.4, 5.7, 6.0, 6.3};
  constexpr size_t kMax = sizeof(kCost) / sizeof(kCost[0]);
  return n <= kMax ? kCost[n - 1] : kCost[kMax - 1] + 0.3 * (n - kMax);
}

// Tokens of a run of `ascii` ASCII characters of punctuation and symbols: cl100k has tokens for
// most pairs and triples ("();", "->", "**").
double PunctuationCost(size_t ascii) {
  if (ascii == 0) return 0;
  return ascii <= 3 ? 1.0 : 1.0 + 0.35 * (ascii - 3);
}

// One non-ASCII punctuation mark or symbol: quotes, dashes and CJK marks are single tokens, emoji
// and rarer 4-byte symbols take two or more.
double NonAsciiSymbolCost(const CodePoint& c) { return c.length >= 4 ? 2.5 : 1.0; }

enum class Prefix : uint8_t { kNone, kSpace, kPunct };

// Running totals of one scan. Plain ASCII words are priced as English, German and Romance text
// and blended at the end by how many Latin words carried accents, and which; Cyrillic words by
// how many carried Ukrainian letters. Fixed-size: the scan allocates nothing.
struct Tally {
  double fixed = 0;
  // ASCII words priced as English, German and Romance-language text.
  double english_words = 0;
  double german_words = 0;
  double romance_words = 0;
  uint32_t plain_latin_words = 0;
  uint32_t accented_latin_words = 0;
  uint32_t german_accented_words = 0;  // with ä, ö, ü or ß
  // Cyrillic and other alphabets, priced as Russian-like text.
  double alphabet_words = 0;
  uint32_t alphabet_word_count = 0;
  uint32_t ukrainian_words = 0;

  void AddLetterRun(absl::string_view text, size_t& i, Prefix prefix) {
    size_t count[7] = {};
    size_t letters = 0;
    size_t ukrainian_letters = 0;
    size_t german_letters = 0;
    while (i < text.size()) {
      if (IsAsciiLetter(text[i])) {
        ++count[static_cast<int>(Script::kAscii)];
        ++letters;
        ++i;
        continue;
      }
      const CodePoint c = Decode(text, i);
      if (c.kind != Kind::kLetter) break;
      if (IsGermanLetter(c.value)) ++german_letters;
      if (IsUkrainianLetter(c.value)) ++ukrainian_letters;
      ++count[static_cast<int>(c.script)];
      ++letters;
      i += c.length;
    }
    const size_t ascii = count[static_cast<int>(Script::kAscii)];
    const size_t latin = count[static_cast<int>(Script::kLatin)];
    const size_t alphabet = count[static_cast<int>(Script::kAlphabet)];
    const double syllabic = 1.25 * count[static_cast<int>(Script::kHan)] +
                            0.95 * count[static_cast<int>(Script::kKana)] +
                            1.25 * count[static_cast<int>(Script::kHangul)] +
                            1.2 * count[static_cast<int>(Script::kOther)];
    if (syllabic > 0) {
      fixed += std::max(1.0, syllabic + 0.4 * (ascii + latin + alphabet));
    } else if (alphabet > 0) {
      alphabet_words += AlphabetWordCost(letters);
      ++alphabet_word_count;
      if (ukrainian_letters > 0) ++ukrainian_words;
    } else if (latin > 0) {
      fixed += std::max(1.0, german_letters > 0 ? 0.8 + 0.27 * letters : 0.9 + 0.18 * letters);
      ++accented_latin_words;
      if (german_letters > 0) ++german_accented_words;
    } else {
      const bool spaced = prefix == Prefix::kSpace;
      english_words += EnglishWordCost(letters, spaced);
      german_words += GermanWordCost(letters, spaced);
      romance_words += RomanceWordCost(letters, spaced);
      ++plain_latin_words;
    }
  }

  double Total() const {
    const uint32_t words = plain_latin_words + accented_latin_words;
    // German, French and Spanish prose has an accent in roughly every eighth word; English
    // (and code) almost never.
    const double accent_share = words == 0 ? 0 : double(accented_latin_words) / words;
    const double european = std::min(1.0, accent_share / 0.08);
    const double german =
        accented_latin_words == 0 ? 0 : double(german_accented_words) / accented_latin_words;
    const double european_words = romance_words + german * (german_words - romance_words);
    // About one Ukrainian word in four has one of its own letters; Russian none.
    const double ukrainian_share =
        alphabet_word_count == 0 ? 0 : double(ukrainian_words) / alphabet_word_count;
    const double ukrainian = std::min(1.0, ukrainian_share / 0.2);
    return fixed + english_words + european * (european_words - english_words) +
           alphabet_words * (1.0 + 0.2 * ukrainian);
  }
};

// Per-script weights of a text: its ASCII bytes (English prose is about four to a token, code
// and data fewer), and hundredths of a token for the other characters by the length of their
// encoding: 2 bytes (accented Latin, Cyrillic, Greek ...), 3 (Han, kana, Hangul: a token or more
// each) or 4 (emoji, rare Han); continuation bytes weigh nothing.
struct ScriptWeights {
  uint64_t ascii = 0;
  uint64_t other = 0;
};

constexpr uint64_t kLowBits = 0x0101010101010101ull;

// Sum of the eight byte lanes of `lanes` (each at most 255).
uint64_t SumLanes(uint64_t lanes) {
  const uint64_t pairs = (lanes & 0x00FF00FF00FF00FFull) + ((lanes >> 8) & 0x00FF00FF00FF00FFull);
  return (pairs * 0x0001000100010001ull) >> 48;
}

// Eight bytes at a time, without popcount (not in the baseline x86-64 instruction set): a
// byte's top bits say what it starts (0: ASCII, 110: a 2-byte character, 1110: 3 bytes,
// 11110: 4). Shifting the word left moves each byte's lower bits into its own top bit, so the
// masks never mix bytes; per-byte counters are summed every 255 words, before they overflow.
ScriptWeights WeighScripts(absl::string_view text) {
  uint64_t ascii = 0, lead2 = 0, lead3 = 0, lead4 = 0;  // lead2: >= 0xC0, lead3: >= 0xE0 ...
  size_t i = 0;
  while (i + 8 <= text.size()) {
    uint64_t a = 0, l2 = 0, l3 = 0, l4 = 0;
    for (int k = 0; k < 255 && i + 8 <= text.size(); ++k, i += 8) {
      uint64_t x;
      std::memcpy(&x, text.data() + i, 8);
      const uint64_t two = x & (x << 1);
      const uint64_t three = two & (x << 2);
      a += (~x >> 7) & kLowBits;
      l2 += (two >> 7) & kLowBits;
      l3 += (three >> 7) & kLowBits;
      l4 += ((three & (x << 3)) >> 7) & kLowBits;
    }
    ascii += SumLanes(a);
    lead2 += SumLanes(l2);
    lead3 += SumLanes(l3);
    lead4 += SumLanes(l4);
  }
  for (; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    ascii += b < 0x80;
    lead2 += b >= 0xC0;
    lead3 += b >= 0xE0;
    lead4 += b >= 0xF0;
  }
  return {ascii, (lead2 - lead3) * 45 + (lead3 - lead4) * 120 + lead4 * 250};
}

}  // namespace

void PromptTokenCounter::Add(absl::string_view text) {
  if (exact_used_ < exact_bytes_) {
    const absl::string_view exact =
        text.substr(0, Utf8PrefixLength({text.data(), text.size()}, exact_bytes_ - exact_used_));
    exact_used_ += exact.size();
    exact_tokens_ += EstimateTokens(exact);
    const ScriptWeights w = WeighScripts(exact);
    exact_ascii_ += w.ascii;
    exact_other_ += w.other;
    text.remove_prefix(exact.size());
    // A piece cut at the boundary leaves the rest to the weights, even a character or two.
    if (!text.empty()) exact_used_ = exact_bytes_;
  }
  if (text.empty()) return;
  const ScriptWeights w = WeighScripts(text);
  rest_ascii_ += w.ascii;
  rest_other_ += w.other;
}

uint32_t PromptTokenCounter::Total() const {
  double tokens = static_cast<double>(exact_tokens_);
  if (rest_ascii_ > 0 || rest_other_ > 0) {
    // ASCII text varies most (prose, code, JSON, numbers): its tokens per byte come from what
    // was estimated exactly, less what the other scripts' weights account for there, kept
    // between 1/8 and 1/2 (a quarter when nothing ASCII was estimated exactly).
    double per_ascii_byte = 0.25;
    if (exact_ascii_ > 0) {
      per_ascii_byte = std::clamp(
          (static_cast<double>(exact_tokens_) - exact_other_ / 100.0) / exact_ascii_, 0.125, 0.5);
    }
    tokens += per_ascii_byte * static_cast<double>(rest_ascii_) + rest_other_ / 100.0;
  }
  return static_cast<uint32_t>(std::min(tokens, 4294967295.0) + 0.5);
}

uint32_t EstimateTokens(absl::string_view text) {
  Tally tally;
  size_t i = 0;
  const size_t n = text.size();
  // Set when the previous piece handed its last character (a space or punctuation mark) to the
  // word that follows, as the pre-tokenizer's "[^\r\n\p{L}\p{N}]?\p{L}+" does.
  Prefix prefix = Prefix::kNone;
  while (i < n) {
    const CodePoint c = Decode(text, i);
    switch (c.kind) {
      case Kind::kLetter:
        tally.AddLetterRun(text, i, prefix);
        prefix = Prefix::kNone;
        break;
      case Kind::kDigit: {
        size_t digits = 0;
        while (i < n && text[i] >= '0' && text[i] <= '9') {
          ++digits;
          ++i;
        }
        tally.fixed += static_cast<double>((digits + 2) / 3);
        prefix = Prefix::kNone;
        break;
      }
      case Kind::kSpace:
      case Kind::kNewline: {
        // A whitespace run: everything up to its last newline is one piece; the spaces after it
        // (or the whole run, without a newline) are one piece, except that the last space joins
        // a following word or punctuation run and stands alone before a digit.
        size_t tail = 0;
        bool newline = false;
        bool ends_in_space = false;  // ' ' rather than a tab or other blank
        while (i < n) {
          const CodePoint w = Decode(text, i);
          if (w.kind == Kind::kNewline) {
            newline = true;
            tail = 0;
          } else if (w.kind == Kind::kSpace) {
            ++tail;
            ends_in_space = text[i] == ' ';
          } else {
            break;
          }
          i += w.length;
        }
        if (newline) tally.fixed += 1;
        prefix = Prefix::kNone;
        if (tail == 0) break;
        if (i == n) {
          tally.fixed += 1;
          break;
        }
        if (tail > 1) tally.fixed += 1;
        // Only a plain space merges with what follows; a tab before "}" or "if" is a token of
        // its own, and so is the space before a digit.
        if (ends_in_space && Decode(text, i).kind != Kind::kDigit) {
          prefix = Prefix::kSpace;
        } else {
          tally.fixed += 1;
        }
        break;
      }
      case Kind::kPunct: {
        // A punctuation run is one piece, with the space before it and the newlines right after
        // it; only a single mark with no space before it joins the word that follows (".map").
        const bool spaced = prefix == Prefix::kSpace;
        size_t marks = 0;
        size_t ascii = 0;
        double non_ascii = 0;
        while (i < n) {
          const CodePoint p = Decode(text, i);
          if (p.kind != Kind::kPunct) break;
          ++marks;
          if (static_cast<unsigned char>(text[i]) < 0x80) {
            ++ascii;
          } else {
            non_ascii += NonAsciiSymbolCost(p);
          }
          i += p.length;
        }
        if (marks == 1 && !spaced && i < n && Decode(text, i).kind == Kind::kLetter) {
          // A quote or dash glued to a word usually stays a token of its own.
          if (ascii == 0) tally.fixed += 0.7;
          prefix = Prefix::kPunct;
          break;
        }
        tally.fixed += PunctuationCost(ascii) + non_ascii;
        while (i < n && (text[i] == '\n' || text[i] == '\r')) ++i;
        prefix = Prefix::kNone;
        break;
      }
    }
  }
  if (n == 0) return 0;
  // Byte-level BPE never makes more tokens than bytes; the per-piece prices can, on junk.
  const double most = static_cast<double>(text.size());
  return std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(std::min(tally.Total(), most))));
}

}  // namespace llmrouter
