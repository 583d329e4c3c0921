// Tests of core/canonical_json.cpp against RFC 8785: the section 3.2.2
// example, the section 3.2.3 sort example, the Appendix B number table, and
// rulekeeper's exactness rule for numbers (docs/design/contract.md "Checksums").
#include "rulekeeper/canonical_json.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

using namespace rulekeeper;
using rulekeeper::testing::throws_error;

namespace {

double from_bits(std::uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

std::string canon_number(const std::string& literal) {
  std::string out = canonicalize_text("[" + literal + "]");
  return out.substr(1, out.size() - 2);
}

}  // namespace

// RFC 8785 section 3.2.2. The RFC's input writes 333333333.33333329, which is
// not numerically equal to the double it denotes (333333333.3333333), so
// rulekeeper refuses it; the same object written with the exact literal
// canonicalizes to the RFC's output byte for byte.
TEST(CanonicalJson, Rfc8785Section322Example) {
  const std::string rfc_input = R"({
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
})";
  const std::string expected =
      "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
      "\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
  EXPECT_TRUE(throws_error([&] { canonicalize_text(rfc_input); }, ErrorKind::inexact_number,
                           "number 333333333.33333329 cannot be represented exactly"));
  std::string exact_input = rfc_input;
  exact_input.replace(exact_input.find("333333333.33333329"), 18, "333333333.3333333");
  EXPECT_EQ(canonicalize_text(exact_input), expected);
  // The RFC's own number still formats as the RFC says once it is a double.
  EXPECT_EQ(format_jcs_number(333333333.33333329), "333333333.3333333");
}

// RFC 8785 section 3.2.3: names sort as UTF-16 code units.
TEST(CanonicalJson, Rfc8785Section323SortExample) {
  const std::string input = R"({
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
})";
  const std::string expected =
      "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xC2\x80\":\"Control\","
      "\"\xC3\xB6\":\"Latin Small Letter O With Diaeresis\",\"\xE2\x82\xAC\":\"Euro Sign\","
      "\"\xF0\x9F\x98\x80\":\"Emoji: Grinning Face\",\"\xEF\xAC\xB3\":\"Hebrew Letter Dalet With Dagesh\"}";
  EXPECT_EQ(canonicalize_text(input), expected);
}

// U+1F600 is D83D DE00 in UTF-16; D83D < E000, so it sorts before U+E000 and
// U+FB33 although its code point (and UTF-8 bytes F0..) are larger.
TEST(CanonicalJson, SortsByUtf16NotByCodePoint) {
  EXPECT_EQ(canonicalize_text(R"({"\uE000":1,"\uD83D\uDE00":2})"), "{\"\xF0\x9F\x98\x80\":2,\"\xEE\x80\x80\":1}");
  EXPECT_EQ(canonicalize_text(R"({"\uFB33":1,"\uD83D\uDE00":2,"z":3,"\uD7FF":4})"),
            "{\"z\":3,\"\xED\x9F\xBF\":4,\"\xF0\x9F\x98\x80\":2,\"\xEF\xAC\xB3\":1}");
  // A prefix sorts first; comparison is by code unit, not by length.
  EXPECT_EQ(canonicalize_text(R"({"ab":1,"a":2,"b":3,"":4,"B":5})"), "{\"\":4,\"B\":5,\"a\":2,\"ab\":1,\"b\":3}");
}

TEST(CanonicalJson, NoWhitespaceAndRecursiveSorting) {
  EXPECT_EQ(canonicalize_text(" { \"b\" : [ 3 , { \"y\" : 1 , \"x\" : 2 } ] ,\n\"a\" : { } , \"c\":[ ] } "),
            "{\"a\":{},\"b\":[3,{\"x\":2,\"y\":1}],\"c\":[]}");
  EXPECT_EQ(canonicalize_text("[3,1,2]"), "[3,1,2]");  // arrays keep their order
  EXPECT_EQ(canonicalize_text("null"), "null");
  EXPECT_EQ(canonicalize_text(" true "), "true");
  EXPECT_EQ(canonicalize_text("\"x\""), "\"x\"");
}

