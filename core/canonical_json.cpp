// RFC 8785 (JCS) serialization: UTF-16 member order, JCS string escaping, and
// ECMAScript number formatting, plus the exactness check that refuses numbers
// a double cannot hold (docs/design/contract.md "Checksums": the checksum of a body must not
// depend on which tool rounded it).
#include "rulekeeper/canonical_json.hpp"

#include "rulekeeper/error.hpp"
#include "utf16_order.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <system_error>
#include <vector>

namespace rulekeeper {
namespace {

// UTF-8 decoding and UTF-16 member order live in utf16_order.hpp, shared
// with json_diff.cpp.
using detail::next_code_point;
using detail::to_utf16;

// RFC 8785 section 3.2.2.2: only the two mandatory escapes, the five short
// control escapes, and \u00xx (lowercase) for other control characters;
// everything else, '/' and U+2028 included, is written as raw UTF-8.
void write_string(std::string& out, std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    // A run of printable ASCII other than '"' and '\\' is copied as it
    // is, in one append (most of any document).
    std::size_t run = i;
    while (run < s.size()) {
      unsigned char r = static_cast<unsigned char>(s[run]);
      if (r < 0x20 || r >= 0x80 || r == '"' || r == '\\') break;
      ++run;
    }
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      std::size_t start = i;
      next_code_point(s, i);  // validates; the bytes are copied as they are
      out.append(s.data() + start, i - start);
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// A decimal number as sign, significant digits (no leading or trailing
// zeros) and exponent e, meaning 0.d1d2...dk x 10^e. Two literals denote the
// same number exactly when their normal forms are equal, which is how the
// literal as written is compared with the double's shortest decimal.
struct Decimal {
  bool negative = false;
  std::string digits;  // empty for zero
  std::int64_t exponent = 0;
  bool is_zero() const { return digits.empty(); }
  bool operator==(const Decimal& o) const {
    if (is_zero() || o.is_zero()) return is_zero() && o.is_zero();  // -0 == 0
    return negative == o.negative && digits == o.digits && exponent == o.exponent;
  }
};

// Input is a JSON number literal or std::to_chars scientific output (which
// may write "e+21"). The exponent saturates: beyond 10^15 nothing is finite
// anyway, and saturation keeps the arithmetic free of overflow.
Decimal normalize(std::string_view t) {
  Decimal d;
  std::size_t i = 0;
  if (i < t.size() && t[i] == '-') {
    d.negative = true;
    ++i;
  }
  std::string all;
  std::int64_t int_len = 0;
  for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i, ++int_len) all += t[i];
  if (i < t.size() && t[i] == '.')
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) all += t[i];
  std::int64_t exp = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) neg = t[i++] == '-';
    constexpr std::int64_t cap = 1'000'000'000'000'000;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) exp = std::min(cap, exp * 10 + (t[i] - '0'));
    if (neg) exp = -exp;
  }
  std::size_t first = all.find_first_not_of('0');
  if (first == std::string::npos) return d;  // zero, whatever its exponent
  std::size_t last = all.find_last_not_of('0');
  d.digits = all.substr(first, last - first + 1);
  d.exponent = int_len - static_cast<std::int64_t>(first) + exp;
  return d;
}

// RFC 8259 number grammar; canonicalize() re-checks it because a JsonValue
// built by hand could hold "inf" or "0x10", which std::from_chars would take.
bool is_json_number(std::string_view t) {
  std::size_t i = 0;
  auto digit = [&] { return i < t.size() && t[i] >= '0' && t[i] <= '9'; };
  if (i < t.size() && t[i] == '-') ++i;
  if (!digit()) return false;
  if (t[i] == '0') {
    ++i;
  } else {
    while (digit()) ++i;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digit()) return false;
    while (digit()) ++i;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digit()) return false;
    while (digit()) ++i;
  }
  return i == t.size();
}

// Shortest round-trip digits of a finite nonzero double (Ryu-style, what
// std::to_chars without a precision gives), as scientific text.
std::string shortest_scientific(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  if (r.ec != std::errc()) throw Error(ErrorKind::internal, "std::to_chars failed on a double");
  return std::string(buf, r.ptr);
}

[[noreturn]] void throw_inexact(std::string_view literal) {
  std::string shown(literal.substr(0, 80));
  if (literal.size() > 80) shown += "...";
  throw Error(ErrorKind::inexact_number,
              "number " + shown + " cannot be represented exactly as an IEEE-754 double (JCS, RFC 8785)",
              "store it as a string, e.g. \"" + shown + "\"");
}

// An integer of at most 15 digits is below 2^53, so a double holds it exactly
// and ECMAScript prints it digit for digit: the literal is its own JCS form.
// Most numbers in rule bodies are such integers.
bool is_small_integer(std::string_view t) {
  std::size_t i = t.size() > 0 && t[0] == '-' ? 1 : 0;
  std::size_t digits = t.size() - i;
  if (digits == 0 || digits > 15 || (t[i] == '0' && digits > 1)) return false;
  for (; i < t.size(); ++i)
    if (t[i] < '0' || t[i] > '9') return false;
  return true;
}

