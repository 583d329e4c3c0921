// Tests of core/json.cpp: the strict RFC 8259 reader (values, escapes, UTF-8,
// every error with its byte offset, duplicate keys, the depth limit).
#include "rulekeeper/json.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace rulekeeper;
using rulekeeper::testing::throws_error;
using T = JsonValue::Type;

TEST(Json, Scalars) {
  EXPECT_EQ(parse_json("null").type, T::null);
  JsonValue t = parse_json("true");
  EXPECT_EQ(t.type, T::boolean);
  EXPECT_TRUE(t.boolean);
  JsonValue f = parse_json(" false ");
  EXPECT_EQ(f.type, T::boolean);
  EXPECT_FALSE(f.boolean);
  JsonValue s = parse_json("\"hi\"");
  EXPECT_EQ(s.type, T::string);
  EXPECT_EQ(s.text, "hi");
}

TEST(Json, NumbersKeepTheirLiteralText) {
  for (const char* lit :
       {"0", "-0", "1.50", "1.50E+2", "-12e-3", "9007199254740993", "0.1000000000000000055511151231257827", "1e400"}) {
    JsonValue v = parse_json(lit);
    EXPECT_EQ(v.type, T::number) << lit;
    EXPECT_EQ(v.text, lit);
  }
}

TEST(Json, ObjectsKeepInputOrder) {
  JsonValue v = parse_json(" {\n\t\"b\" : 1 ,\r\n \"a\":[true, null, {}, []] } ");
  ASSERT_EQ(v.type, T::object);
  ASSERT_EQ(v.members.size(), 2u);
  EXPECT_EQ(v.members[0].first, "b");
  EXPECT_EQ(v.members[1].first, "a");
  const JsonValue& a = v.members[1].second;
  ASSERT_EQ(a.type, T::array);
  ASSERT_EQ(a.items.size(), 4u);
  EXPECT_EQ(a.items[1].type, T::null);
  EXPECT_EQ(a.items[2].type, T::object);
  EXPECT_EQ(a.items[3].type, T::array);
}

