// JSON diff with RFC 6901 paths, and the classification of a planned body
// against a hotfix's diff (docs/design/architecture.md "Drift"): what `rulekeeper.diff()`,
// `rulectl diff` / `hotfix show`, the hotfix policy and the hotfix gate use.
#pragma once
#include "rulekeeper/json.hpp"
#include "rulekeeper/no_postgres.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rulekeeper {

enum class DiffOp { add, remove, replace };
std::string_view to_string(DiffOp op);  // "add" | "remove" | "replace"

struct DiffEntry {
  std::string path;  // RFC 6901, e.g. "/tiers/0/rate", "" for the root
  DiffOp op;
  std::optional<std::string> old_value;  // JCS text; absent for add
  std::optional<std::string> new_value;  // JCS text; absent for remove
};

// Differences from `from` to `to`, depth first, object members in JCS key
// order (UTF-16 code units), arrays element by element by index (a longer
// `to` adds trailing elements, a shorter one removes them, highest index
// first so that applying the entries in order works). Values that differ
// in type are one `replace` at that path. Numbers compare by value (1.0 ==
// 1). Throws like canonicalize() for inexact numbers.
std::vector<DiffEntry> json_diff(const JsonValue& from, const JsonValue& to);
std::vector<DiffEntry> json_diff_text(std::string_view from_json, std::string_view to_json);

// RFC 6901: one reference token escaped ("~" -> "~0", "/" -> "~1"), and a
// pointer split into unescaped tokens (throws Error(invalid_input) for a
// pointer that is neither "" nor starts with "/", or a bad "~" escape).
std::string escape_pointer_token(std::string_view token);
std::vector<std::string> parse_pointer(std::string_view pointer);

// The value at a pointer, or nullptr if absent (array tokens must be
// canonical decimal indexes in range).
const JsonValue* value_at(const JsonValue& doc, std::string_view pointer);

// True when `path` is `allowed` or lies below it (token-wise: "/a/b" is under
// "/a", "/ab" is not). The root "" allows everything.
bool path_within(std::string_view path, std::string_view allowed);

// How a planned body relates to one hotfix (given as the hotfix's diff from
// its base): `included` if the planned body carries every change the hotfix
// made (added/replaced paths hold the hotfix's value, removed paths are
// absent); `overrides` if for some changed path it holds the base's value
// (or, for an added path, lacks it); `unknown` otherwise.
enum class Classification { included, overrides, unknown };
std::string_view to_string(Classification c);
Classification classify(const std::vector<DiffEntry>& hotfix_diff, const JsonValue& planned);
// Overall over several hotfixes: included only if all are, overrides if any is.
Classification combine(const std::vector<Classification>& each);

}  // namespace rulekeeper
