// Internal to core/: UTF-8 decoding and the UTF-16 code-unit view of a string
// that RFC 8785 orders object members by. Shared by canonical_json.cpp (member
// order of the JCS text) and json_diff.cpp (order of the diff entries), so the
// two can never disagree.
#pragma once
#include "rulekeeper/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace rulekeeper::detail {

// Decodes one UTF-8 sequence at s[i] and advances i. Values from parse_json
// are already valid; this guards JsonValues built by hand, because JCS is
// defined only over valid Unicode.
inline std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
  auto bad = [&]() -> std::uint32_t {
    throw Error(ErrorKind::invalid_json,
                "invalid JSON: invalid UTF-8 in a string at byte offset " + std::to_string(i) + " of that string");
  };
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = b(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len;
  std::uint32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return bad();
  }
  if (s.size() - i < static_cast<std::size_t>(len)) return bad();
  for (int k = 1; k < len; ++k) {
    unsigned char c = b(i + static_cast<std::size_t>(k));
    if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return bad();
    cp = (cp << 6) | (c & 0x3Fu);
  }
  i += static_cast<std::size_t>(len);
  return cp;
}

// RFC 8785 section 3.2.3: members are ordered by their names as arrays of
// UTF-16 code units. This differs from UTF-8 byte (= code point) order for
// supplementary characters, whose surrogates (D800..DFFF) sort below
// U+E000..U+FFFF. Compare the results with operator<.
inline std::u16string to_utf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = next_code_point(s, i);
    if (cp < 0x10000) {
      out += static_cast<char16_t>(cp);
    } else {
      cp -= 0x10000;
      out += static_cast<char16_t>(0xD800 + (cp >> 10));
      out += static_cast<char16_t>(0xDC00 + (cp & 0x3FF));
    }
  }
  return out;
}

}  // namespace rulekeeper::detail
