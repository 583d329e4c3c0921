// is_blank (core/reason.cpp): what counts as a reason that says nothing.
#include "rulekeeper/reason.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

using rulekeeper::is_blank;

namespace {

std::string utf8(std::uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

}  // namespace

TEST(Reason, EmptyIsBlank) { EXPECT_TRUE(is_blank("")); }

TEST(Reason, EachInvisibleCharacterAloneAndRepeatedIsBlank) {
  const std::uint32_t invisible[] = {
      0x09,   0x0A,   0x0B,   0x0C,   0x0D,   0x20,    0x01,    0x1F,    0x7F,    0x85,    0xA0,    0xAD,
      0x34F,  0x61C,  0x115F, 0x1160, 0x1680, 0x17B4,  0x180E,  0x2000,  0x2001,  0x2002,  0x2003,  0x2004,
      0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,  0x200B,  0x200C,  0x200D,  0x200E,  0x200F,  0x2028,
      0x2029, 0x202A, 0x202E, 0x202F, 0x205F, 0x2060,  0x2064,  0x2066,  0x2069,  0x206F,  0x2800,  0x3000,
      0x3164, 0xFE00, 0xFE0F, 0xFEFF, 0xFFA0, 0x1BCA0, 0x1D173, 0xE0001, 0xE0020, 0xE007F, 0xE0100, 0xE01EF,
  };
  for (std::uint32_t cp : invisible) {
    SCOPED_TRACE(cp);
    EXPECT_TRUE(is_blank(utf8(cp)));
    EXPECT_TRUE(is_blank(utf8(cp) + " " + utf8(cp) + "\t"));
  }
}

TEST(Reason, AnyVisibleCharacterMakesItNotBlank) {
  EXPECT_FALSE(is_blank("x"));
  EXPECT_FALSE(is_blank(" \t\n x \u3000"));
  EXPECT_FALSE(is_blank("\u200B."));
  EXPECT_FALSE(is_blank("\u00A0\u00E9"));  // é
  EXPECT_FALSE(is_blank("\u65E5"));        // 日
  EXPECT_FALSE(is_blank(utf8(0x1F600)));   // an emoji
  EXPECT_FALSE(is_blank(utf8(0x2011)));    // non-breaking hyphen
  // Neighbours of the invisible ranges are visible.
  for (std::uint32_t cp : {0x21u, 0x7Eu, 0xA1u, 0xACu, 0xAEu, 0x1681u, 0x2010u, 0x2027u, 0x2030u, 0x205Eu, 0x2070u,
                           0x2801u, 0x3001u, 0xFE10u, 0xFEFEu, 0xFF01u, 0xFFFDu})
    EXPECT_FALSE(is_blank(utf8(cp))) << cp;
}

TEST(Reason, InvalidUtf8CountsAsVisible) {
  EXPECT_FALSE(is_blank(std::string("\xFF")));
  EXPECT_FALSE(is_blank(std::string(" \xE2\x80")));         // truncated U+200B
  EXPECT_FALSE(is_blank(std::string("\xC0\xA0")));          // overlong space
  EXPECT_FALSE(is_blank(std::string("\xED\xA0\x80")));      // a surrogate
  EXPECT_FALSE(is_blank(std::string("\xF4\x90\x80\x80")));  // past U+10FFFF
}
