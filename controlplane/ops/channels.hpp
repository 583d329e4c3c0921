// The channel verbs — validate, activate, deactivate, rollback, pin, unpin,
// cutover — each one call of the extension's function at the resolved site
// (`e3` = the E3 primary), in one transaction, with the before and after of
// the activation read in that transaction. The extension decides (admission,
// pins, the hotfix gate, expected_epoch); a refusal comes back as
// common::ExitError with the exit code of its SQLSTATE (site/topology.hpp).
//
// At an E3 site (production) a verb asks first (ops/production_plan.hpp):
// the change runs once in a transaction that is rolled back — every check
// the database makes, the hotfix gate with its diffs — and only when that
// went through is the plan shown; the real change then refuses if the
// activation moved in between. A dry run is that first transaction alone:
// the same refusals, nothing changed, no question (docs/production-changes.md "Dry
// runs").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/output.hpp"
#include "ops/production_plan.hpp"
#include "site/client/channels.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

enum class ChannelAction { activate, deactivate, rollback, pin, unpin };
std::string_view to_string(ChannelAction action);

struct ChannelRequest {
  std::string site;     // site name, or e3 for the E3 primary
  std::string channel;  // sl or prod
  std::string rule;
  std::string version;                      // activate, pin
  site::client::Acknowledgement ack;        // activate, deactivate, rollback, pin
  std::optional<long long> expected_epoch;  // activate, deactivate, rollback
  std::optional<double> wait_replicated_seconds;
  bool dry_run = false;
  ConfirmHook confirm;  // asked at an E3 site when set
};

// Set when the verb waited for replication after its commit.
struct ReplicationOutcome {
  nlohmann::json report;
  std::string summary;  // "committed, replicated to …" / "committed, NOT replicated to …"
};

struct ChannelReport {
  std::string site;
  ChannelAction action = ChannelAction::activate;
  std::string rule_key;
  std::string channel;
  std::string version;  // as requested (empty for deactivate, rollback, unpin)
  std::optional<site::client::Activation> before;
  std::optional<site::client::Activation> after;
  long long epoch = 0;
  // The hotfix gate of a move of prod (empty elsewhere): every hotfix it
  // undoes, each with its diff, and the labels acknowledged.
  nlohmann::json gate = nlohmann::json::array();
  std::vector<std::string> acknowledged_hotfixes;
  bool dry_run = false;  // nothing was changed: the transaction was rolled back
  std::optional<ReplicationOutcome> replication;
  int exit_code = 0;  // 3 when a replication wait ran out

  bool changed() const { return before != after; }
  nlohmann::json to_json() const;
};

ChannelReport change_channel(const config::Config& config, ChannelAction action, const ChannelRequest& request,
                             const common::ProgressSink& progress);

struct ValidateRequest {
  std::string site;
  std::string rule;
  std::string version;
  bool passed = false;
  std::optional<std::string> reason;  // default: the command
  ConfirmHook confirm;                // asked at an E3 site when set
};

struct ValidateReport {
  std::string site;
  std::string rule_key;
  std::string label;
  std::optional<std::string> from;  // the qualification before
  std::string to;
  std::string reason;
  int exit_code = 0;

  nlohmann::json to_json() const;
};

// The outcome of a test at e2 or of soft launch at e3 (lifecycle.hpp
// validation_outcome); refused (exit 3) at any other environment.
ValidateReport validate(const config::Config& config, const ValidateRequest& request);

struct CutoverRequest {
  std::string site;
  site::client::Acknowledgement ack;
  std::optional<double> wait_replicated_seconds;
  bool dry_run = false;
  ConfirmHook confirm;
};

struct CutoverReport {
  std::string site;
  site::client::CutoverResult result;
  bool dry_run = false;
  // Waited for only when something moved.
  std::optional<ReplicationOutcome> replication;
  int exit_code = 0;

  nlohmann::json to_json() const;
};

CutoverReport cutover(const config::Config& config, const CutoverRequest& request,
                      const common::ProgressSink& progress);

// The gate's hotfixes as text lines: "hotfix 2.1 (overrides): /rate: 0.1 -> 0.15", then what the move would
// serve instead — for plans, dry runs and reports.
std::vector<std::string> gate_lines(const nlohmann::json& gate);

// Activation as JSON: {"label", "pinned", "epoch"}, null when not active.
nlohmann::json activation_json(const std::optional<site::client::Activation>& activation);

}  // namespace rulekeeper::ops
