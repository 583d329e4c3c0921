// Release bundles: the strict validator, and sealing with bundle_sha256.
// The one definition of what a valid bundle is: import_release runs it on the
// server (extension/bundle_text.cpp, rulekeeper._validate_bundle), a client
// may run it before sending, and the fuzzers run it on hostile bytes.
#include "rulekeeper/bundle.hpp"

#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/checksum.hpp"
#include "rulekeeper/error.hpp"
#include "rulekeeper/label.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace rulekeeper {
namespace {

using Type = JsonValue::Type;

const char* type_phrase(Type t) {
  switch (t) {
    case Type::null: return "null";
    case Type::boolean: return "a boolean";
    case Type::number: return "a number";
    case Type::string: return "a string";
    case Type::array: return "an array";
    case Type::object: return "an object";
  }
  return "an unknown type";
}

// A string from the bundle as a message shows it: quoted, at most about 80
// bytes, cut on a UTF-8 boundary (a hostile rule_key can be megabytes long,
// and a message must stay valid UTF-8 for the server and terminals).
std::string quoted(std::string_view s) {
  constexpr std::size_t max = 80;
  if (s.size() <= max) return "\"" + std::string(s) + "\"";
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return "\"" + std::string(s.substr(0, cut)) + "...\"";
}

// What a value is, for a message: a string quoted, anything else by its type
// (never its text: a number could be 1e400, which JCS cannot write).
std::string describe(const JsonValue* v) {
  if (!v) return "missing";
  if (v->type == Type::string) return quoted(v->text);
  return type_phrase(v->type);
}

const JsonValue* member(const JsonValue& object, std::string_view name) {
  for (const auto& m : object.members)
    if (m.first == name) return &m.second;
  return nullptr;
}

const JsonValue* string_member(const JsonValue& object, std::string_view name) {
  const JsonValue* v = member(object, name);
  return v && v->type == Type::string ? v : nullptr;
}

// Exactly what to_hex() writes: the server compares checksums as text, so an
// uppercase digest would be a mismatch there; here it is named as such.
bool is_lower_hex64(const JsonValue* v) {
  if (!v || v->type != Type::string || v->text.size() != 64) return false;
  return std::all_of(v->text.begin(), v->text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

[[noreturn]] void invalid(const std::string& message, std::string hint = {}) {
  throw Error(ErrorKind::invalid_input, message, std::move(hint));
}

// A label as messages show it: unquoted when it looks like one (digits and
// dots, short), as every other message writes labels; anything else quoted
// and shortened.
std::string shown_label(std::string_view s) {
  const bool label_like = !s.empty() && s.size() <= 24 &&
                          std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  return label_like ? std::string(s) : quoted(s);
}

// A short string from the bundle without quotes (for the environment in the
// wrong-environment message); a long one shortened like quoted().
std::string unquoted(std::string_view s) {
  std::string q = quoted(s);
  return q.substr(1, q.size() - 2);
}

// The environment a bundle imported at `environment` must come from (empty:
// none does).
std::string_view predecessor(std::string_view environment) {
  if (environment == "e2") return "e1";
  if (environment == "e3") return "e2";
  return {};
}

bool is_planned_label(std::string_view text) {
  try {
    return parse_label(text).hotfix == 0;
  } catch (const Error&) {
    return false;
  }
}

void check_source(const JsonValue& bundle, const BundleTarget* target, BundleSummary& summary) {
  const JsonValue* source = member(bundle, "source");
  if (!source || source->type != Type::object)
    invalid("a bundle has an object \"source\" with string \"site\" and \"environment\"; its source is " +
            describe(source));
  const JsonValue* site = string_member(*source, "site");
  if (!site || site->text.empty())
    invalid("the bundle's source has no site (a non-empty string); it is " + describe(member(*source, "site")));
  const JsonValue* env = string_member(*source, "environment");
  if (target) {
    // Where it is imported is known: the message names both ends.
    if (!env || env->text != predecessor(target->environment))
      throw Error(ErrorKind::not_supported,
                  "a bundle from " + (env ? unquoted(env->text) : std::string("(no environment)")) +
                      " cannot be imported at " + target->environment + " (site " + target->site +
                      "): releases go e1 -> e2 -> e3, one environment at a time");
  } else if (!env || (env->text != "e1" && env->text != "e2")) {
    invalid("a bundle comes from environment e1 or e2; its source environment is " +
            describe(member(*source, "environment")));
  }
  summary.source_site = site->text;
  summary.source_environment = env->text;
}

std::unordered_set<std::string> check_rules(const JsonValue& bundle) {
  const JsonValue* rules = member(bundle, "rules");
  if (!rules || rules->type != Type::array)
    invalid("a bundle has an object \"source\" and arrays \"rules\" and \"versions\"; its rules are " +
            describe(rules));
  std::unordered_set<std::string> keys;
  keys.reserve(rules->items.size());
  for (std::size_t i = 0; i < rules->items.size(); ++i) {
    const JsonValue& r = rules->items[i];
    const JsonValue* key = r.type == Type::object ? string_member(r, "rule_key") : nullptr;
    const JsonValue* ruleset = r.type == Type::object ? string_member(r, "ruleset") : nullptr;
    const JsonValue* description = r.type == Type::object ? member(r, "description") : nullptr;
    if (!key || key->text.empty() || !ruleset || ruleset->text.empty() ||
        (description && description->type != Type::string))
      invalid("rule #" + std::to_string(i + 1) +
              " of the bundle is not an object with non-empty string rule_key and ruleset "
              "(and optionally a string description)");
    if (!keys.insert(key->text).second) invalid("rule " + quoted(key->text) + " appears twice in the bundle");
  }
  return keys;
}

void check_versions(const JsonValue& bundle, const Sha256& sha, const std::unordered_set<std::string>& rule_keys) {
  const JsonValue* versions = member(bundle, "versions");
  if (!versions || versions->type != Type::array)
    invalid("a bundle has an object \"source\" and arrays \"rules\" and \"versions\"; its versions are " +
            describe(versions));
  // label + NUL + rule_key: a label is digits only, so this names one pair.
  std::unordered_set<std::string> seen;
  seen.reserve(versions->items.size());
  for (std::size_t i = 0; i < versions->items.size(); ++i) {
    const JsonValue& v = versions->items[i];
    const JsonValue* key = v.type == Type::object ? string_member(v, "rule_key") : nullptr;
    const JsonValue* label = v.type == Type::object ? string_member(v, "label") : nullptr;
    const JsonValue* body = v.type == Type::object ? member(v, "body") : nullptr;
    const JsonValue* claimed = v.type == Type::object ? string_member(v, "content_sha256") : nullptr;
    if (!key || !label || !body || body->type != Type::object || !claimed)
      invalid(
          "every bundle version is an object with string rule_key, label, content_sha256 and an "
          "object body; version #" +
          std::to_string(i + 1) + " is not");
    const std::string which =
        "version " + shown_label(label->text) + " of rule " + quoted(key->text) + " in the bundle";
    if (!is_lower_hex64(claimed))
      invalid(which + ": content_sha256 must be 64 lowercase hex digits, not " + quoted(claimed->text));
    // The body was canonicalized with the whole bundle already, so this
    // cannot throw; content_sha256() is used so that the two can never differ.
    const std::string actual = content_sha256(sha, canonicalize(*body));
    if (actual != claimed->text)
      throw Error(ErrorKind::corrupted,
                  which + ": content_sha256 " + claimed->text + " does not match its body (" + actual + ")",
                  "The bundle was changed after export; export it again.");
    if (!is_planned_label(label->text)) invalid(which + " is not a planned version label (N)");
    if (!rule_keys.count(key->text))
      invalid("the bundle carries versions of rule " + quoted(key->text) + " but not the rule itself");
    if (!seen.insert(label->text + '\0' + key->text).second) invalid(which + " appears twice");
  }
}

}  // namespace

BundleSummary validate_bundle(std::string_view json_text, const Sha256& sha, const BundleTarget* target) {
  JsonValue bundle = parse_json(json_text);
  if (bundle.type != Type::object) invalid(std::string("a bundle is a JSON object, not ") + type_phrase(bundle.type));

  BundleSummary summary;
  const JsonValue* format = member(bundle, "format");
  if (!format || format->type != Type::string || format->text != kBundleFormat)
    invalid("unsupported bundle format " + describe(format) + "; this rulekeeper reads " + kBundleFormat);
  summary.format = format->text;

  // The checksum covers everything but itself and the signature (which signs
  // the checksum: docs/design/contract.md "Bundle signatures"): take those
  // members out (no copy of the rest), hash what is left, and check the
  // others afterwards. The server verifies the signature itself.
  auto it = std::find_if(bundle.members.begin(), bundle.members.end(),
                         [](const auto& m) { return m.first == "bundle_sha256"; });
  if (it == bundle.members.end()) invalid("the bundle has no bundle_sha256");
  JsonValue given = std::move(it->second);
  bundle.members.erase(it);
  bundle.members.erase(std::remove_if(bundle.members.begin(), bundle.members.end(),
                                      [](const auto& m) { return m.first == kSignatureMember; }),
                       bundle.members.end());
  if (!is_lower_hex64(&given))
    invalid("the bundle's bundle_sha256 must be 64 lowercase hex digits, not " + describe(&given));
  const std::string actual = to_hex(sha.digest(canonicalize(bundle)));
  if (actual != given.text)
    throw Error(ErrorKind::corrupted,
                "bundle checksum mismatch: the bundle says " + given.text + ", its content hashes to " + actual,
                "The bundle was changed after export; export it again.");
  summary.bundle_sha256 = given.text;

  check_source(bundle, target, summary);
  const std::unordered_set<std::string> rule_keys = check_rules(bundle);
  check_versions(bundle, sha, rule_keys);
  summary.rule_count = member(bundle, "rules")->items.size();
  summary.version_count = member(bundle, "versions")->items.size();
  return summary;
}

namespace {

// The fast path of validate_canonical_bundle(): a scan of JCS text that
// accepts only what validate_bundle() accepts and gives up (returns false,
// and the caller runs validate_bundle()) on anything else — a failed check,
// a string with an escape, any surprise. It never builds a tree and never
// canonicalizes: in JCS text every value is already written in its JCS form
// (the form is defined value by value), so a body's canonical text is its
// span of the text, and the bundle without its checksum member is the other
// members' text joined again (they stay in JCS member order).
class CanonicalScan {
public:
  explicit CanonicalScan(std::string_view text) : t_(text) {}

  bool run(const Sha256& sha, const BundleTarget* target, BundleSummary& summary) {
    Span format, checksum, source, rules, versions;
    // The members the checksum covers (key to end of value), in text order.
    std::vector<Span> covered;
    std::size_t end = 0;
    const bool ok = object(0, end, [&](std::string_view key, std::size_t key_begin, Span value) {
      Span* slot = key == "format"          ? &format
                   : key == "bundle_sha256" ? &checksum
                   : key == "source"        ? &source
                   : key == "rules"         ? &rules
                   : key == "versions"      ? &versions
                                            : nullptr;
      if (slot != nullptr) {
        if (slot->valid()) return false;  // not JCS: let the strict parser say so
        *slot = value;
      }
      // The checksum covers neither itself nor the signature, which signs it
      // (docs/design/contract.md "Bundle signatures").
      if (slot != &checksum && key != kSignatureMember) covered.push_back(Span{key_begin, value.end});
      return true;
    });
    if (!ok || end != t_.size()) return false;
    // 1. format
    std::string_view text;
    if (!plain_string(format, text) || text != kBundleFormat) return false;
    // 2. bundle_sha256, over the covered members joined again: the JCS
    // text of the bundle without the others (JCS member order is kept)
    std::string_view given;
    if (!plain_string(checksum, given) || !lower_hex64(given)) return false;
    std::string rest;
    rest.reserve(t_.size());
    rest.push_back('{');
    for (std::size_t m = 0; m < covered.size(); ++m) {
      if (m > 0) rest.push_back(',');
      rest.append(t_.substr(covered[m].begin, covered[m].end - covered[m].begin));
    }
    rest.push_back('}');
    if (to_hex(sha.digest(rest)) != given) return false;
    // 3. source, rules
    std::string_view site, environment;
    bool has_environment = false;
    std::size_t source_end = 0;
    if (!source.valid() || !object(source.begin, source_end, [&](std::string_view key, std::size_t, Span value) {
          if (key == "site") return plain_string(value, site);
          if (key == "environment") return has_environment = plain_string(value, environment);
          return true;
        }))
      return false;
    if (site.empty() || !has_environment) return false;
    if (target ? environment != predecessor(target->environment) : (environment != "e1" && environment != "e2"))
      return false;
    std::unordered_set<std::string_view> rule_keys;
    std::size_t rule_count = 0;
    if (!array(rules, rule_count, [&](Span item) {
          std::string_view key, ruleset;
          bool has_key = false, has_ruleset = false, description_ok = true;
          std::size_t item_end = 0;
          if (!object(item.begin, item_end, [&](std::string_view name, std::size_t, Span value) {
                if (name == "rule_key") return has_key = plain_string(value, key);
                if (name == "ruleset") return has_ruleset = plain_string(value, ruleset);
                if (name == "description") return description_ok = is_string(value);
                return true;
              }))
            return false;
          if (!has_key || key.empty() || !has_ruleset || ruleset.empty() || !description_ok) return false;
          return rule_keys.insert(key).second;
        }))
      return false;
    // 4. versions ((rule_key, label) pairs as views into the text: no copy)
    std::unordered_set<std::pair<std::string_view, std::string_view>, PairHash> seen;
    seen.reserve(t_.size() / 128);  // a guess: a version is at least 100 bytes of text
    std::size_t version_count = 0;
    if (!array(versions, version_count, [&](Span item) {
          std::string_view key, label, claimed;
          Span body;
          bool has_key = false, has_label = false, has_claimed = false;
          std::size_t item_end = 0;
          if (!object(item.begin, item_end, [&](std::string_view name, std::size_t, Span value) {
                if (name == "rule_key") return has_key = plain_string(value, key);
                if (name == "label") return has_label = plain_string(value, label);
                if (name == "content_sha256") return has_claimed = plain_string(value, claimed);
                if (name == "body") body = value;
                return true;
              }))
            return false;
          if (!has_key || !has_label || !has_claimed || !body.valid() || t_[body.begin] != '{') return false;
          if (!lower_hex64(claimed)) return false;
          if (to_hex(sha.digest(t_.substr(body.begin, body.end - body.begin))) != claimed) return false;
          if (!is_planned_label(label) || !rule_keys.count(key)) return false;
          return seen.emplace(key, label).second;
        }))
      return false;
    summary.format = std::string(text);
    summary.bundle_sha256 = std::string(given);
    summary.source_site = std::string(site);
    summary.source_environment = std::string(environment);
    summary.rule_count = rule_count;
    summary.version_count = version_count;
    return true;
  }

private:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  struct PairHash {
    std::size_t operator()(const std::pair<std::string_view, std::string_view>& p) const noexcept {
      const std::size_t a = std::hash<std::string_view>()(p.first);
      return a ^ (std::hash<std::string_view>()(p.second) + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
    }
  };
  struct Span {
    std::size_t begin = kNone, end = kNone;
    bool valid() const { return begin != kNone; }
  };

  static bool lower_hex64(std::string_view s) {
    return s.size() == 64 &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  }

  // The end of the string starting at t_[i] == '"' (after its closing
  // quote), or kNone; *escaped tells whether it holds a backslash.
  std::size_t string_end(std::size_t i, bool* escaped) const {
    bool any = false;
    for (std::size_t j = i + 1; j < t_.size();) {
      const void* hit = std::memchr(t_.data() + j, '"', t_.size() - j);
      if (hit == nullptr) return kNone;
      const std::size_t q = static_cast<const char*>(hit) - t_.data();
      std::size_t backslashes = 0;
      while (q - backslashes > i + 1 && t_[q - backslashes - 1] == '\\') ++backslashes;
      if (backslashes > 0 || std::memchr(t_.data() + j, '\\', q - j) != nullptr) any = true;
      if (backslashes % 2 == 0) {
        if (escaped) *escaped = any;
        return q + 1;
      }
      j = q + 1;
    }
    return kNone;
  }

  // The end of the value starting at t_[i], or kNone.
  std::size_t value_end(std::size_t i) const {
    if (i >= t_.size()) return kNone;
    const char c = t_[i];
    if (c == '"') return string_end(i, nullptr);
    if (c == '{' || c == '[') {
      std::size_t depth = 0;
      for (std::size_t j = i; j < t_.size();) {
        const char d = t_[j];
        if (d == '"') {
          j = string_end(j, nullptr);
          if (j == kNone) return kNone;
          continue;
        }
        if (d == '{' || d == '[') {
          ++depth;
        } else if (d == '}' || d == ']') {
          if (--depth == 0) return j + 1;
        }
        ++j;
      }
      return kNone;
    }
    std::size_t j = i;
    while (j < t_.size() && t_[j] != ',' && t_[j] != ']' && t_[j] != '}') ++j;
    return j == i ? kNone : j;
  }

  // Walks the object at t_[i]: on_member(key, key_begin, value span) for each
  // member; false when it is not an object or on_member says false. end:
  // after it.
  template <typename F>
  bool object(std::size_t i, std::size_t& end, F&& on_member) const {
    if (i >= t_.size() || t_[i] != '{') return false;
    std::size_t j = i + 1;
    if (j < t_.size() && t_[j] == '}') {
      end = j + 1;
      return true;
    }
    for (;;) {
      if (j >= t_.size() || t_[j] != '"') return false;
      bool escaped = false;
      const std::size_t key_end = string_end(j, &escaped);
      if (key_end == kNone || key_end >= t_.size() || t_[key_end] != ':') return false;
      const Span value{key_end + 1, value_end(key_end + 1)};
      if (value.end == kNone) return false;
      // A key with an escape is none of ours (JCS escapes no character of
      // our names): it is passed as the empty name, which none matches.
      if (!on_member(escaped ? std::string_view() : t_.substr(j + 1, key_end - j - 2), j, value)) return false;
      j = value.end;
      if (j < t_.size() && t_[j] == ',') {
        ++j;
        continue;
      }
      if (j < t_.size() && t_[j] == '}') {
        end = j + 1;
        return true;
      }
      return false;
    }
  }

  // Walks the array spanning `span`: on_item(item span) for each item.
  template <typename F>
  bool array(Span span, std::size_t& count, F&& on_item) const {
    if (!span.valid() || t_[span.begin] != '[') return false;
    std::size_t j = span.begin + 1;
    count = 0;
    if (t_[j] == ']') return true;
    for (;;) {
      const Span item{j, value_end(j)};
      if (item.end == kNone || !on_item(item)) return false;
      ++count;
      j = item.end;
      if (j < span.end - 1 && t_[j] == ',') {
        ++j;
        continue;
      }
      return j == span.end - 1;
    }
  }

  bool is_string(Span v) const { return v.valid() && t_[v.begin] == '"'; }

  // A string without escapes: its JCS text is its UTF-8 bytes.
  bool plain_string(Span v, std::string_view& out) const {
    if (!is_string(v)) return false;
    const std::string_view inner = t_.substr(v.begin + 1, v.end - v.begin - 2);
    if (inner.find('\\') != std::string_view::npos) return false;
    out = inner;
    return true;
  }

  std::string_view t_;
};

}  // namespace

BundleSummary validate_canonical_bundle(std::string_view jcs_text, const Sha256& sha, const BundleTarget* target) {
  BundleSummary summary;
  if (CanonicalScan(jcs_text).run(sha, target, summary)) return summary;
  return validate_bundle(jcs_text, sha, target);
}

std::string seal_bundle(const JsonValue& bundle_without_checksum, const Sha256& sha) {
  if (bundle_without_checksum.type != Type::object)
    invalid(std::string("a bundle is a JSON object, not ") + type_phrase(bundle_without_checksum.type));
  if (member(bundle_without_checksum, "bundle_sha256"))
    invalid("the bundle already has a bundle_sha256; seal the bundle without it");
  JsonValue sealed = bundle_without_checksum;
  JsonValue unsigned_part = bundle_without_checksum;
  unsigned_part.members.erase(std::remove_if(unsigned_part.members.begin(), unsigned_part.members.end(),
                                             [](const auto& m) { return m.first == kSignatureMember; }),
                              unsigned_part.members.end());
  JsonValue checksum;
  checksum.type = Type::string;
  checksum.text = to_hex(sha.digest(canonicalize(unsigned_part)));
  sealed.members.emplace_back("bundle_sha256", std::move(checksum));
  return canonicalize(sealed);
}

}  // namespace rulekeeper
