// Tests of core/bundle.cpp: sealing gives the checksum import_release
// computes (checked against a value computed independently), a sealed bundle
// validates, and every way a bundle can be wrong is refused with the message
// that names it, in the server's order (format, checksum, then each version).
#include "rulekeeper/bundle.hpp"

#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/checksum.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace rulekeeper;
using rulekeeper::testing::throws_error;

namespace {

const Sha256& sha() { return openssl_sha256(); }

// The bundle export_release would write for one rule with one version.
// content_sha256 is printf '{"rate":5,"tiers":[1,2]}' | sha256sum.
const char* const kUnsealed = R"({
  "format": "rulekeeper-bundle/1",
  "source": {"site": "e1a", "environment": "e1"},
  "rules": [{"rule_key": "pricing.discount", "ruleset": "pricing", "description": "d"}],
  "versions": [{"rule_key": "pricing.discount", "label": "1", "body": {"rate": 5, "tiers": [1, 2]},
                "content_sha256": "f67226baf5901e190ef830d545aff9ed17d9594ab4c9424e06af7526ba342cf1"}]
})";

// Python's json.dumps(sort_keys=True, separators=(',', ':')) of the bundle
// above (JCS for ASCII keys and integers), piped through sha256sum.
const char* const kSealedChecksum = "13752becd73cab23fc1ba9d4f7c5e51a7336a5e0e3158928a53c513ec2a7e403";

JsonValue& at(JsonValue& object, const std::string& name) {
  auto it = std::find_if(object.members.begin(), object.members.end(), [&](const auto& m) { return m.first == name; });
  if (it == object.members.end()) throw std::logic_error("test bundle has no member " + name);
  return it->second;
}

void erase(JsonValue& object, const std::string& name) {
  object.members.erase(
      std::find_if(object.members.begin(), object.members.end(), [&](const auto& m) { return m.first == name; }));
}

JsonValue str(const std::string& s) {
  JsonValue v;
  v.type = JsonValue::Type::string;
  v.text = s;
  return v;
}

JsonValue unsealed() { return parse_json(kUnsealed); }
JsonValue& first_version(JsonValue& b) { return at(b, "versions").items.at(0); }

// Changes the unsealed bundle, then seals it: a bundle whose checksum is right
// and whose content is what the test says.
template <typename F>
std::string sealed_with(F&& change) {
  JsonValue b = unsealed();
  change(b);
  return seal_bundle(b, sha());
}

std::string sealed() {
  return sealed_with([](JsonValue&) {});
}

// Replaces the first occurrence of `from` in a bundle's text (after sealing).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  std::size_t at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("test text has no " + from);
  return text.replace(at, from.size(), to);
}

// Counts digests: the fast path of validate_canonical_bundle makes one for
// the bundle and one per version; falling back to validate_bundle makes more.
class CountingSha : public Sha256 {
public:
  Digest digest(std::string_view data) const override {
    ++count;
    return openssl_sha256().digest(data);
  }
  mutable int count = 0;
};

// What a validation did: its summary, or its error.
struct Outcome {
  bool accepted = false;
  BundleSummary summary;
  ErrorKind kind = ErrorKind::internal;
  std::string message, hint;
};

template <typename F>
Outcome outcome_of(F&& validate) {
  Outcome o;
  try {
    o.summary = validate();
    o.accepted = true;
  } catch (const Error& e) {
    o.kind = e.kind();
    o.message = e.what();
    o.hint = e.hint();
  }
  return o;
}

