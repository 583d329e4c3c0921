// The strict RFC 8259 reader behind parse_json(): a recursive-descent parser
// that keeps number literals as written, keeps object members in input order,
// and refuses what a lenient parser would silently accept (bad UTF-8, lone
// surrogates, duplicate keys, nesting deep enough to exhaust the stack).
#include "rulekeeper/json.hpp"

#include "rulekeeper/error.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace rulekeeper {
namespace {

class Parser {
public:
  Parser(std::string_view text, const JsonLimits& limits) : s_(text), limits_(limits) {}

  JsonValue parse_document() {
    skip_ws();
    JsonValue v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) fail_unexpected("after the end of the JSON value");
    return v;
  }

private:
  [[noreturn]] void fail(const std::string& what, std::size_t at) const {
    throw Error(ErrorKind::invalid_json, "invalid JSON: " + what + " at byte offset " + std::to_string(at));
  }

  // Names the offending byte: the most useful thing to show for a syntax error.
  [[noreturn]] void fail_unexpected(const char* context) const {
    if (pos_ >= s_.size()) fail(std::string("unexpected end of input ") + context, pos_);
    unsigned char c = static_cast<unsigned char>(s_[pos_]);
    char shown[32];
    if (c >= 0x20 && c < 0x7f)
      std::snprintf(shown, sizeof shown, "'%c'", c);
    else
      std::snprintf(shown, sizeof shown, "byte 0x%02X", c);
    fail(std::string("unexpected ") + shown + " " + context, pos_);
  }

  bool at_end() const { return pos_ >= s_.size(); }
  unsigned char peek() const { return static_cast<unsigned char>(s_[pos_]); }

  void skip_ws() {
    while (!at_end()) {
      char c = s_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  // depth = number of arrays/objects already open around this value.
  JsonValue parse_value(std::size_t depth) {
    if (at_end()) fail_unexpected("where a value was expected");
    switch (peek()) {
      case '{': return parse_object(depth);
      case '[': return parse_array(depth);
      case '"': {
        JsonValue v;
        v.type = JsonValue::Type::string;
        v.text = parse_string();
        return v;
      }
      case 't': return parse_literal("true", JsonValue::Type::boolean, true);
      case 'f': return parse_literal("false", JsonValue::Type::boolean, false);
      case 'n': return parse_literal("null", JsonValue::Type::null, false);
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parse_number();
        fail_unexpected("where a value was expected");
    }
  }

  // The check happens before recursing, so hostile input such as a
  // million '[' costs one frame per allowed level, never a stack overflow.
  void enter(std::size_t depth) const {
    if (depth + 1 > limits_.max_depth)
      fail("nesting deeper than " + std::to_string(limits_.max_depth) + " levels", pos_);
  }

  JsonValue parse_literal(std::string_view word, JsonValue::Type type, bool b) {
    if (s_.substr(pos_, word.size()) != word) fail_unexpected("where a value was expected");
    pos_ += word.size();
    JsonValue v;
    v.type = type;
    v.boolean = b;
    return v;
  }

  JsonValue parse_array(std::size_t depth) {
    enter(depth);
    ++pos_;  // '['
    JsonValue v;
    v.type = JsonValue::Type::array;
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return v;
    }
    for (;;) {
      skip_ws();
      v.items.push_back(parse_value(depth + 1));
      skip_ws();
      if (at_end()) fail_unexpected("in an array (expected ',' or ']')");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return v;
      }
      fail_unexpected("in an array (expected ',' or ']')");
    }
  }

