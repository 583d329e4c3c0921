// libFuzzer target: json_diff on two JSON texts (the input split at its first
// NUL byte, which no JSON text contains; without one, the input is diffed
// with itself and the diff must be empty). When both parse and the diff
// succeeds, applying the diff to `from` must give `to` (by JCS text), the
// diff classified against `to` must be `included` and against `from`
// `overrides`; classify() must only ever return or throw rulekeeper::Error.
#include "fuzz_support.hpp"
#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/json.hpp"
#include "rulekeeper/json_diff.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace rulekeeper;
using rulekeeper::fuzz::finding;
using rulekeeper::fuzz::only_rulekeeper_errors;

namespace {

using Type = JsonValue::Type;

// A canonical RFC 6901 array index, as json_diff writes them.
std::size_t index_of(const std::string& token, const DiffEntry& e) {
  if (token.empty() || token.size() > 18 || (token.size() > 1 && token[0] == '0') ||
      !std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; }))
    finding("diff path " + e.path + " has a bad array index");
  return static_cast<std::size_t>(std::stoull(token));
}

JsonValue value_of(const std::optional<std::string>& text, const DiffEntry& e) {
  if (!text) finding("diff entry at " + e.path + " lacks a value its op needs");
  try {
    JsonValue v = parse_json(*text);
    if (canonicalize(v) != *text) finding("diff value at " + e.path + " is not JCS text: " + *text);
    return v;
  } catch (const Error& err) {
    finding("diff value at " + e.path + " does not parse: " + err.what());
  }
}

// Applies one entry the way RFC 6902 would (add, remove, replace), strictly:
// every path must lead where the op needs it to, else the diff is wrong.
void apply_entry(JsonValue& doc, const DiffEntry& e) {
  std::vector<std::string> tokens = parse_pointer(e.path);
  if (tokens.empty()) {
    if (e.op != DiffOp::replace) finding("diff " + std::string(to_string(e.op)) + " at the root");
    doc = value_of(e.new_value, e);
    return;
  }
  JsonValue* parent = &doc;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    const JsonValue* next = value_at(*parent, "/" + escape_pointer_token(tokens[i]));
    if (!next) finding("diff path " + e.path + " leads nowhere");
    parent = const_cast<JsonValue*>(next);
  }
  const std::string& last = tokens.back();
  if (parent->type == Type::array) {
    std::size_t i = index_of(last, e);
    auto& items = parent->items;
    switch (e.op) {
      case DiffOp::add:
        if (i > items.size()) finding("diff adds " + e.path + " past the end of its array");
        items.insert(items.begin() + static_cast<std::ptrdiff_t>(i), value_of(e.new_value, e));
        return;
      case DiffOp::remove:
        if (i >= items.size()) finding("diff removes " + e.path + " which is not there");
        items.erase(items.begin() + static_cast<std::ptrdiff_t>(i));
        return;
      case DiffOp::replace:
        if (i >= items.size()) finding("diff replaces " + e.path + " which is not there");
        items[i] = value_of(e.new_value, e);
        return;
    }
  } else if (parent->type == Type::object) {
    auto& members = parent->members;
    auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m.first == last; });
    switch (e.op) {
      case DiffOp::add:
        if (it != members.end()) finding("diff adds " + e.path + " which is already there");
        members.emplace_back(last, value_of(e.new_value, e));
        return;
      case DiffOp::remove:
        if (it == members.end()) finding("diff removes " + e.path + " which is not there");
        members.erase(it);
        return;
      case DiffOp::replace:
        if (it == members.end()) finding("diff replaces " + e.path + " which is not there");
        it->second = value_of(e.new_value, e);
        return;
    }
  }
  finding("diff path " + e.path + " goes through a scalar");
}

JsonValue apply_diff(JsonValue doc, const std::vector<DiffEntry>& diff) {
  for (const DiffEntry& e : diff) apply_entry(doc, e);
  return doc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const bool self = nul == std::string_view::npos;
  const std::string_view from_text = self ? input : input.substr(0, nul);
  const std::string_view to_text = self ? input : input.substr(nul + 1);

  JsonValue from, to;
  if (!only_rulekeeper_errors("parse_json", [&] { from = parse_json(from_text); })) return 0;
  if (!only_rulekeeper_errors("parse_json", [&] { to = parse_json(to_text); })) return 0;
  std::vector<DiffEntry> diff;
  if (!only_rulekeeper_errors("json_diff", [&] { diff = json_diff(from, to); })) return 0;

  if (self && !diff.empty()) finding("a document differs from itself");
  // json_diff succeeded, so both documents canonicalize.
  const std::string want = canonicalize(to);
  const std::string got = canonicalize(apply_diff(from, diff));
  if (got != want) finding("applying the diff to `from` does not give `to`:\nwant: " + want + "\ngot:  " + got);
  if ((canonicalize(from) == want) != diff.empty())
    finding("the diff is empty although the documents differ, or the other way round");

  Classification on_to = Classification::unknown, on_from = Classification::unknown;
  if (!only_rulekeeper_errors("classify", [&] { on_to = classify(diff, to); }))
    finding("classify of a fresh diff against its own `to` threw");
  if (on_to != Classification::included)
    finding("a diff is not `included` in its own `to` but " + std::string(to_string(on_to)));
  if (!only_rulekeeper_errors("classify", [&] { on_from = classify(diff, from); }))
    finding("classify of a fresh diff against its own `from` threw");
  if (!diff.empty() && on_from != Classification::overrides)
    finding("`from` does not override the diff made from it but is " + std::string(to_string(on_from)));
  // Whatever the documents, the entries (round-tripped as text) against the
  // other document, and combine(), only ever return or throw Error.
  only_rulekeeper_errors("classify", [&] { combine({classify(diff, from), classify(diff, to)}); });
  return 0;
}
