// Release bundles (docs/design/contract.md "Checksums", "Bundles"): the strict check of a
// bundle as a file or a client holds it, before any server sees it, and the
// sealing that adds its bundle_sha256. The checksum is the one the server
// computes in import_release: lowercase hex SHA-256 of the UTF-8 bytes of the
// JCS form of the bundle without its "bundle_sha256" member.
#pragma once
#include "rulekeeper/json.hpp"
#include "rulekeeper/no_postgres.hpp"
#include "rulekeeper/sha256.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace rulekeeper {

inline constexpr const char* kBundleFormat = "rulekeeper-bundle/1";
// The member that carries a bundle's signature block; like "bundle_sha256" it
// is outside what the checksum covers (docs/design/contract.md "Bundle
// signatures").
inline constexpr const char* kSignatureMember = "signature";

struct BundleSummary {
  std::string format;  // "rulekeeper-bundle/1"
  std::string source_site;
  std::string source_environment;  // "e1" or "e2"
  std::size_t rule_count = 0;
  std::size_t version_count = 0;
  std::string bundle_sha256;  // 64 lowercase hex digits, verified
};

// Where a bundle is being imported: import_release passes its site and
// environment ("e2" or "e3").
struct BundleTarget {
  std::string site;
  std::string environment;
};

// Parses `json_text` strictly (parse_json: duplicate keys, invalid UTF-8 and
// excessive nesting are refused) and checks, stopping at the first problem:
//   1. a JSON object whose "format" is "rulekeeper-bundle/1";
//   2. "bundle_sha256" is 64 lowercase hex digits and equals the SHA-256 of
//      the JCS form of the bundle without it and without "signature" (whose
//      verification is the server's: it needs the trusted keys);
//   3. "source" is {"site": string, "environment": "e1"|"e2"} — with a
//      target, the environment just before the target's — "rules" is an
//      array of {"rule_key", "ruleset": non-empty strings, "description":
//      string, optional}, without a rule_key twice;
//   4. each version in order: {"rule_key": string, "label": a planned label
//      "N", "body": object, "content_sha256": 64 lowercase hex digits} whose
//      content_sha256 equals content_sha256(body), whose rule is in "rules",
//      and whose (rule_key, label) has not come before.
// Members the format does not name are allowed (the checksum covers them).
// Throws Error(invalid_json) or Error(inexact_number) for text that is not
// strict JSON or holds a number JCS cannot write, Error(corrupted) when a
// checksum does not match, Error(not_supported) for a bundle from the wrong
// environment for `target`, and Error(invalid_input) naming what is wrong for
// everything else. These messages are the server's (import_release).
BundleSummary validate_bundle(std::string_view json_text, const Sha256& sha, const BundleTarget* target = nullptr);

// validate_bundle() for text that is the JCS form of a bundle (RFC 8785; the
// server's text, written from jsonb by extension/jsonb_canonical.cpp): the
// same result, and for a bundle it refuses the same error, since any bundle
// it does not accept on the fast path goes through validate_bundle(). The
// fast path builds no tree and canonicalizes nothing: in JCS text every
// value is in its JCS form already, so each body is hashed as its span of the
// text and the checksum over the text without the bundle_sha256 member.
// For text that is not JCS the result is unspecified (it may refuse a valid
// bundle or accept one whose checksum covers the text as written).
BundleSummary validate_canonical_bundle(std::string_view jcs_text, const Sha256& sha,
                                        const BundleTarget* target = nullptr);

// The JCS text of `bundle_without_checksum` (a JSON object without a
// "bundle_sha256" member) with that member added, as export_release writes
// it (a "signature" member, if any, is kept and not covered). Throws Error(invalid_input) for a non-object or one that
// already has a checksum, and like canonicalize() for values JCS cannot write. It does not validate the rest: tests and
// tools use it to build bad bundles too.
std::string seal_bundle(const JsonValue& bundle_without_checksum, const Sha256& sha);

}  // namespace rulekeeper
