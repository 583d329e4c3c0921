// `release`: carry versions one environment forward — export_release at the
// source, import_release at the target (one transaction there), then the
// source marks every version the bundle carried `promoted`, so a version
// leaves each environment once. With a replication wait: after the commit,
// wait (bounded) until every other site of the target's environment covers
// the target's version vector; "NOT replicated" is exit 3, never a plain
// success (docs/design/contract.md "Exit codes").
//
// Into E3 (production) a release asks first (ops/production_plan.hpp): the
// import runs once in a transaction at the target that is rolled back —
// signature, environment, labels, drift — and the plan shows what it would
// import and flag. A dry run is that transaction alone: nothing imported,
// nothing marked at the source, no question (docs/production-changes.md "Dry runs").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/output.hpp"
#include "ops/production_plan.hpp"
#include "site/client/releases.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

struct ReleaseRequest {
  std::string from;                              // source site (e1 or e2)
  std::string to;                                // target site, or e3 for the E3 primary
  std::vector<std::string> rules;                // only these (empty: every releasable rule)
  std::optional<std::string> expected_checksum;  // the target's snapshot checksum before
  bool allow_dr_site = false;
  std::optional<double> wait_replicated_seconds;
  bool dry_run = false;
  ConfirmHook confirm;  // asked when the target is an E3 site, when set
};

struct ReleasedVersion {
  std::string rule_key;
  std::string label;
  bool already_there = false;  // the target held it before this import
  nlohmann::json annotations;  // import_release's annotations of it; null when none
};

struct ReleaseReport {
  std::string source;
  std::string source_environment;
  std::string target;
  std::string target_environment;
  std::string bundle_sha256;
  // nullopt: nothing to release (nothing was sent to the target).
  std::optional<site::client::ImportReport> import;
  std::vector<ReleasedVersion> versions;
  int promoted = 0;            // versions marked promoted at the source
  bool dry_run = false;        // the import was rolled back, nothing marked
  nlohmann::json replication;  // the wait's report; null without a wait
  std::string summary;         // "committed", "committed, replicated to …", "nothing to release: …"
  int exit_code = 0;

  nlohmann::json to_json() const;
};

// The form of a snapshot checksum (the SQL API's snapshot_checksum()): 64
// lowercase hex digits.
bool is_snapshot_checksum(std::string_view text);

// Throws common::ExitError(exit_usage) for an expected checksum that is not
// one: import_release compares it as text, so a typo would otherwise pass as
// "drift" and the release would go through. Checked before any site is
// contacted.
void check_expected_checksum(const std::optional<std::string>& expected);

// Whether a release reached every other site (or did not have to wait):
// exit 0; a wait that ran out: exit 3. Drift never changes the exit code:
// it is reported, not refused.
int release_exit_code(const nlohmann::json& replication);

ReleaseReport release(const config::Config& config, const ReleaseRequest& request,
                      const common::ProgressSink& progress);

}  // namespace rulekeeper::ops
