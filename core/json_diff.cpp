// JSON diff with RFC 6901 paths and the classification of a planned body
// against a hotfix's diff (docs/design/architecture.md "Drift"). Values are compared by their
// JCS text (canonical_json.cpp), so 1.0 == 1 and member order never matters,
// and object members are visited in the same UTF-16 order JCS writes them.
#include "rulekeeper/json_diff.hpp"

#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/error.hpp"
#include "utf16_order.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace rulekeeper {
namespace {

using Type = JsonValue::Type;

bool is_container(const JsonValue& v) { return v.type == Type::array || v.type == Type::object; }

std::string child_path(const std::string& parent, std::string_view token) {
  return parent + "/" + escape_pointer_token(token);
}

std::string index_path(const std::string& parent, std::size_t index) { return parent + "/" + std::to_string(index); }

class Differ {
public:
  std::vector<DiffEntry> take() { return std::move(out_); }

  void diff(const JsonValue& from, const JsonValue& to, const std::string& path) {
    if (from.type != to.type || !is_container(from)) {
      // Scalars (or a change of type): compare by canonical text, which
      // makes 1, 1.0 and 1e0 one value.
      std::string a = canonicalize(from);
      std::string b = canonicalize(to);
      if (a != b) out_.push_back({path, DiffOp::replace, std::move(a), std::move(b)});
      return;
    }
    if (from.type == Type::array) {
      diff_arrays(from, to, path);
    } else {
      diff_objects(from, to, path);
    }
  }

private:
  void diff_arrays(const JsonValue& from, const JsonValue& to, const std::string& path) {
    const std::size_t common = std::min(from.items.size(), to.items.size());
    for (std::size_t i = 0; i < common; ++i) diff(from.items[i], to.items[i], index_path(path, i));
    for (std::size_t i = common; i < to.items.size(); ++i)
      out_.push_back({index_path(path, i), DiffOp::add, std::nullopt, canonicalize(to.items[i])});
    // Highest index first: each removal leaves the lower indexes in place.
    for (std::size_t i = from.items.size(); i > common; --i)
      out_.push_back({index_path(path, i - 1), DiffOp::remove, canonicalize(from.items[i - 1]), std::nullopt});
  }

  struct Member {
    std::u16string order;
    const std::string* name;
    const JsonValue* from;
    const JsonValue* to;
  };

  void diff_objects(const JsonValue& from, const JsonValue& to, const std::string& path) {
    std::vector<Member> all;
    all.reserve(from.members.size() + to.members.size());
    for (const auto& m : from.members) all.push_back({detail::to_utf16(m.first), &m.first, &m.second, nullptr});
    for (const auto& m : to.members) all.push_back({detail::to_utf16(m.first), &m.first, nullptr, &m.second});
    // Stable: for a name in both, the `from` member stays first and the two merge.
    std::stable_sort(all.begin(), all.end(), [](const Member& a, const Member& b) { return a.order < b.order; });
    for (std::size_t i = 0; i < all.size(); ++i) {
      Member m = all[i];
      if (i + 1 < all.size() && all[i + 1].order == m.order && m.from && all[i + 1].to) {
        m.to = all[i + 1].to;
        ++i;
      }
      std::string p = child_path(path, *m.name);
      if (m.from && m.to) {
        diff(*m.from, *m.to, p);
      } else if (m.from) {
        out_.push_back({std::move(p), DiffOp::remove, canonicalize(*m.from), std::nullopt});
      } else {
        out_.push_back({std::move(p), DiffOp::add, std::nullopt, canonicalize(*m.to)});
      }
    }
  }

  std::vector<DiffEntry> out_;
};

[[noreturn]] void bad_pointer(std::string_view pointer, const std::string& why) {
  std::string shown(pointer.substr(0, 200));
  if (pointer.size() > 200) shown += "...";
  throw Error(ErrorKind::invalid_input, "invalid JSON pointer \"" + shown + "\": " + why,
              "use RFC 6901 syntax: \"\" for the whole document, or \"/a/0/b\" with \"~0\" for '~' "
              "and \"~1\" for '/' inside a name");
}

// An array index as RFC 6901 writes it: "0" or a digit string without a
// leading zero. Returns false for anything else, including "-" and indexes
// too large to be in range of any array.
bool parse_index(std::string_view token, std::size_t& index) {
  if (token.empty() || token.size() > 18) return false;
  if (token.size() > 1 && token[0] == '0') return false;
  std::size_t n = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  index = n;
  return true;
}

// A diff entry's value (JCS text by contract, but it may have been stored and
// read back by a tool that does not write JCS) in canonical form.
std::string canonical_entry_value(const std::optional<std::string>& value, const DiffEntry& e, const char* which) {
  if (!value)
    throw Error(ErrorKind::invalid_input,
                "diff entry " + std::string(to_string(e.op)) + " at \"" + e.path + "\" has no " + which);
  return canonicalize_text(*value);
}

enum class EntryResult { carried, overrides, unknown };

EntryResult classify_entry(const DiffEntry& e, const JsonValue& planned) {
  const JsonValue* at = value_at(planned, e.path);
  std::optional<std::string> have;
  if (at) have = canonicalize(*at);
  switch (e.op) {
    case DiffOp::add:
    case DiffOp::replace: {
      std::string hotfix_value = canonical_entry_value(e.new_value, e, "new_value");
      if (have && *have == hotfix_value) return EntryResult::carried;
      if (e.op == DiffOp::add) return have ? EntryResult::unknown : EntryResult::overrides;
      std::string base_value = canonical_entry_value(e.old_value, e, "old_value");
      return have && *have == base_value ? EntryResult::overrides : EntryResult::unknown;
    }
    case DiffOp::remove: {
      if (!have) return EntryResult::carried;
      std::string base_value = canonical_entry_value(e.old_value, e, "old_value");
      return *have == base_value ? EntryResult::overrides : EntryResult::unknown;
    }
  }
  throw Error(ErrorKind::internal, "unknown DiffOp");
}

}  // namespace

