// RFC 8785 (JSON Canonicalization Scheme): the byte string every checksum in
// rulekeeper is computed over. See docs/design/contract.md "Checksums".
#pragma once
#include "rulekeeper/json.hpp"
#include "rulekeeper/no_postgres.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace rulekeeper {

// JCS serialization of a parsed value: object members sorted by their names
// as UTF-16 code-unit sequences, no whitespace, strings escaped as JCS says
// (only \" \\ \b \f \n \r \t and \u00XX for other control characters),
// numbers in ECMAScript Number.prototype.toString form.
// Throws Error(inexact_number) for a number whose shortest round-trip decimal
// is not numerically equal to the number as written (e.g. 9007199254740993,
// 1e400), with a hint to store it as a string; the message names the number.
std::string canonicalize(const JsonValue& value);

// parse_json + canonicalize.
std::string canonicalize_text(std::string_view json_text);

// ECMAScript Number::toString of a finite double (-0 prints as 0).
std::string format_jcs_number(double value);

// The pieces canonicalize() is made of, for a serializer that walks another
// representation of JSON (the extension walks jsonb's binary form directly):
// using them, it cannot format a string, a number or a member order
// differently from canonicalize().
//
// Appends the JCS form of a string given as UTF-8 (throws on invalid UTF-8).
void append_jcs_string(std::string& out, std::string_view utf8);
// Appends the JCS form of a JSON number literal; throws exactly as
// canonicalize() does for an inexact or malformed number.
void append_jcs_number(std::string& out, std::string_view literal);
// RFC 8785 member order: a before b as sequences of UTF-16 code units.
bool utf16_less(std::string_view a, std::string_view b);
// parse_json's nesting limit, which a walker must apply the same way: a
// container inside this many open containers is refused.
inline constexpr std::size_t kMaxJsonDepth = 256;

}  // namespace rulekeeper
