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
#include <unordered_set>
#include <utility>

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
