// Whether a reason is blank (include/rulekeeper/reason.hpp). The one check
// behind every function that takes a reason (rulekeeper._require_reason in
// SQL, rulectl's own check before it sends one), so that they cannot
// disagree about what "blank" means.
#include "rulekeeper/reason.hpp"

#include <cstdint>

namespace rulekeeper {
namespace {

struct Range {
  std::uint32_t first;
  std::uint32_t last;
};

// Code points that print as nothing, in order: Unicode 15's White_Space
// (PropList.txt), the control characters (Cc), Default_Ignorable_Code_Point
// (DerivedCoreProperties.txt) and U+2800 BRAILLE PATTERN BLANK.
constexpr Range kInvisible[] = {
    {0x0000, 0x0020},    // C0 controls (tab, newline, ... ) and space
    {0x007F, 0x00A0},    // DEL, C1 controls (U+0085 NEL), no-break space
    {0x00AD, 0x00AD},    // soft hyphen
    {0x034F, 0x034F},    // combining grapheme joiner
    {0x061C, 0x061C},    // Arabic letter mark
    {0x115F, 0x1160},    // Hangul choseong/jungseong fillers
    {0x1680, 0x1680},    // Ogham space mark
    {0x17B4, 0x17B5},    // Khmer inherent vowels
    {0x180B, 0x180F},    // Mongolian variation selectors, U+180E vowel separator
    {0x2000, 0x200F},    // en quad .. hair space, zero-width space/non-joiner/joiner, LRM, RLM
    {0x2028, 0x202F},    // line/paragraph separators, bidi embeddings, narrow no-break space
    {0x205F, 0x206F},    // medium mathematical space, word joiner, invisible operators, bidi isolates
    {0x2800, 0x2800},    // braille pattern blank
    {0x3000, 0x3000},    // ideographic space
    {0x3164, 0x3164},    // Hangul filler
    {0xFE00, 0xFE0F},    // variation selectors
    {0xFEFF, 0xFEFF},    // zero-width no-break space (byte order mark)
    {0xFFA0, 0xFFA0},    // halfwidth Hangul filler
    {0xFFF0, 0xFFF8},    // unassigned, default ignorable
    {0x1BCA0, 0x1BCA3},  // shorthand format controls
    {0x1D173, 0x1D17A},  // musical symbol format controls
    {0xE0000, 0xE0FFF},  // tags, variation selectors supplement
};

bool invisible(std::uint32_t cp) {
  for (const Range& r : kInvisible) {
    if (cp < r.first) return false;
    if (cp <= r.last) return true;
  }
  return false;
}

// Decodes the code point at s[i] (advancing i); false for an invalid or
// truncated sequence, an overlong form or a surrogate.
bool next_code_point(std::string_view s, std::size_t& i, std::uint32_t& cp) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
  const std::uint8_t b0 = byte(i);
  std::size_t n = 0;
  std::uint32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    i += 1;
    return true;
  } else if ((b0 & 0xE0) == 0xC0) {
    n = 1, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 2, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 3, cp = b0 & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (n >= s.size() - i) return false;  // truncated: s[i + n] is past the end
  for (std::size_t k = 1; k <= n; ++k) {
    const std::uint8_t b = byte(i + k);
    if ((b & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  i += n + 1;
  return true;
}

}  // namespace

bool is_blank(std::string_view utf8) {
  std::size_t i = 0;
  while (i < utf8.size()) {
    std::uint32_t cp = 0;
    if (!next_code_point(utf8, i, cp)) return false;  // not text we can read: not blank
    if (!invisible(cp)) return false;
  }
  return true;
}

}  // namespace rulekeeper