// validate_canonical_bundle() on the JCS form of `text` does exactly what
// validate_bundle() does on it (text JCS cannot write is skipped), and takes
// its fast path (one digest per version, one for the bundle) when it accepts.
::testing::AssertionResult canonical_path_agrees(const std::string& text, const BundleTarget* target = nullptr) {
  std::string jcs;
  try {
    jcs = canonicalize_text(text);
  } catch (const Error&) {
    return ::testing::AssertionSuccess();
  }
  const Outcome slow = outcome_of([&] { return validate_bundle(jcs, sha(), target); });
  CountingSha counting;
  const Outcome fast = outcome_of([&] { return validate_canonical_bundle(jcs, counting, target); });
  if (slow.accepted != fast.accepted)
    return ::testing::AssertionFailure() << "validate_bundle "
                                         << (slow.accepted ? "accepts" : "refuses: " + slow.message)
                                         << ", validate_canonical_bundle "
                                         << (fast.accepted ? "accepts" : "refuses: " + fast.message);
  if (!slow.accepted) {
    if (slow.kind != fast.kind || slow.message != fast.message || slow.hint != fast.hint)
      return ::testing::AssertionFailure()
             << "different errors: \"" << slow.message << "\" and \"" << fast.message << "\"";
    return ::testing::AssertionSuccess();
  }
  const BundleSummary& a = slow.summary;
  const BundleSummary& b = fast.summary;
  if (a.format != b.format || a.source_site != b.source_site || a.source_environment != b.source_environment ||
      a.rule_count != b.rule_count || a.version_count != b.version_count || a.bundle_sha256 != b.bundle_sha256)
    return ::testing::AssertionFailure() << "different summaries";
  if (counting.count != static_cast<int>(a.version_count) + 1)
    return ::testing::AssertionFailure() << "the fast path was not taken (" << counting.count << " digests for "
                                         << a.version_count << " versions)";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult refused(const std::string& text, const std::string& needle,
                                   ErrorKind kind = ErrorKind::invalid_input) {
  ::testing::AssertionResult r = throws_error([&] { validate_bundle(text, sha()); }, kind, needle);
  if (!r) return r;
  return canonical_path_agrees(text);
}

}  // namespace

TEST(Bundle, SealComputesTheServersChecksum) {
  std::string text = sealed();
  EXPECT_NE(text.find(std::string("\"bundle_sha256\":\"") + kSealedChecksum + "\""), std::string::npos) << text;
  // Sealed text is JCS, bundle_sha256 in its sorted place.
  EXPECT_EQ(canonicalize_text(text), text);
  EXPECT_LT(text.find("\"bundle_sha256\""), text.find("\"format\""));
}

TEST(Bundle, SealedBundleValidates) {
  BundleSummary s = validate_bundle(sealed(), sha());
  EXPECT_EQ(s.format, "rulekeeper-bundle/1");
  EXPECT_EQ(s.source_site, "e1a");
  EXPECT_EQ(s.source_environment, "e1");
  EXPECT_EQ(s.rule_count, 1u);
  EXPECT_EQ(s.version_count, 1u);
  EXPECT_EQ(s.bundle_sha256, kSealedChecksum);
}

TEST(Bundle, ChecksumIsOverTheCanonicalForm) {
  // Other member order, whitespace and number spelling: same JCS, same checksum.
  std::string text = std::string(R"({"bundle_sha256": ")") + kSealedChecksum + R"(",
      "versions": [{"content_sha256": "f67226baf5901e190ef830d545aff9ed17d9594ab4c9424e06af7526ba342cf1",
                    "body": {"tiers": [1.0, 2e0], "rate": 50e-1}, "label": "1", "rule_key": "pricing.discount"}],
      "rules": [{"description": "d", "ruleset": "pricing", "rule_key": "pricing.\u0064iscount"}],
      "source": {"environment": "e1", "site": "e1a"}, "format": "rulekeeper-bundle/1"})";
  EXPECT_EQ(validate_bundle(text, sha()).bundle_sha256, kSealedChecksum);
}

TEST(Bundle, EmptyReleaseAndExtraMembersValidate) {
  BundleSummary s = validate_bundle(sealed_with([](JsonValue& b) {
                                      at(b, "rules").items.clear();
                                      at(b, "versions").items.clear();
                                      b.members.emplace_back("note", str("covered by the checksum"));
                                    }),
                                    sha());
  EXPECT_EQ(s.rule_count, 0u);
  EXPECT_EQ(s.version_count, 0u);
  EXPECT_NO_THROW(validate_bundle(sealed_with([](JsonValue& b) {
                                    erase(at(b, "rules").items[0], "description");
                                    at(b, "source").members[1].second = str("e2");
                                  }),
                                  sha()));
}

