// Releases through the SQL API (docs/design/contract.md "SQL interface"):
// export_release at the source, import_release at the target, and which of
// a bundle's versions the target already holds.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace rulekeeper::site::client {

struct BundleVersion {
  std::string rule_key;
  std::string label;
};

struct ReleaseBundle {
  std::string text;  // as the source exported it: what import_release gets
  std::string bundle_sha256;
  std::vector<BundleVersion> versions;
};

// rulekeeper.export_release(rule_keys) (every releasable rule when empty).
// `source` names the site in a message about a malformed bundle.
ReleaseBundle export_release(pqxx::connection& conn, const std::vector<std::string>& rule_keys,
                             const std::string& source);

// rulekeeper.release_versions_present(bundle): (rule_key, label) of the
// bundle's versions this site already holds.
std::set<std::pair<std::string, std::string>> versions_present(pqxx::transaction_base& tx,
                                                               const std::string& bundle_text);

struct AnnotatedVersion {
  std::string rule_key;
  std::string label;
  nlohmann::json annotations;
};

// import_release's report: typed fields for rendering, and the document as
// the server returned it (what `release --json` shows under "report").
struct ImportReport {
  nlohmann::json document;
  bool drift = false;
  std::vector<std::string> drifted_rules;
  std::optional<std::string> pre_checksum;
  std::optional<std::string> post_checksum;
  std::optional<std::string> algorithm;
  long long imported = 0;
  long long skipped = 0;
  std::vector<AnnotatedVersion> annotated;
  // The bundle's signature as the target verified it (docs/keys.md): the key
  // id, or the warning of an unsigned bundle let in by
  // rulekeeper.allow_unsigned_bundles.
  std::optional<std::string> signed_by;
  std::optional<std::string> unsigned_warning;
};

// rulekeeper.import_release(bundle, expected_checksum).
ImportReport import_release(pqxx::transaction_base& tx, const std::string& bundle_text,
                            const std::optional<std::string>& expected_checksum);

}  // namespace rulekeeper::site::client
