// `at-risk --primary S --standby S`: the exact list of changes a failover to
// that standby right now would lose.
//
// Standby reachable: the version-vector difference — the primary's journal
// entries the standby's vector does not cover (journal_since). The standby
// is read first, so anything that replicates in between is at worst listed
// once too often, never missed.
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
  std::vector<std::string> notes;

  bool estimate() const { return method != AtRiskMethod::version_vector; }
  bool unknown() const { return method == AtRiskMethod::unavailable; }
  bool at_risk() const { return unknown() || !changes.empty(); }
  int exit_code() const;  // 0 nothing at risk; 3 something, or unknown
  nlohmann::json to_json() const;
};

// The pairs to check: --primary defaults to the current E3 primary (probed;
// exit 4/3 as site::writer when there is none), --standby to every other
// configured E3 site, one request each. --slot needs --standby.
std::vector<AtRiskRequest> at_risk_requests(const config::Config& config, const AtRiskRequest& given);

// Throws common::ExitError: exit 2 for unknown sites or the same site twice,
// 4 when the primary does not answer, 3 when the "primary" is in recovery.
AtRiskReport at_risk(const config::Config& config, const AtRiskRequest& request);

}  // namespace rulekeeper::ops