TEST(Bundle, TamperedBodyResealedIsAVersionError) {
  std::string text = sealed_with([](JsonValue& b) { at(first_version(b), "body") = parse_json(R"({"rate":6})"); });
  EXPECT_TRUE(refused(text,
                      "version 1 of rule \"pricing.discount\" in the bundle: content_sha256 "
                      "f67226baf5901e190ef830d545aff9ed17d9594ab4c9424e06af7526ba342cf1 does not match "
                      "its body (" +
                          content_sha256(sha(), R"({"rate":6})") + ")",
                      ErrorKind::corrupted));
}

TEST(Bundle, TamperingWithAnythingIsAChecksumMismatch) {
  const std::string text = sealed();
  const std::string says =
      std::string("bundle checksum mismatch: the bundle says ") + kSealedChecksum + ", its content hashes to ";
  const std::pair<const char*, const char*> edits[] = {
      {"\"rate\":5", "\"rate\":6"},              // a body, checksum not redone
      {"\"site\":\"e1a\"", "\"site\":\"e1b\""},  // the source
      {"\"environment\":\"e1\"", "\"environment\":\"e2\""},
      {"\"ruleset\":\"pricing\"", "\"ruleset\":\"fees\""},  // a rule
      {"\"description\":\"d\"", "\"description\":\"e\""},
      {"\"label\":\"1\"", "\"label\":\"2\""},       // a version's label
      {"\"tiers\":[1,2]", "\"tiers\":[2,1]"},       // array order matters
      {"\"format\"", "\"extra\":null,\"format\""},  // a member added
  };
  for (const auto& [from, to] : edits) {
    std::string tampered = replaced(text, from, to);
    std::string hashes_to = to_hex(sha().digest(
        canonicalize_text(replaced(tampered, std::string("\"bundle_sha256\":\"") + kSealedChecksum + "\",", ""))));
    EXPECT_TRUE(refused(tampered, says + hashes_to, ErrorKind::corrupted)) << to;
  }
  // The checksum itself changed.
  std::string other(64, 'a');
  EXPECT_TRUE(
      refused(replaced(text, kSealedChecksum, other),
              "bundle checksum mismatch: the bundle says " + other + ", its content hashes to " + kSealedChecksum,
              ErrorKind::corrupted));
}

TEST(Bundle, ChecksumErrorsCarryAHint) {
  try {
    validate_bundle(replaced(sealed(), "e1a", "e1b"), sha());
    FAIL() << "did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.hint(), "The bundle was changed after export; export it again.");
  }
}

TEST(Bundle, FormatIsCheckedFirst) {
  EXPECT_TRUE(refused("[]", "a bundle is a JSON object, not an array"));
  EXPECT_TRUE(refused("\"x\"", "a bundle is a JSON object, not a string"));
  EXPECT_TRUE(refused("{}", "unsupported bundle format missing; this rulekeeper reads rulekeeper-bundle/1"));
  EXPECT_TRUE(refused(R"({"format":2})", "unsupported bundle format a number;"));
  EXPECT_TRUE(refused(R"({"format":1e400})", "unsupported bundle format a number;"));
  // Wrong format and wrong checksum: the format is named.
  EXPECT_TRUE(refused(replaced(replaced(sealed(), "rulekeeper-bundle/1", "rulekeeper-bundle/2"), "e1a", "e1b"),
                      "unsupported bundle format \"rulekeeper-bundle/2\";"));
}

TEST(Bundle, ChecksumMustBePresentAndLowercaseHex) {
  JsonValue b = unsealed();
  EXPECT_TRUE(refused(canonicalize(b), "the bundle has no bundle_sha256"));
  b.members.emplace_back("bundle_sha256", str("abc"));
  EXPECT_TRUE(refused(canonicalize(b), "the bundle's bundle_sha256 must be 64 lowercase hex digits, not \"abc\""));
  std::string upper(kSealedChecksum);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) { return static_cast<char>(::toupper(c)); });
  EXPECT_TRUE(refused(replaced(sealed(), kSealedChecksum, upper), "must be 64 lowercase hex digits"));
  EXPECT_TRUE(refused(replaced(sealed(), std::string("\"") + kSealedChecksum + "\"", "null"),
                      "must be 64 lowercase hex digits, not null"));
}

