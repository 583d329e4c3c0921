// A release lost with IPC2 is repeatable (issue #14 item 5). A release that
// committed only at the E3 primary (IPC1 cut off) and was lost with it has
// left its source all the same: the source marked those versions `promoted`,
// so a plain release finds nothing to send. When the target is the DR site
// acting as the E3 primary (release --allow-dr-site), rulectl also exports
// what already left the source (export_release_again, signed like any
// bundle), and the target imports it: import_release skips what it holds
// (by rule, label and content_sha256), so exactly what the target lacks —
// by content, whatever the source's marks say — arrives, as a release does
// (awaiting_sl at E3).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/output.hpp"
#include "ops/production_plan.hpp"
#include "site/client/releases.hpp"

namespace rulekeeper::ops {

struct ReleaseAgain {
  std::string bundle_sha256;
  std::vector<site::client::BundleVersion> lacked;  // what the target did not hold: imported now
  std::size_t already_there = 0;                    // released earlier and held by the target
  nlohmann::json to_json() const;
};

// Exports again at `source`, imports at `target` (one transaction) when the
// target lacks any of it — after `confirm` (when set) has been shown what it
// lacks; a dry run (`dry_run`) reports what it lacks and imports nothing.
// nullopt: nothing ever left the source.
std::optional<ReleaseAgain> release_again(pqxx::connection& source, const std::string& source_name,
                                          pqxx::connection& target, const std::string& target_name,
                                          const std::vector<std::string>& rules, bool dry_run,
                                          const ConfirmHook& confirm, const common::ProgressSink& progress);

}  // namespace rulekeeper::ops