  JsonValue parse_object(std::size_t depth) {
    enter(depth);
    ++pos_;  // '{'
    JsonValue v;
    v.type = JsonValue::Type::object;
    std::vector<std::size_t> key_offsets;
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return v;
    }
    for (;;) {
      skip_ws();
      if (at_end() || peek() != '"') fail_unexpected("where an object member name was expected");
      key_offsets.push_back(pos_);
      std::string name = parse_string();
      skip_ws();
      if (at_end() || peek() != ':') fail_unexpected("after an object member name (expected ':')");
      ++pos_;
      skip_ws();
      v.members.emplace_back(std::move(name), parse_value(depth + 1));
      skip_ws();
      if (at_end()) fail_unexpected("in an object (expected ',' or '}')");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        break;
      }
      fail_unexpected("in an object (expected ',' or '}')");
    }
    check_duplicates(v, key_offsets);
    return v;
  }

  // Sorting member indices by decoded name finds duplicates in O(n log n)
  // (a large object must not cost O(n^2)); names are compared decoded, so
  // "a" and "\u0061" are the same key. The later occurrence is reported.
  void check_duplicates(const JsonValue& v, const std::vector<std::size_t>& offsets) const {
    if (v.members.size() < 2) return;
    std::vector<std::size_t> idx(v.members.size());
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    std::stable_sort(idx.begin(), idx.end(),
                     [&](std::size_t a, std::size_t b) { return v.members[a].first < v.members[b].first; });
    for (std::size_t i = 1; i < idx.size(); ++i) {
      if (v.members[idx[i - 1]].first == v.members[idx[i]].first) {
        fail("duplicate object key \"" + v.members[idx[i]].first + "\"", offsets[idx[i]]);
      }
    }
  }

  // RFC 8259 section 6 grammar; the literal is kept verbatim because
  // canonicalization must judge the number as written, not as a double.
  JsonValue parse_number() {
    std::size_t start = pos_;
    auto digit = [&] { return !at_end() && peek() >= '0' && peek() <= '9'; };
    if (peek() == '-') ++pos_;
    if (!digit()) fail_unexpected("in a number (expected a digit)");
    if (peek() == '0') {
      ++pos_;
      if (digit()) fail("leading zero in a number", pos_ - 1);
    } else {
      while (digit()) ++pos_;
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (!digit()) fail_unexpected("in a number (expected a digit after '.')");
      while (digit()) ++pos_;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digit()) fail_unexpected("in a number (expected a digit in the exponent)");
      while (digit()) ++pos_;
    }
    JsonValue v;
    v.type = JsonValue::Type::number;
    v.text = std::string(s_.substr(start, pos_ - start));
    return v;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::uint32_t parse_hex4() {
    if (s_.size() - pos_ < 4) fail("truncated \\u escape", pos_);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_];
      std::uint32_t d;
      if (c >= '0' && c <= '9')
        d = static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        d = static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        d = static_cast<std::uint32_t>(c - 'A' + 10);
      else
        fail_unexpected("in a \\u escape (expected a hex digit)");
      v = v * 16 + d;
      ++pos_;
    }
    return v;
  }

  // Called after the backslash-u; a high surrogate must be followed by an
  // escaped low surrogate: a lone half is not a character and has no UTF-8.
  std::uint32_t parse_unicode_escape(std::size_t escape_start) {
    std::uint32_t cp = parse_hex4();
    if (cp >= 0xDC00 && cp <= 0xDFFF) fail("lone low surrogate \\u escape", escape_start);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (s_.substr(pos_, 2) != "\\u") fail("high surrogate \\u escape not followed by a low surrogate", escape_start);
      pos_ += 2;
      std::uint32_t lo = parse_hex4();
      if (lo < 0xDC00 || lo > 0xDFFF) fail("high surrogate \\u escape not followed by a low surrogate", escape_start);
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    return cp;
  }

  // One UTF-8 sequence per Unicode Table 3-7 (well-formed byte sequences):
  // the second-byte ranges exclude overlong forms, UTF-8-encoded surrogates
  // (ED A0..BF) and code points above U+10FFFF (F4 90.. and F5..FF).
  void copy_utf8_sequence(std::string& out) {
    std::size_t start = pos_;
    unsigned char b0 = peek();
    int len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      fail(describe_bad_lead(b0), start);
    }
    for (int i = 1; i < len; ++i) {
      if (start + i >= s_.size()) fail("truncated UTF-8 sequence", start);
      unsigned char b = static_cast<unsigned char>(s_[start + i]);
      unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
      if (b < l || b > h) {
        if (i == 1 && b >= 0x80 && b <= 0xBF) {
          if (b0 == 0xED) fail("invalid UTF-8 (encoded surrogate)", start);
          if (b0 == 0xF4) fail("invalid UTF-8 (code point above U+10FFFF)", start);
          fail("invalid UTF-8 (overlong encoding)", start);
        }
        fail("invalid UTF-8 (bad continuation byte)", start);
      }
    }
    out.append(s_.data() + start, static_cast<std::size_t>(len));
    pos_ += static_cast<std::size_t>(len);
  }

  static std::string describe_bad_lead(unsigned char b0) {
    if (b0 >= 0x80 && b0 <= 0xBF) return "invalid UTF-8 (unexpected continuation byte)";
    if (b0 == 0xC0 || b0 == 0xC1) return "invalid UTF-8 (overlong encoding)";
    if (b0 >= 0xF5) return "invalid UTF-8 (code point above U+10FFFF)";
    return "invalid UTF-8";
  }

  std::string parse_string() {
    std::size_t open = pos_;
    ++pos_;  // '"'
    std::string out;
    for (;;) {
      if (at_end()) fail("unterminated string starting", open);
      unsigned char c = peek();
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("unescaped control character in a string", pos_);
      if (c >= 0x80) {
        copy_utf8_sequence(out);
        continue;
      }
      if (c != '\\') {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      std::size_t esc = pos_;
      ++pos_;
      if (at_end()) fail("unterminated string starting", open);
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': append_utf8(out, parse_unicode_escape(esc)); break;
        default: fail("invalid escape sequence in a string", esc);
      }
    }
  }

  std::string_view s_;
  const JsonLimits& limits_;
  std::size_t pos_ = 0;
};

}  // namespace

JsonValue parse_json(std::string_view text, const JsonLimits& limits) { return Parser(text, limits).parse_document(); }

}  // namespace rulekeeper