TEST(Bundle, StrictJsonIsRequired) {
  // Each would mean something to a lenient parser; the checksum is never reached.
  EXPECT_TRUE(refused(replaced(sealed(), "{\"bundle_sha256\"", "{\"format\":\"x\",\"bundle_sha256\""),
                      "duplicate object key \"format\"", ErrorKind::invalid_json));
  EXPECT_TRUE(refused(replaced(sealed(), "e1a", "e1\xC0\xAF"), "invalid UTF-8", ErrorKind::invalid_json));
  EXPECT_TRUE(refused(replaced(sealed(), "\"rate\":5", "\"rate\":" + std::string(300, '[') + std::string(300, ']')),
                      "nesting deeper than 256 levels", ErrorKind::invalid_json));
  EXPECT_TRUE(refused(replaced(sealed(), "\"rate\":5", "\"rate\":9007199254740993"), "9007199254740993",
                      ErrorKind::inexact_number));
  EXPECT_TRUE(refused(sealed() + ",", "after the end of the JSON value", ErrorKind::invalid_json));
}

TEST(Bundle, SourceRulesAndVersionsHaveTheirShapes) {
  EXPECT_TRUE(
      refused(sealed_with([](JsonValue& b) { erase(b, "source"); }),
              "a bundle has an object \"source\" with string \"site\" and \"environment\"; its source is missing"));
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) { at(at(b, "source"), "site") = str(""); }),
                      "the bundle's source has no site (a non-empty string); it is \"\""));
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) { at(at(b, "source"), "environment") = str("e3"); }),
                      "a bundle comes from environment e1 or e2; its source environment is \"e3\""));
  EXPECT_TRUE(
      refused(sealed_with([](JsonValue& b) { at(b, "rules") = parse_json("{}"); }),
              "a bundle has an object \"source\" and arrays \"rules\" and \"versions\"; its rules are an object"));
  EXPECT_TRUE(
      refused(sealed_with([](JsonValue& b) { at(b, "versions") = parse_json("null"); }),
              "a bundle has an object \"source\" and arrays \"rules\" and \"versions\"; its versions are null"));
  const char* const bad_rule = "rule #1 of the bundle is not an object with non-empty string rule_key and ruleset";
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) { at(b, "rules").items[0] = str("r"); }), bad_rule));
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) { erase(at(b, "rules").items[0], "ruleset"); }), bad_rule));
  EXPECT_TRUE(
      refused(sealed_with([](JsonValue& b) { at(at(b, "rules").items[0], "description") = JsonValue{}; }), bad_rule));
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) { at(b, "rules").items.push_back(at(b, "rules").items[0]); }),
                      "rule \"pricing.discount\" appears twice in the bundle"));
  const char* const bad_version =
      "every bundle version is an object with string rule_key, label, "
      "content_sha256 and an object body; version #1 is not";
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) { at(first_version(b), "body") = parse_json("[]"); }), bad_version));
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) { erase(first_version(b), "label"); }), bad_version));
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) { at(first_version(b), "label") = parse_json("1"); }), bad_version));
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) { at(first_version(b), "content_sha256") = str("F6"); }),
                      "version 1 of rule \"pricing.discount\" in the bundle: content_sha256 must be 64 "
                      "lowercase hex digits, not \"F6\""));
}

