// `at-risk --primary S --standby S`: the exact list of changes a failover to
// that standby right now would lose.
//
// Standby reachable: the version-vector difference — the primary's journal
// entries the standby's vector does not cover (journal_since). The standby
// is read first, so anything that replicates in between is at worst listed
// once too often, never missed. Each listed entry is then either "not
// received" (lost on a failover now: at risk) or "received, not replayed"
// (its commit record is in the standby's received WAL: promotion replays it
// first, docs/design/postgres-traps.md "Streaming replication pair" — kept,
// issue #14 item 6). Received is claimed only when proven: the standby's
// received position R is at or past the primary's WAL position read after
// the list (asked again for up to a second: a streaming standby gets there
// in milliseconds), or past a journal entry of a later transaction (the site lock
// serialises journaling transactions until their commit, so a later
// transaction's entry lies after this one's commit record).
// Standby unreachable: an estimate from the standby's physical slot on the
// primary: entries written at or after the slot's restart_lsn certainly did
// not reach it; entries written shortly before may be missing too (their
// commit record can lie after the slot position). No slot: unknown (exit 3).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rulekeeper/version_vector.hpp"
#include "site/client/journal.hpp"
#include "site/client/replication.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

struct AtRiskRequest {
  std::string primary;  // empty: the current E3 primary (at_risk_requests)
  std::string standby;  // empty: every other E3 site (at_risk_requests)
  std::string slot;     // default: the standby's site name
};

enum class AtRiskMethod {
  version_vector,  // exact
  slot_estimate,   // the standby is unreachable: from its slot's position
  unavailable,     // unreachable and no usable slot: unknown
};

struct AtRiskReport {
  std::string primary;
  std::string standby;
  bool standby_reachable = false;
  std::string standby_error;  // why it is unreachable
  AtRiskMethod method = AtRiskMethod::version_vector;
  std::optional<VersionVector> standby_version_vector;  // version_vector method
  std::string slot_name;
  std::optional<site::client::PhysicalSlot> slot;  // the estimate's slot, if there is one
  std::vector<site::client::JournalEntry> changes;
  // Parallel to `changes`: proven received by the standby (kept by a
  // promotion now). Always false for the slot estimate.
  std::vector<bool> received;
  // What the proof compared (version_vector method only).
  std::optional<std::string> standby_received_lsn, standby_replayed_lsn, primary_wal_position;
  std::string replay_pause_state;
  std::vector<std::string> notes;

  std::size_t not_received() const;  // the changes a failover now would lose
  std::size_t received_not_replayed() const { return changes.size() - not_received(); }

  bool estimate() const { return method != AtRiskMethod::version_vector; }
  bool unknown() const { return method == AtRiskMethod::unavailable; }
  bool at_risk() const { return unknown() || not_received() > 0; }
  int exit_code() const;  // 0 nothing at risk; 3 something, or unknown
  nlohmann::json to_json() const;
};

// Which of `changes` (a primary's entries a standby's vector lacks) the
// standby has proven received, given its received WAL position (read before
// the list) and the primary's insert position read after it; shared with
// watch's metrics (ops/watch_metrics.hpp).
std::vector<bool> proven_received(const std::vector<site::client::JournalEntry>& changes,
                                  const std::optional<std::string>& received, const std::string& primary_position);

// The pairs to check: --primary defaults to the current E3 primary (probed;
// exit 4/3 as site::writer when there is none), --standby to every other
// configured E3 site, one request each. --slot needs --standby.
std::vector<AtRiskRequest> at_risk_requests(const config::Config& config, const AtRiskRequest& given);

// Throws common::ExitError: exit 2 for unknown sites or the same site twice,
// 4 when the primary does not answer, 3 when the "primary" is in recovery.
AtRiskReport at_risk(const config::Config& config, const AtRiskRequest& request);

}  // namespace rulekeeper::ops
