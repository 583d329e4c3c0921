// What `reconcile` and `conflicts list|resolve` do (issue #6;
// docs/design/architecture.md "Journal").
//
// reconcile carries over what the target (the E3 primary) lacks, through the
// extension's import_changes(bundle, dry_run): idempotent by change_id; a
// version whose content the target already holds for that rule is not
// duplicated; orphaned versions come back 'recovered' under the next free
// label, not activated, annotated with their original change, site and time;
// orphaned activations and pins are listed, not re-applied; a change to a rule
// the target also changed since the divergence point is a conflict, recorded
// with both sides and never applied. Exit 3 while conflicts remain open.
//
// A bundle file (rulectl rejoin's orphans file) is read strictly first (a
// duplicated key is refused, named: ::jsonb would keep the last one
// silently), then sent as read, so the server checks its checksum. --from S:
// exported at S now with export_changes(<divergence>), the divergence being
// the target's latest failover event (else the target's version vector:
// then nothing is a conflict, because nothing changed at the target since).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "site/client/reconcile.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

struct ReconcileRequest {
  std::string from;    // a site to export from, or
  std::string bundle;  // a changes bundle file
  std::string to;      // the E3 primary (or e3)
  bool dry_run = false;
};

struct ReconcileReport {
  // import_changes' report (records, recovered (with recovered_label),
  // already_held, conflicts, listed_not_applied, open_conflicts, dry_run …)
  // with "target" and "from" added: the --json document.
  nlohmann::json report;
  std::string target;
  std::string source;  // the bundle file, or "site S"
  bool dry_run = false;
  long long open_conflicts = 0;
  int exit_code = 0;  // 3 while a conflict is open or new
  nlohmann::json to_json() const { return report; }
};

ReconcileReport reconcile(const config::Config& config, const ReconcileRequest& request);

struct ConflictList {
  std::string site;
  bool all = false;  // resolved ones too
  std::vector<site::client::Conflict> conflicts;
  long long open = 0;
  nlohmann::json to_json() const;
};

ConflictList list_conflicts(const config::Config& config, const std::string& site, bool all);

struct ConflictResolution {
  std::string site;
  std::string keep;
  nlohmann::json result;  // resolve_conflict's report with "open_conflicts"
  long long open_conflicts = 0;
  nlohmann::json to_json() const { return result; }
};

// The one conflict `id` names at the E3 primary (resolved ones too), read
// only: what `conflicts resolve` shows before it asks.
site::client::Conflict find_conflict(const config::Config& config, const std::string& site, const std::string& id);

// `id`: a conflict id or an unambiguous start of one; keep: target|source.
ConflictResolution resolve_conflict(const config::Config& config, const std::string& site, const std::string& id,
                                    const std::string& keep);

}  // namespace rulekeeper::ops