TEST(Bundle, VersionsArePlannedKnownAndUnique) {
  // A label-shaped text is shown as labels are everywhere (unquoted);
  // anything else quoted, so that an empty or odd one stays visible.
  for (const char* label : {"1.1", "01", "0", "2147483648"})
    EXPECT_TRUE(refused(sealed_with([&](JsonValue& b) { at(first_version(b), "label") = str(label); }),
                        std::string("version ") + label +
                            " of rule \"pricing.discount\" in the bundle is not a planned version label (N)"))
        << label;
  for (const char* label : {"-1", "", "1 "})
    EXPECT_TRUE(refused(sealed_with([&](JsonValue& b) { at(first_version(b), "label") = str(label); }),
                        std::string("version \"") + label +
                            "\" of rule \"pricing.discount\" in the bundle is not a planned version label (N)"))
        << label;
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) { at(first_version(b), "rule_key") = str("other"); }),
                      "the bundle carries versions of rule \"other\" but not the rule itself"));
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) { at(b, "versions").items.push_back(first_version(b)); }),
                      "version 1 of rule \"pricing.discount\" in the bundle appears twice"));
  // Version 2 of the same rule, and version 1 of a second rule, are fine.
  EXPECT_NO_THROW(validate_bundle(sealed_with([](JsonValue& b) {
                                    JsonValue v2 = first_version(b);
                                    at(v2, "label") = str("2");
                                    JsonValue r2 = at(b, "rules").items[0];
                                    at(r2, "rule_key") = str("other");
                                    JsonValue v3 = first_version(b);
                                    at(v3, "rule_key") = str("other");
                                    at(b, "versions").items.push_back(v2);
                                    at(b, "versions").items.push_back(v3);
                                    at(b, "rules").items.push_back(r2);
                                  }),
                                  sha()));
  // The first bad version is the one named.
  EXPECT_TRUE(refused(sealed_with([](JsonValue& b) {
                        JsonValue v2 = first_version(b);
                        at(v2, "label") = str("2");
                        at(v2, "rule_key") = str("other");
                        at(b, "versions").items.push_back(v2);
                        at(first_version(b), "label") = str("1.1");
                      }),
                      "version 1.1 of rule \"pricing.discount\""));
}

TEST(Bundle, MessagesShowLongStringsShortenedOnACharacterBoundary) {
  // 79 ASCII bytes then a 2-byte character straddling the 80-byte cut.
  std::string key = std::string(79, 'k') + "\xC3\xA9" + std::string(5000, 'k');
  std::string text = sealed_with([&](JsonValue& b) { at(first_version(b), "rule_key") = str(key); });
  try {
    validate_bundle(text, sha());
    FAIL() << "did not throw";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("rule \"" + std::string(79, 'k') + "...\" but not the rule itself"), std::string::npos) << m;
    EXPECT_LT(m.size(), 300u);
  }
}

TEST(Bundle, SealRefusesWhatCannotBeSealed) {
  EXPECT_TRUE(throws_error([] { seal_bundle(parse_json("[]"), sha()); }, ErrorKind::invalid_input,
                           "a bundle is a JSON object, not an array"));
  EXPECT_TRUE(throws_error([] { seal_bundle(parse_json(sealed()), sha()); }, ErrorKind::invalid_input,
                           "the bundle already has a bundle_sha256"));
  EXPECT_TRUE(
      throws_error([] { seal_bundle(parse_json(R"({"n":1e400})"), sha()); }, ErrorKind::inexact_number, "1e400"));
}

// import_release passes where the bundle is imported: the source must be the
// environment just before it, and the message names both ends.
TEST(Bundle, WithATargetTheSourceIsTheEnvironmentBefore) {
  const BundleTarget e2{"e2a", "e2"};
  const BundleTarget e3{"ipc2", "e3"};
  EXPECT_EQ(validate_bundle(sealed(), sha(), &e2).source_environment, "e1");
  EXPECT_TRUE(throws_error([&] { validate_bundle(sealed(), sha(), &e3); }, ErrorKind::not_supported,
                           "a bundle from e1 cannot be imported at e3 (site ipc2): releases go e1 -> e2 -> e3, "
                           "one environment at a time"));
  // An environment no client accepts is refused with the same message.
  std::string from_e3 = sealed_with([](JsonValue& b) { at(at(b, "source"), "environment") = str("e3"); });
  EXPECT_TRUE(throws_error([&] { validate_bundle(from_e3, sha(), &e3); }, ErrorKind::not_supported,
                           "a bundle from e3 cannot be imported at e3 (site ipc2)"));
  std::string none = sealed_with([](JsonValue& b) { erase(at(b, "source"), "environment"); });
  EXPECT_TRUE(throws_error([&] { validate_bundle(none, sha(), &e2); }, ErrorKind::not_supported,
                           "a bundle from (no environment) cannot be imported at e2 (site e2a)"));
  // Without a target the client-side rule holds: e1 or e2.
  EXPECT_TRUE(refused(from_e3, "a bundle comes from environment e1 or e2; its source environment is \"e3\""));
}