std::string_view to_string(DiffOp op) {
  switch (op) {
    case DiffOp::add: return "add";
    case DiffOp::remove: return "remove";
    case DiffOp::replace: return "replace";
  }
  throw Error(ErrorKind::internal, "unknown DiffOp");
}

std::string_view to_string(Classification c) {
  switch (c) {
    case Classification::included: return "included";
    case Classification::overrides: return "overrides";
    case Classification::unknown: return "unknown";
  }
  throw Error(ErrorKind::internal, "unknown Classification");
}

std::vector<DiffEntry> json_diff(const JsonValue& from, const JsonValue& to) {
  // Canonicalizing both whole documents first makes the diff throw exactly
  // when canonicalize() would (an inexact number, bad UTF-8, a duplicate
  // name in a hand-built value), whether or not that part changed; equal
  // documents need nothing more.
  if (canonicalize(from) == canonicalize(to)) return {};
  Differ d;
  d.diff(from, to, std::string());
  return d.take();
}

std::vector<DiffEntry> json_diff_text(std::string_view from_json, std::string_view to_json) {
  return json_diff(parse_json(from_json), parse_json(to_json));
}

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string> parse_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') bad_pointer(pointer, "must be empty or start with '/'");
  // One left-to-right pass decodes "~01" as "~1" (RFC 6901 section 4: "~1"
  // is replaced before "~0", never producing a '/' from "~0" + "1").
  for (std::size_t i = 0; i < pointer.size(); ++i) {
    char c = pointer[i];
    if (c == '/') {
      tokens.emplace_back();
    } else if (c == '~') {
      char next = i + 1 < pointer.size() ? pointer[i + 1] : '\0';
      if (next != '0' && next != '1')
        bad_pointer(pointer, "'~' at offset " + std::to_string(i) + " must be followed by '0' or '1'");
      tokens.back() += next == '0' ? '~' : '/';
      ++i;
    } else {
      tokens.back() += c;
    }
  }
  return tokens;
}

const JsonValue* value_at(const JsonValue& doc, std::string_view pointer) {
  const JsonValue* cur = &doc;
  for (const std::string& token : parse_pointer(pointer)) {
    if (cur->type == Type::object) {
      auto it = std::find_if(cur->members.begin(), cur->members.end(), [&](const auto& m) { return m.first == token; });
      if (it == cur->members.end()) return nullptr;
      cur = &it->second;
    } else if (cur->type == Type::array) {
      std::size_t index = 0;
      if (!parse_index(token, index) || index >= cur->items.size()) return nullptr;
      cur = &cur->items[index];
    } else {
      return nullptr;
    }
  }
  return cur;
}

bool path_within(std::string_view path, std::string_view allowed) {
  // Both are parsed, so a malformed pointer is an error rather than a silent
  // mismatch, and comparison is by unescaped token.
  std::vector<std::string> p = parse_pointer(path);
  std::vector<std::string> a = parse_pointer(allowed);
  return a.size() <= p.size() && std::equal(a.begin(), a.end(), p.begin());
}

Classification classify(const std::vector<DiffEntry>& hotfix_diff, const JsonValue& planned) {
  bool all_carried = true;
  bool any_overrides = false;
  for (const DiffEntry& e : hotfix_diff) {
    EntryResult r = classify_entry(e, planned);
    if (r != EntryResult::carried) all_carried = false;
    if (r == EntryResult::overrides) any_overrides = true;
  }
  if (all_carried) return Classification::included;
  return any_overrides ? Classification::overrides : Classification::unknown;
}

Classification combine(const std::vector<Classification>& each) {
  bool all_included = true;
  for (Classification c : each) {
    if (c == Classification::overrides) return Classification::overrides;
    if (c != Classification::included) all_included = false;
  }
  return all_included ? Classification::included : Classification::unknown;
}

}  // namespace rulekeeper
