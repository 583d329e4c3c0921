// What every E3 site serves, rule by rule (issue #19): `rulectl rules` and
// the portal's rules page share rules_matrix(); the portal's rule page and
// hotfix page read rule_page() and hotfix_overview(). Reads only, each site
// on its own connection: a site that is down is a column marked down, not a
// failure of the whole report (the other sites are still shown).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "site/client/hotfixes.hpp"
#include "site/client/rules_view.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

struct RulesRequest {
  std::string ruleset;             // "" every ruleset
  std::string text;                // "" every rule; else a substring of the key
  std::vector<std::string> sites;  // empty: every E3 site, in config order
};

struct RulesSite {
  std::string site;
  bool reachable = false;
  bool refused = false;  // the server refused the login (not down)
  std::string error;
};

struct RulesCell {
  std::optional<site::client::ServedVersion> prod;
  std::optional<site::client::ServedVersion> sl;
  bool known = false;  // the site answered and holds the rule
};

struct RulesRow {
  std::string rule_key;
  std::string ruleset;
  std::vector<RulesCell> cells;  // one per RulesReport::sites
  // The reachable sites disagree on what the channel serves (label or pin).
  bool prod_differs = false;
  bool sl_differs = false;
};

struct RulesReport {
  std::vector<RulesSite> sites;
  std::vector<RulesRow> rows;
  bool any_down() const;
  int exit_code() const;  // 4 when a site did not answer, else 0
  nlohmann::json to_json() const;
};

// Throws common::ExitError(exit_usage) for a site name not in the config.
RulesReport rules_matrix(const config::Config& config, const RulesRequest& request);

// ---- one rule -------------------------------------------------------------------

struct RulePage {
  std::string site;  // where it was read
  site::client::RuleDetail detail;
  nlohmann::json to_json() const;
};

// The rule at `site_name` (e3: the E3 primary, else that site; a standby
// reads too). Not there: common::ExitError(exit_usage) "no rule … at SITE".
RulePage rule_page(const config::Config& config, const std::string& site_name, const std::string& rule_key);

// A version's body at the site (for side-by-side diffs); exit_usage when absent.
nlohmann::json version_body(const config::Config& config, const std::string& site_name, const std::string& rule_key,
                            const std::string& label);

// ---- hotfixes -------------------------------------------------------------------

struct HotfixOverviewRow {
  site::client::HotfixRow hotfix;
  // Per other E3 site: applied (true), not yet (false), unknown (site down: absent).
  std::vector<std::pair<std::string, std::optional<bool>>> applied_at;
  std::optional<std::string> receipt_file;  // in state_dir, when this rulectl host wrote one
};

struct HotfixOverview {
  std::string site;  // where the list was read (the E3 primary)
  std::vector<HotfixOverviewRow> rows;
  nlohmann::json to_json() const;
};

// Every hotfix at the E3 primary (newest first), with whether each other E3
// site holds it and the receipt this host wrote.
HotfixOverview hotfix_overview(const config::Config& config);

// ---- the hotfix gate, before a change -------------------------------------------

// What a move of prod of `rule_key` to `label` (nullopt: deactivation) would
// undo, read at the E3 primary (the SQL API's hotfix_gate, readable by
// rulekeeper_reader): [{hotfix_id, label, diff, classification, paths}] —
// the form shows each with its diff and asks to acknowledge exactly these.
nlohmann::json gate_preview(const config::Config& config, const std::string& rule_key,
                            const std::optional<std::string>& label);
// The version a rollback of `channel` would re-activate (nullopt: none).
std::optional<std::string> rollback_target(const config::Config& config, const std::string& rule_key,
                                           const std::string& channel);
// A cutover's gate: for every rule whose sl serves another version than
// prod, the hotfixes that move would undo, each with "ack" = "RULE@LABEL"
// (what cutover's acknowledgement names) and "rule_key".
nlohmann::json cutover_gate(const config::Config& config);

}  // namespace rulekeeper::ops