void write_number(std::string& out, std::string_view literal) {
  if (is_small_integer(literal)) {
    out += literal == "-0" ? std::string_view("0") : literal;
    return;
  }
  if (!is_json_number(literal))
    throw Error(ErrorKind::invalid_json, "invalid JSON: '" + std::string(literal) + "' is not a JSON number");
  double v = 0;
  auto r = std::from_chars(literal.data(), literal.data() + literal.size(), v);
  // result_out_of_range: overflow to infinity or underflow of a nonzero literal.
  if (r.ec != std::errc() || r.ptr != literal.data() + literal.size() || !std::isfinite(v)) throw_inexact(literal);
  Decimal written = normalize(literal);
  Decimal stored = v == 0 ? Decimal{} : normalize(shortest_scientific(v));
  if (!(written == stored)) throw_inexact(literal);
  out += format_jcs_number(v);
}

void write_value(std::string& out, const JsonValue& v) {
  switch (v.type) {
    case JsonValue::Type::null: out += "null"; return;
    case JsonValue::Type::boolean: out += v.boolean ? "true" : "false"; return;
    case JsonValue::Type::number: write_number(out, v.text); return;
    case JsonValue::Type::string: write_string(out, v.text); return;
    case JsonValue::Type::array: {
      out += '[';
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ',';
        write_value(out, v.items[i]);
      }
      out += ']';
      return;
    }
    case JsonValue::Type::object: {
      // Already in strictly increasing UTF-16 order (a JCS text parsed
      // back, as every bundle is): written as it is, with no key copies.
      bool sorted = true;
      for (std::size_t i = 1; i < v.members.size() && sorted; ++i)
        sorted = utf16_less(v.members[i - 1].first, v.members[i].first);
      if (sorted) {
        out += '{';
        for (std::size_t i = 0; i < v.members.size(); ++i) {
          if (i) out += ',';
          write_string(out, v.members[i].first);
          out += ':';
          write_value(out, v.members[i].second);
        }
        out += '}';
        return;
      }
      std::vector<std::u16string> keys;
      keys.reserve(v.members.size());
      for (const auto& m : v.members) keys.push_back(to_utf16(m.first));
      std::vector<std::size_t> order(v.members.size());
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
      out += '{';
      for (std::size_t i = 0; i < order.size(); ++i) {
        // A hand-built value could repeat a name; JCS has no answer for that.
        if (i && keys[order[i]] == keys[order[i - 1]])
          throw Error(ErrorKind::invalid_json,
                      "invalid JSON: duplicate object key \"" + v.members[order[i]].first + "\"");
        if (i) out += ',';
        const auto& m = v.members[order[i]];
        write_string(out, m.first);
        out += ':';
        write_value(out, m.second);
      }
      out += '}';
      return;
    }
  }
  throw Error(ErrorKind::internal, "unknown JsonValue type");
}

}  // namespace

std::string canonicalize(const JsonValue& value) {
  std::string out;
  write_value(out, value);
  return out;
}

std::string canonicalize_text(std::string_view json_text) { return canonicalize(parse_json(json_text)); }

void append_jcs_string(std::string& out, std::string_view utf8) { write_string(out, utf8); }

void append_jcs_number(std::string& out, std::string_view literal) { write_number(out, literal); }

// Equal to to_utf16(a) < to_utf16(b) without building either: UTF-8 byte
// order is code point order, which differs from UTF-16 order only where the
// first differing characters are a supplementary one and one of
// U+E000..U+FFFF, so only that character pair is decoded and compared by its
// first UTF-16 code unit.
bool utf16_less(std::string_view a, std::string_view b) {
  std::size_t n = std::min(a.size(), b.size()), i = 0;
  while (i < n && a[i] == b[i]) ++i;
  if (i == n) return a.size() < b.size();
  while (i > 0 && (static_cast<unsigned char>(a[i]) & 0xC0) == 0x80) --i;  // back to the character's start
  std::size_t ia = i, ib = i;
  std::uint32_t ca = next_code_point(a, ia), cb = next_code_point(b, ib);
  auto first_unit = [](std::uint32_t cp) { return cp >= 0x10000 ? 0xD800 + ((cp - 0x10000) >> 10) : cp; };
  if (first_unit(ca) != first_unit(cb)) return first_unit(ca) < first_unit(cb);
  return ca < cb;  // same high surrogate: the low ones are in code point order
}

// ECMA-262 Number::toString(x) for radix 10: with the shortest digits
// d1..dk and n such that x = 0.d1..dk x 10^n, choose plain or exponential
// notation by n (RFC 8785 section 3.2.2.3 requires exactly this).
std::string format_jcs_number(double value) {
  if (!std::isfinite(value)) throw Error(ErrorKind::invalid_input, "JSON has no representation for NaN or Infinity");
  if (value == 0) return "0";  // covers -0
  Decimal d = normalize(shortest_scientific(value));
  const std::string& s = d.digits;
  const std::int64_t k = static_cast<std::int64_t>(s.size());
  const std::int64_t n = d.exponent;
  std::string out = d.negative ? "-" : "";
  if (k <= n && n <= 21) {
    out += s;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += s.substr(0, static_cast<std::size_t>(n));
    out += '.';
    out += s.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += s;
  } else {
    out += s[0];
    if (k > 1) {
      out += '.';
      out += s.substr(1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    out += std::to_string(n - 1 >= 0 ? n - 1 : -(n - 1));
  }
  return out;
}

}  // namespace rulekeeper