TEST(CanonicalJson, StringEscaping) {
  // Short escapes where JCS has them, \u00xx lowercase for other controls.
  EXPECT_EQ(canonicalize_text(R"("\u0000\u0001\u001F\b\f\n\r\t\u000B\"\\")"),
            R"("\u0000\u0001\u001f\b\f\n\r\t\u000b\"\\")");
  // '/' , DEL, non-ASCII, U+2028/U+2029 and escaped ASCII come out raw.
  EXPECT_EQ(canonicalize_text(R"("\/a\u007f\u00e9\u2028\u2029\u0041\ud83d\ude00")"),
            "\"/a\x7F\xC3\xA9\xE2\x80\xA8\xE2\x80\xA9"
            "A\xF0\x9F\x98\x80\"");
  EXPECT_EQ(canonicalize_text("\"caf\xC3\xA9\""), "\"caf\xC3\xA9\"");
  // Names are escaped the same way.
  EXPECT_EQ(canonicalize_text(R"({"a\nb":1})"), R"({"a\nb":1})");
}

struct NumberCase {
  const char* literal;
  const char* canonical;
};

TEST(CanonicalJson, ExactNumberLiterals) {
  const NumberCase cases[] = {
      {"0", "0"},
      {"-0", "0"},
      {"-0.0", "0"},
      {"0.0", "0"},
      {"0e10", "0"},
      {"-0E-5", "0"},
      {"0e-400", "0"},
      {"0.000e99999999999999999999", "0"},
      {"1", "1"},
      {"1.0", "1"},
      {"1e0", "1"},
      {"10e-1", "1"},
      {"0.1", "0.1"},
      {"1E2", "100"},
      {"-1.5", "-1.5"},
      {"4.5", "4.5"},
      {"4.50", "4.5"},
      {"0.002", "0.002"},
      {"2e-3", "0.002"},
      {"1e21", "1e+21"},
      {"1E21", "1e+21"},
      {"1e+21", "1e+21"},
      {"1e20", "100000000000000000000"},
      {"123456789012345680000", "123456789012345680000"},
      {"1e30", "1e+30"},
      {"1E30", "1e+30"},
      {"0.000001", "0.000001"},
      {"1e-6", "0.000001"},
      {"0.0000001", "1e-7"},
      {"1e-7", "1e-7"},
      {"0.00001", "0.00001"},
      {"123e-20", "1.23e-18"},
      {"-1.23e-18", "-1.23e-18"},
      {"0.000000000000000000000000001", "1e-27"},
      {"9007199254740992", "9007199254740992"},
      {"-9007199254740992", "-9007199254740992"},
      {"5e-324", "5e-324"},
      {"-5e-324", "-5e-324"},
      {"1.7976931348623157e308", "1.7976931348623157e+308"},
      {"333333333.3333333", "333333333.3333333"},
      {"1424953923781206.2", "1424953923781206.2"},
      {"295147905179352830000", "295147905179352830000"},
      {"1e23", "1e+23"},
      {"9.999999999999997e22", "9.999999999999997e+22"},
      {"100000000000000000000000", "1e+23"},
      {"0.30000000000000004", "0.30000000000000004"},
  };
  for (const auto& c : cases) EXPECT_EQ(canon_number(c.literal), c.canonical) << c.literal;
}

TEST(CanonicalJson, InexactNumbersAreRefusedWithAHint) {
  try {
    canonicalize_text(R"({"limit": 9007199254740993})");
    FAIL() << "did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::inexact_number);
    EXPECT_STREQ(e.what(),
                 "number 9007199254740993 cannot be represented exactly as an IEEE-754 double (JCS, RFC 8785)");
    EXPECT_EQ(e.hint(), "store it as a string, e.g. \"9007199254740993\"");
  }
  for (const char* lit :
       {"9007199254740993", "-9007199254740993", "0.1000000000000000055511151231257827", "0.30000000000000001", "1e400",
        "-1e400", "1.7976931348623159e308", "1e-400", "-1e-400", "2e-324", "333333333.33333329",
        "123456789012345678901", "1e99999999999999999999", "1.00000000000000000000000000000000000001"}) {
    EXPECT_TRUE(throws_error([&] { canon_number(lit); }, ErrorKind::inexact_number,
                             std::string("number ") + lit + " cannot be represented exactly"))
        << lit;
  }
}

TEST(CanonicalJson, LongInexactLiteralIsShortenedInTheMessage) {
  std::string lit = "1." + std::string(200, '1');
  try {
    canon_number(lit);
    FAIL() << "did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::inexact_number);
    EXPECT_NE(std::string(e.what()).find("..."), std::string::npos);
    EXPECT_LT(std::string(e.what()).size(), 200u);
  }
}