// The server's route (extension/bundle_text.cpp): the JCS text of the bundle
// it holds as jsonb, through validate_canonical_bundle. Every refusal above
// is cross-checked by refused(); here the bundles it accepts, each on the
// fast path, and the ways it falls back.
TEST(Bundle, CanonicalPathAcceptsWhatValidateBundleAccepts) {
  const BundleTarget e2{"e2a", "e2"};
  EXPECT_TRUE(canonical_path_agrees(sealed()));
  EXPECT_TRUE(canonical_path_agrees(sealed(), &e2));
  EXPECT_TRUE(canonical_path_agrees(sealed_with([](JsonValue& b) {
    at(b, "rules").items.clear();
    at(b, "versions").items.clear();
  })));
  // bundle_sha256 first, in the middle and last among the members.
  EXPECT_TRUE(canonical_path_agrees(sealed_with([](JsonValue& b) { b.members.emplace_back("a", str("first")); })));
  EXPECT_TRUE(canonical_path_agrees(sealed_with([](JsonValue& b) { b.members.emplace_back("zz", str("last")); })));
  // Members whose names are empty or hold an escape are covered like any other.
  EXPECT_TRUE(canonical_path_agrees(sealed_with([](JsonValue& b) {
    b.members.emplace_back("", str("empty name"));
    b.members.emplace_back("c\nd", str("escaped name"));
  })));
  EXPECT_TRUE(canonical_path_agrees(sealed_with([](JsonValue& b) {
    JsonValue nested = parse_json(R"({"x":[{"y":"]}\"{["},[],{}],"z":null})");
    b.members.emplace_back("c", nested);
  })));
  // Several rules and versions, bodies with strings that look like structure.
  EXPECT_TRUE(canonical_path_agrees(sealed_with([](JsonValue& b) {
    JsonValue r2 = at(b, "rules").items[0];
    at(r2, "rule_key") = str("other");
    erase(r2, "description");
    at(b, "rules").items.push_back(r2);
    for (const char* label : {"2", "3"}) {
      JsonValue v = first_version(b);
      at(v, "label") = str(label);
      at(v, "rule_key") = str("other");
      at(v, "body") = parse_json(std::string(R"({"s":"a\"}],{\\","n":[1.5,-0,1e30],"l":")") + label + "\"}");
      at(v, "content_sha256") = str(content_sha256(sha(), canonicalize(at(v, "body"))));
      at(b, "versions").items.push_back(v);
    }
  })));
  // Escapes in the strings it reads: it falls back, with the same result.
  const std::string escaped = sealed_with([](JsonValue& b) {
    at(at(b, "rules").items[0], "rule_key") = str("pricing\tdiscount");
    at(first_version(b), "rule_key") = str("pricing\tdiscount");
  });
  EXPECT_NO_THROW(validate_bundle(escaped, sha()));
  CountingSha counting;
  EXPECT_EQ(validate_canonical_bundle(escaped, counting).rule_count, 1u);
  EXPECT_GT(counting.count, 2);
}

TEST(Bundle, CanonicalPathRefusesWithTheSameMessages) {
  // Tampering after sealing, each part in turn (the checksum no longer
  // matches), and the shapes refused() does not reach.
  const std::string text = sealed();
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"e1a", "e1b"}, {"\"rate\":5", "\"rate\":6"}, {"pricing\"", "pricinG\""}, {"\"d\"", "\"e\""}})
    EXPECT_TRUE(canonical_path_agrees(replaced(text, from, to))) << from;
  EXPECT_TRUE(canonical_path_agrees(replaced(text, kSealedChecksum, std::string(64, '0'))));
  EXPECT_TRUE(canonical_path_agrees(R"([])"));
  EXPECT_TRUE(canonical_path_agrees(R"({})"));
  EXPECT_TRUE(canonical_path_agrees(R"({"format":"rulekeeper-bundle/1"})"));
  const BundleTarget e3{"ipc2", "e3"};
  EXPECT_TRUE(canonical_path_agrees(sealed(), &e3));
  EXPECT_TRUE(canonical_path_agrees(sealed_with([](JsonValue& b) { erase(at(b, "source"), "environment"); }), &e3));
}
