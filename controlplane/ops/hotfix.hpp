// What the hotfix verbs do (docs/design/architecture.md "Hotfix",
// "Replication model"): the restricted, direct edit at the E3 primary, its
// receipt, the optional wait until the other E3 sites have applied it, a
// receipt replayed at another site, and reading hotfixes back. Reports, no
// printing: the CLI renders them (text or --json), other front ends may too.
//
// The extension decides (policy, reason, the E3 primary, N.k label, prod and
// SL moving, journal): its hotfix() runs in one transaction, the new
// version's checksum is read in that same transaction, it commits, and only
// then
//   1. the receipt (rule, base label, body, reason, content checksum …) is
//      written to state_dir — so that if the primary dies before its
//      standbys have the change, `hotfix replay RECEIPT --site ipc1`
//      re-applies the very same content at the new primary;
//   2. with --sync, wait_applied() waits (bounded by --sync-timeout) until
//      every other E3 site has replayed past the commit's LSN and holds the
//      hotfix: "applied at ipc1" or "committed at ipc2 only, NOT yet at
//      ipc1" (exit 3).
// The wait is after the commit on purpose: a synchronous-commit wait
// (synchronous_commit = remote_apply) happens inside COMMIT with every lock
// of the transaction still held — hotfix() takes the per-site lock, so every
// E3 write would queue behind a standby that is away
// (docs/design/postgres-traps.md "Synchronous commit holds locks"). rulectl
// never sets synchronous_commit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/output.hpp"
#include "site/client/hotfixes.hpp"
#include "site/config.hpp"
#include "site/topology.hpp"
#include "site/waiter.hpp"

namespace rulekeeper::ops {

// A site to read at: `e3` is the E3 primary (no site may be called e3),
// any other name that site (a standby too). `action` names the verb in
// messages.
site::Site open_for_read(const config::Config& config, const std::string& name, const std::string& action);

// ---- the --sync wait ---------------------------------------------------------

// The wait itself is site::wait_hotfix_applied (the one replication waiter);
// this adds what the hotfix document says around it.
struct SyncReport {
  std::string commit_lsn;
  double timeout_seconds = 0;
  site::WaitReport wait;  // verdict key "applied"
  // "applied at ipc1 (commit LSN … at ipc2)" / "committed at ipc2 only, NOT yet at ipc1 (…)".
  std::string summary;
  bool applied() const { return wait.done; }
  nlohmann::json to_json() const;
};

// After the commit at `primary` (its WAL insert position then: `lsn`): waits
// up to `timeout` seconds until every other E3 site has replayed past `lsn`
// and holds hotfix `hotfix_id`.
SyncReport wait_applied(const config::Config& config, const std::string& primary, const std::string& lsn,
                        const std::string& hotfix_id, double timeout, const common::ProgressSink& progress);

// ---- hotfix, hotfix replay ----------------------------------------------------

// What a confirmed plan showed (docs/operator-safety.md "Confirmation"): the
// change runs only if the database would still make that one — prod of the
// rule still serves `base_label` and the new version is still `label` —
// else it is refused (exit 3) and nothing is committed.
struct HotfixExpectation {
  std::string base_label;
  std::string label;
};

struct HotfixRequest {
  std::string site;
  std::string rule;
  std::string body_file;  // "-": stdin
  std::string reason;
  bool sync = false;
  double sync_timeout = 10;
  // The sl_failed version(s) the body's content equals, named by the
  // operator (comma-separated labels; "" none): hotfix()'s
  // acknowledge_sl_failed.
  std::string acknowledge_sl_failed;
  // Everything checked by the database inside a transaction that is rolled
  // back: no version, no activation, no journal entry, no receipt, no wait.
  bool dry_run = false;
  std::optional<HotfixExpectation> expect;
};

// A committed hotfix (made or replayed) and everything after the commit.
struct HotfixReport {
  std::string site;
  nlohmann::json result;   // the report of the extension's hotfix()
  nlohmann::json receipt;  // as written (with commit_lsn, and replay_of for a replay)
  std::optional<std::string> receipt_file;
  std::string receipt_error;  // why the receipt could not be written ("" if it was)
  bool sync_requested = false;
  std::optional<SyncReport> sync;
  std::string sync_summary;                 // with --sync
  std::vector<std::string> not_waited_for;  // the other E3 sites, without --sync
  std::vector<std::string> warnings;        // for stderr
  int exit_code = 0;                        // 0; 3 not applied in time; 1 the receipt could not be written
  // A dry run: `result` is what hotfix() reported inside the transaction
  // that was rolled back (the label, diff, channels it would move); no
  // receipt, no wait, nothing committed.
  bool dry_run = false;
  nlohmann::json to_json() const;
};

// Checks the request (an empty reason, a body that is not one strict JSON
// object: exit 2, nothing sent), makes the hotfix at the E3 primary, writes
// the receipt, waits with --sync. Throws common::ExitError for refusals.
HotfixReport hotfix(const config::Config& config, const HotfixRequest& request, const common::ProgressSink& progress);

struct ReplayRequest {
  std::string receipt_file;
  std::string site;
  bool sync = false;
  double sync_timeout = 10;
  bool dry_run = false;  // as HotfixRequest::dry_run
  std::optional<HotfixExpectation> expect;
};

struct ReplayReport {
  std::string site;
  std::string receipt_file;
  nlohmann::json receipt;  // as read
  std::string hotfix_id, rule_key, label, from_site, content_sha256;
  // Replayed: the new hotfix. Else the site already held the content:
  std::optional<HotfixReport> replayed;
  std::string held_as, held_qualification;
  std::optional<std::string> prod;  // what prod serves there
  bool dry_run = false;
  int exit_code = 0;
  nlohmann::json to_json() const;
};

// Re-applies a receipt's body at `site` (the E3 primary) unless it already
// holds that content for the rule. Refused (exit 3) when the body does not
// match the receipt's checksum or prod there serves another base version.
ReplayReport replay(const config::Config& config, const ReplayRequest& request, const common::ProgressSink& progress);

// ---- hotfix list, hotfix show -------------------------------------------------

struct HotfixList {
  std::string site;
  bool since_last_release = false;
  std::optional<std::string> last_release_at;
  std::vector<site::client::HotfixRow> hotfixes;
  nlohmann::json to_json() const;
};

HotfixList list_hotfixes(const config::Config& config, const std::string& site, bool since_last_release);

struct HotfixDetail {
  std::string read_at;
  site::client::HotfixRow hotfix;
  std::vector<site::client::HotfixClassification> classified_versions;
  std::vector<site::client::HotfixAcknowledgement> acknowledgements;
  nlohmann::json to_json() const;
};

// `id`: a hotfix id or an unambiguous start of one.
HotfixDetail show_hotfix(const config::Config& config, const std::string& id, const std::string& site);

}  // namespace rulekeeper::ops