// RFC 8785 Appendix B: IEEE-754 bit patterns and their JCS text.
TEST(CanonicalJson, Rfc8785AppendixB) {
  const std::pair<std::uint64_t, const char*> cases[] = {
      {0x0000000000000000, "0"},
      {0x8000000000000000, "0"},
      {0x0000000000000001, "5e-324"},
      {0x8000000000000001, "-5e-324"},
      {0x7fefffffffffffff, "1.7976931348623157e+308"},
      {0xffefffffffffffff, "-1.7976931348623157e+308"},
      {0x4340000000000000, "9007199254740992"},
      {0xc340000000000000, "-9007199254740992"},
      {0x4430000000000000, "295147905179352830000"},
      {0x44b52d02c7e14af5, "9.999999999999997e+22"},
      {0x44b52d02c7e14af6, "1e+23"},
      {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
      {0x444b1ae4d6e2ef4e, "999999999999999700000"},
      {0x444b1ae4d6e2ef4f, "999999999999999900000"},
      {0x444b1ae4d6e2ef50, "1e+21"},
      {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
      {0x3eb0c6f7a0b5ed8d, "0.000001"},
      {0x41b3de4355555553, "333333333.3333332"},
      {0x41b3de4355555554, "333333333.33333325"},
      {0x41b3de4355555555, "333333333.3333333"},
      {0x41b3de4355555556, "333333333.3333334"},
      {0x41b3de4355555557, "333333333.33333343"},
      {0xbecbf647612f3696, "-0.0000033333333333333333"},
      {0x43143ff3c1cb0959, "1424953923781206.2"},
  };
  for (const auto& [bits, text] : cases) EXPECT_EQ(format_jcs_number(from_bits(bits)), text) << std::hex << bits;
}

TEST(CanonicalJson, FormatBoundaries) {
  EXPECT_EQ(format_jcs_number(-0.0), "0");
  EXPECT_EQ(format_jcs_number(1e21), "1e+21");
  EXPECT_EQ(format_jcs_number(1e20), "100000000000000000000");
  EXPECT_EQ(format_jcs_number(1.5e20), "150000000000000000000");
  EXPECT_EQ(format_jcs_number(1e-6), "0.000001");
  EXPECT_EQ(format_jcs_number(1.5e-6), "0.0000015");
  EXPECT_EQ(format_jcs_number(1e-7), "1e-7");
  EXPECT_EQ(format_jcs_number(1.25e-7), "1.25e-7");
  EXPECT_EQ(format_jcs_number(123.456), "123.456");
  EXPECT_EQ(format_jcs_number(0.5), "0.5");
  EXPECT_EQ(format_jcs_number(-2.5e100), "-2.5e+100");
  EXPECT_EQ(format_jcs_number(std::numeric_limits<double>::min()), "2.2250738585072014e-308");
}

TEST(CanonicalJson, NonFiniteNumbersHaveNoForm) {
  EXPECT_TRUE(throws_error([] { format_jcs_number(std::numeric_limits<double>::quiet_NaN()); },
                           ErrorKind::invalid_input, "NaN or Infinity"));
  EXPECT_TRUE(throws_error([] { format_jcs_number(std::numeric_limits<double>::infinity()); }, ErrorKind::invalid_input,
                           "NaN or Infinity"));
  EXPECT_TRUE(throws_error([] { format_jcs_number(-std::numeric_limits<double>::infinity()); },
                           ErrorKind::invalid_input, "NaN or Infinity"));
}

TEST(CanonicalJson, Idempotent) {
  const char* docs[] = {
      R"({"b":[1.0,2e-3,{"z":"\u00e9","a":null}],"a":"\ud83d\ude00","\uE000":1E21})",
      R"([[],{},"",0,-0,true,false,null])",
  };
  for (const char* d : docs) {
    std::string once = canonicalize_text(d);
    EXPECT_EQ(canonicalize_text(once), once);
  }
}

TEST(CanonicalJson, ParseErrorsPassThrough) {
  EXPECT_TRUE(
      throws_error([] { canonicalize_text("{\"a\":1,\"a\":1}"); }, ErrorKind::invalid_json, "duplicate object key"));
  EXPECT_TRUE(throws_error([] { canonicalize_text("[1,]"); }, ErrorKind::invalid_json, "byte offset 3"));
}

// canonicalize() also guards values built by hand, not by parse_json.
TEST(CanonicalJson, HandBuiltValuesAreChecked) {
  JsonValue num;
  num.type = JsonValue::Type::number;
  for (const char* bad : {"inf", "nan", "0x10", "+1", "1.", ".5", "01", ""}) {
    num.text = bad;
    EXPECT_TRUE(throws_error([&] { canonicalize(num); }, ErrorKind::invalid_json, "is not a JSON number")) << bad;
  }
  JsonValue str;
  str.type = JsonValue::Type::string;
  str.text = "\xC0\xAF";
  EXPECT_TRUE(throws_error([&] { canonicalize(str); }, ErrorKind::invalid_json, "invalid UTF-8"));

  JsonValue obj;
  obj.type = JsonValue::Type::object;
  JsonValue one;
  one.type = JsonValue::Type::number;
  one.text = "1";
  obj.members = {{"a", one}, {"a", one}};
  EXPECT_TRUE(throws_error([&] { canonicalize(obj); }, ErrorKind::invalid_json, "duplicate object key \"a\""));
  obj.members = {{"b", one}, {"a", one}};
  EXPECT_EQ(canonicalize(obj), "{\"a\":1,\"b\":1}");
}

// The small-integer fast path must give what the general path gives: the
// literal itself up to 15 digits, "-0" as 0, and anything longer or with a
// leading zero through the exactness check.
TEST(CanonicalJson, SmallIntegerFastPathAgreesWithTheGeneralRule) {
  const NumberCase cases[] = {
      {"7", "7"},
      {"-7", "-7"},
      {"-0", "0"},
      {"999999999999999", "999999999999999"},
      {"-999999999999999", "-999999999999999"},
      {"1000000000000000", "1000000000000000"},
      {"9007199254740993", nullptr},
      {"12345678901234567890", nullptr},
  };
  for (const auto& c : cases) {
    std::string out;
    if (c.canonical == nullptr) {
      EXPECT_TRUE(throws_error([&] { append_jcs_number(out, c.literal); }, ErrorKind::inexact_number)) << c.literal;
    } else {
      append_jcs_number(out, c.literal);
      EXPECT_EQ(out, c.canonical) << c.literal;
      EXPECT_EQ(canon_number(c.literal), c.canonical) << c.literal;
    }
  }
  std::string out;
  EXPECT_TRUE(throws_error([&] { append_jcs_number(out, "01"); }, ErrorKind::invalid_json));
  EXPECT_TRUE(throws_error([&] { append_jcs_number(out, "1x"); }, ErrorKind::invalid_json));
}

// utf16_less must order exactly as comparing the UTF-16 forms does, including
// the one place UTF-8 byte order disagrees (supplementary characters against
// U+E000..U+FFFF) and prefixes.
TEST(CanonicalJson, Utf16LessMatchesUtf16Comparison) {
  const std::string keys[] = {
      "",
      "a",
      "ab",
      "b",
      "\xc3\xa9",
      "\xc3\xa9x",
      "\xe2\x82\xac",
      "\xee\x80\x80" /* U+E000 */,
      "\xef\xbf\xbd" /* U+FFFD */,
      "\xf0\x9f\x98\x80" /* U+1F600 */,
      "\xf0\x9f\x98\x81",
      "\xf0\x90\x80\x80" /* U+10000 */,
      "\xf4\x8f\xbf\xbf" /* U+10FFFF */,
      "a\xf0\x9f\x98\x80",
      "a\xee\x80\x80",
      "\x7f",
      "\x01",
  };
  auto utf16 = [](const std::string& s) {
    std::u16string out;
    for (std::size_t i = 0; i < s.size();) {
      unsigned char b0 = static_cast<unsigned char>(s[i]);
      int len = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
      std::uint32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1Fu) : len == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
      for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
      i += static_cast<std::size_t>(len);
      if (cp < 0x10000) {
        out += static_cast<char16_t>(cp);
      } else {
        out += static_cast<char16_t>(0xD800 + ((cp - 0x10000) >> 10));
        out += static_cast<char16_t>(0xDC00 + ((cp - 0x10000) & 0x3FF));
      }
    }
    return out;
  };
  for (const auto& a : keys)
    for (const auto& b : keys) EXPECT_EQ(utf16_less(a, b), utf16(a) < utf16(b)) << a << " vs " << b;
}

TEST(CanonicalJson, AppendStringEscapesLikeCanonicalize) {
  std::string out;
  append_jcs_string(out, "a\"\\\n\x01/\xe2\x80\xa8");
  EXPECT_EQ(out, canonicalize_text(R"(["a\"\\\n\u0001\/)"
                                   "\xe2\x80\xa8"
                                   R"("])")
                     .substr(1, out.size()));
  EXPECT_TRUE(throws_error([&] { append_jcs_string(out, "\xff"); }, ErrorKind::invalid_json));
}
