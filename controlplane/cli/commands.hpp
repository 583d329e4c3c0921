// The verb groups of rulectl, one source file each; main.cpp wires them into
// CLI11. A verb's callback stores its exit code in `exit_code` and reports
// failures by throwing (common::ExitError carries a specific exit code).
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "site/config.hpp"

namespace rulekeeper::cli {

struct GlobalOptions {
  std::string config_file;  // --config; empty: $RULECTL_CONFIG, else ./rulectl.toml
  bool json = false;        // stdout holds exactly one JSON document
  bool yes = false;         // no confirmation prompts
};

// Loads the config the global options point at.
config::Config load_config(const GlobalOptions& global);

void add_status(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_sandbox(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_at_risk(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_compare(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_release(CLI::App& app, GlobalOptions& global, int& exit_code);
// validate, activate, deactivate, rollback, pin, unpin, cutover (channels.cpp).
void add_channels(CLI::App& app, GlobalOptions& global, int& exit_code);
// hotfix, hotfix list|show|replay (hotfix.cpp); diff (diff.cpp).
void add_hotfix(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_diff(CLI::App& app, GlobalOptions& global, int& exit_code);
// failover (failover.cpp), rejoin (rejoin.cpp), reconcile and conflicts
// list|resolve (reconcile.cpp), watch (watch.cpp).
void add_failover(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_rejoin(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_reconcile(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_watch(CLI::App& app, GlobalOptions& global, int& exit_code);
// version (version.cpp); `rulectl --version` is the same verb.
void add_version(CLI::App& app, GlobalOptions& global, int& exit_code);
// node standby (node.cpp): run on a site's host by a standby_command.
void add_node(CLI::App& app, GlobalOptions& global, int& exit_code);
// keys show|list|trust|revoke (keys.cpp).
void add_keys(CLI::App& app, GlobalOptions& global, int& exit_code);
// rules (rules.cpp): what prod and sl serve at every E3 site; portal
// (portal.cpp): the admin portal (issue #19).
void add_rules(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_portal(CLI::App& app, GlobalOptions& global, int& exit_code);
// patroni-callback (patroni_callback.cpp): Patroni's on_role_change.
void add_patroni_callback(CLI::App& app, GlobalOptions& global, int& exit_code);
// notify hold|release (notify.cpp): who is notified (docs/notifications.md).
void add_notify(CLI::App& app, GlobalOptions& global, int& exit_code);
// The notifications section of `status` (ops/notification_status.hpp), as text.
void print_notifications(const nlohmann::json& rows);

// `status` for a loaded config: prints the table (or, with json_out given,
// fills it with the {"sites":[...]} document instead) and returns the exit
// code (4 if any site is unreachable). Shared with `sandbox up`.
int report_status(const config::Config& config, nlohmann::json* json_out);

}  // namespace rulekeeper::cli
