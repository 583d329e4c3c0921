// RFC 8785 (JSON Canonicalization Scheme): the byte string every checksum in
// rulekeeper is computed over. See DESIGN.md "Checksums".
#pragma once
#include "rulekeeper/json.hpp"
#include "rulekeeper/no_postgres.hpp"

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

}  // namespace rulekeeper