TEST(Json, EscapesAreDecoded) {
  EXPECT_EQ(parse_json(R"("\"\\\/\b\f\n\r\t")").text, "\"\\/\b\f\n\r\t");
  EXPECT_EQ(parse_json(R"("\u0041\u00e9\u20AC")").text, "A\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(parse_json(R"("\u0000")").text, std::string(1, '\0'));
  // A surrogate pair becomes one 4-byte UTF-8 sequence (U+1F600).
  EXPECT_EQ(parse_json(R"("\ud83d\ude00")").text, "\xF0\x9F\x98\x80");
  EXPECT_EQ(parse_json(R"("\uDBFF\uDFFF")").text, "\xF4\x8F\xBF\xBF");
}

TEST(Json, ValidUtf8Boundaries) {
  for (const char* s : {"\"\xC2\x80\"", "\"\xDF\xBF\"", "\"\xE0\xA0\x80\"", "\"\xED\x9F\xBF\"", "\"\xEE\x80\x80\"",
                        "\"\xEF\xBF\xBF\"", "\"\xF0\x90\x80\x80\"", "\"\xF4\x8F\xBF\xBF\"", "\"\xE2\x80\xA8\""}) {
    EXPECT_NO_THROW(parse_json(s)) << s;
    EXPECT_EQ(parse_json(s).text, std::string(s + 1, std::char_traits<char>::length(s) - 2));
  }
}

struct BadJson {
  std::string text;
  std::string message;  // must appear in the error, offset included
};

TEST(Json, EverySyntaxErrorSaysWhatAndWhere) {
  const BadJson cases[] = {
      {"", "unexpected end of input where a value was expected at byte offset 0"},
      {"   ", "unexpected end of input where a value was expected at byte offset 3"},
      {"[1,]", "unexpected ']' where a value was expected at byte offset 3"},
      {"[1 2]", "unexpected '2' in an array (expected ',' or ']') at byte offset 3"},
      {"[1", "unexpected end of input in an array (expected ',' or ']') at byte offset 2"},
      {"{\"a\" 1}", "unexpected '1' after an object member name (expected ':') at byte offset 5"},
      {"{\"a\":1,}", "unexpected '}' where an object member name was expected at byte offset 7"},
      {"{1:2}", "unexpected '1' where an object member name was expected at byte offset 1"},
      {"{\"a\":1", "unexpected end of input in an object (expected ',' or '}') at byte offset 6"},
      {"{\"a\":1]", "unexpected ']' in an object (expected ',' or '}') at byte offset 6"},
      {"tru", "unexpected 't' where a value was expected at byte offset 0"},
      {"nul", "unexpected 'n' where a value was expected at byte offset 0"},
      {"True", "unexpected 'T' where a value was expected at byte offset 0"},
      {"NaN", "unexpected 'N' where a value was expected at byte offset 0"},
      {"Infinity", "unexpected 'I' where a value was expected at byte offset 0"},
      {"'a'", "unexpected ''' where a value was expected at byte offset 0"},
      {"01", "leading zero in a number at byte offset 0"},
      {"[-01]", "leading zero in a number at byte offset 2"},
      {"-", "unexpected end of input in a number (expected a digit) at byte offset 1"},
      {"-a", "unexpected 'a' in a number (expected a digit) at byte offset 1"},
      {"1.", "unexpected end of input in a number (expected a digit after '.') at byte offset 2"},
      {"1.e5", "unexpected 'e' in a number (expected a digit after '.') at byte offset 2"},
      {".5", "unexpected '.' where a value was expected at byte offset 0"},
      {"+1", "unexpected '+' where a value was expected at byte offset 0"},
      {"1e", "unexpected end of input in a number (expected a digit in the exponent) at byte offset 2"},
      {"1e+", "unexpected end of input in a number (expected a digit in the exponent) at byte offset 3"},
      {"0x10", "unexpected 'x' after the end of the JSON value at byte offset 1"},
      {"1 2", "unexpected '2' after the end of the JSON value at byte offset 2"},
      {"{} x", "unexpected 'x' after the end of the JSON value at byte offset 3"},
      {"\"abc", "unterminated string starting at byte offset 0"},
      {"[\"a\\", "unterminated string starting at byte offset 1"},
      {"\"a\tb\"", "unescaped control character in a string at byte offset 2"},
      {"\"a\nb\"", "unescaped control character in a string at byte offset 2"},
      {"\"\\x\"", "invalid escape sequence in a string at byte offset 1"},
      {"\"\\U0041\"", "invalid escape sequence in a string at byte offset 1"},
      {"\"\\u12\"", "truncated \\u escape at byte offset 3"},
      {"\"\\u12xy\"", "unexpected 'x' in a \\u escape (expected a hex digit) at byte offset 5"},
      {"\v1", "unexpected byte 0x0B where a value was expected at byte offset 0"},
      {"\xEF\xBB\xBF{}", "unexpected byte 0xEF where a value was expected at byte offset 0"},
      {"[1]\xC3\xA9", "unexpected byte 0xC3 after the end of the JSON value at byte offset 3"},
      {std::string("[1]\0", 4), "unexpected byte 0x00 after the end of the JSON value at byte offset 3"},
  };
  for (const auto& c : cases)
    EXPECT_TRUE(throws_error([&] { parse_json(c.text); }, ErrorKind::invalid_json, c.message)) << "input: " << c.text;
}

TEST(Json, ErrorMessagesStartWithInvalidJson) {
  try {
    parse_json("[1,]");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "invalid JSON: unexpected ']' where a value was expected at byte offset 3");
  }
}

TEST(Json, LoneSurrogateEscapesAreRefused) {
  const BadJson cases[] = {
      {"\"\\ud800\"", "high surrogate \\u escape not followed by a low surrogate at byte offset 1"},
      {"\"x\\uDBFFx\"", "high surrogate \\u escape not followed by a low surrogate at byte offset 2"},
      {"\"\\ud800\\u0041\"", "high surrogate \\u escape not followed by a low surrogate at byte offset 1"},
      {"\"\\ud800\\ud800\"", "high surrogate \\u escape not followed by a low surrogate at byte offset 1"},
      {"\"\\udc00\"", "lone low surrogate \\u escape at byte offset 1"},
      {"\"\\ude00\\ud83d\"", "lone low surrogate \\u escape at byte offset 1"},
  };
  for (const auto& c : cases)
    EXPECT_TRUE(throws_error([&] { parse_json(c.text); }, ErrorKind::invalid_json, c.message)) << "input: " << c.text;
}

