// The channel verbs — validate, activate, deactivate, rollback, pin, unpin,
// cutover — each one call of the extension's function at the resolved site
// (`e3` = the E3 primary), in one transaction, with the before and after of
// the activation read in that transaction. The extension decides (admission,
// pins, the hotfix gate, expected_epoch); a refusal comes back as
// common::ExitError with the exit code of its SQLSTATE (site/topology.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/output.hpp"
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
  bool acknowledge = false;                 // activate, deactivate, rollback
  std::optional<long long> expected_epoch;  // activate, deactivate, rollback
  std::optional<double> wait_replicated_seconds;
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

struct CutoverReport {
  std::string site;
  site::client::CutoverResult result;
  // Waited for only when something moved.
  std::optional<ReplicationOutcome> replication;
  int exit_code = 0;

  nlohmann::json to_json() const;
};

CutoverReport cutover(const config::Config& config, const std::string& site, bool acknowledge,
                      std::optional<double> wait_replicated_seconds, const common::ProgressSink& progress);

// Activation as JSON: {"label", "pinned", "epoch"}, null when not active.
nlohmann::json activation_json(const std::optional<site::client::Activation>& activation);

}  // namespace rulekeeper::ops
