// A strict RFC 8259 JSON reader that keeps what canonicalization needs and a
// general-purpose parser throws away: the exact text of every number, object
// members in input order, and refusal (not silent last-wins) of duplicate keys.
#pragma once
#include "rulekeeper/no_postgres.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rulekeeper {

struct JsonValue {
  enum class Type { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  std::string text;                                        // number: its literal text as written; string: decoded UTF-8
  std::vector<JsonValue> items;                            // array
  std::vector<std::pair<std::string, JsonValue>> members;  // object, input order
};

struct JsonLimits {
  std::size_t max_depth = 256;  // deeper input is refused, never recursed into
};

// Parses exactly one JSON text (surrounding whitespace allowed). Throws
// rulekeeper::Error(ErrorKind::invalid_json) with the byte offset in the message
// for: syntax errors, invalid UTF-8 (in strings and anywhere else), lone
// surrogate escapes, duplicate object keys, nesting deeper than max_depth.
JsonValue parse_json(std::string_view text, const JsonLimits& limits = {});

}  // namespace rulekeeper