TEST(Json, InvalidUtf8IsRefused) {
  const BadJson cases[] = {
      {"\"\x80\"", "invalid UTF-8 (unexpected continuation byte) at byte offset 1"},
      {"\"ab\xBF\"", "invalid UTF-8 (unexpected continuation byte) at byte offset 3"},
      {"\"\xC0\xAF\"", "invalid UTF-8 (overlong encoding) at byte offset 1"},
      {"\"\xC1\xBF\"", "invalid UTF-8 (overlong encoding) at byte offset 1"},
      {"\"\xE0\x80\xAF\"", "invalid UTF-8 (overlong encoding) at byte offset 1"},
      {"\"\xE0\x9F\xBF\"", "invalid UTF-8 (overlong encoding) at byte offset 1"},
      {"\"\xF0\x80\x80\xAF\"", "invalid UTF-8 (overlong encoding) at byte offset 1"},
      {"\"\xF0\x8F\xBF\xBF\"", "invalid UTF-8 (overlong encoding) at byte offset 1"},
      {"\"\xED\xA0\x80\"", "invalid UTF-8 (encoded surrogate) at byte offset 1"},
      {"\"\xED\xBF\xBF\"", "invalid UTF-8 (encoded surrogate) at byte offset 1"},
      {"\"\xF4\x90\x80\x80\"", "invalid UTF-8 (code point above U+10FFFF) at byte offset 1"},
      {"\"\xF5\x80\x80\x80\"", "invalid UTF-8 (code point above U+10FFFF) at byte offset 1"},
      {"\"\xFF\"", "invalid UTF-8 (code point above U+10FFFF) at byte offset 1"},
      {"\"\xC3\"", "invalid UTF-8 (bad continuation byte) at byte offset 1"},
      {"\"\xE2\x82\"", "invalid UTF-8 (bad continuation byte) at byte offset 1"},
      {"\"\xE2\x82", "truncated UTF-8 sequence at byte offset 1"},
      {"\"\xC3\xA9\xC3(\"", "invalid UTF-8 (bad continuation byte) at byte offset 3"},
      {"{\"\xC0\x80\":1}", "invalid UTF-8 (overlong encoding) at byte offset 2"},
  };
  for (const auto& c : cases)
    EXPECT_TRUE(throws_error([&] { parse_json(c.text); }, ErrorKind::invalid_json, c.message)) << "input: " << c.text;
}

TEST(Json, DuplicateKeysAreRefused) {
  EXPECT_TRUE(throws_error([] { parse_json(R"({"a":1,"a":2})"); }, ErrorKind::invalid_json,
                           "duplicate object key \"a\" at byte offset 7"));
  // Names are compared decoded: "\u0061" is "a".
  EXPECT_TRUE(throws_error([] { parse_json(R"({"a":1,"b":2,"\u0061":3})"); }, ErrorKind::invalid_json,
                           "duplicate object key \"a\" at byte offset 13"));
  EXPECT_TRUE(throws_error([] { parse_json(R"({"x":{"k":1,"k":1}})"); }, ErrorKind::invalid_json,
                           "duplicate object key \"k\""));
  // Same name in different objects, or differing only in case, is fine.
  EXPECT_NO_THROW(parse_json(R"({"a":{"a":1},"A":2,"b":[{"a":1},{"a":2}]})"));
}

TEST(Json, DuplicateDetectionInLargeObject) {
  std::string text = "{";
  for (int i = 0; i < 20000; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  std::string ok = text;
  ok.back() = '}';
  EXPECT_EQ(parse_json(ok).members.size(), 20000u);
  text += "\"k777\":0}";
  EXPECT_TRUE(throws_error([&] { parse_json(text); }, ErrorKind::invalid_json, "duplicate object key \"k777\""));
}

TEST(Json, DepthLimit) {
  auto nested = [](std::size_t n) { return std::string(n, '[') + std::string(n, ']'); };
  EXPECT_NO_THROW(parse_json(nested(256)));
  EXPECT_TRUE(throws_error([&] { parse_json(nested(257)); }, ErrorKind::invalid_json,
                           "nesting deeper than 256 levels at byte offset 256"));
  JsonLimits two;
  two.max_depth = 2;
  EXPECT_NO_THROW(parse_json("[[1],{\"a\":1},[]]", two));
  EXPECT_TRUE(throws_error([&] { parse_json("{\"a\":{\"b\":{}}}", two); }, ErrorKind::invalid_json,
                           "nesting deeper than 2 levels at byte offset 10"));
  // Scalars do not count as a level.
  JsonLimits zero;
  zero.max_depth = 0;
  EXPECT_NO_THROW(parse_json("\"x\"", zero));
  EXPECT_TRUE(throws_error([&] { parse_json("[]", zero); }, ErrorKind::invalid_json, "nesting deeper than 0"));
}

TEST(Json, HostileNestingThrowsInsteadOfCrashing) {
  EXPECT_TRUE(throws_error([] { parse_json(std::string(100000, '[')); }, ErrorKind::invalid_json,
                           "nesting deeper than 256 levels"));
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_TRUE(throws_error([&] { parse_json(objects); }, ErrorKind::invalid_json, "nesting deeper than 256 levels"));
}
