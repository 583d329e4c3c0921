// What failover and rejoin do to a node's host, through the site's command
// templates in rulectl.toml when rulectl runs elsewhere (issue #16 item 4;
// docs/ha-managers.md "Command templates"), else through the local tools
// and files when the data directory is on rulectl's host (pgdata set, the
// default: what the sandbox and small installations did before):
//
//   controldata_command  pg_controldata -D <pgdata>: its output is parsed
//                        as pg_controldata's (parse_controldata)
//   rewind_command       pg_rewind -D <pgdata> --source-server={source_conninfo} {dry_run}
//   standby_command      make the stopped node a standby of
//                        {primary_conninfo} using slot {slot_name} (both ''
//                        for a standby with no upstream): primary_conninfo and
//                        primary_slot_name in its settings, standby.signal
//                        (`rulectl node standby` does it on the node's host)
//
// start_command and stop_command are pgnode::start/stop (local_node.hpp).
//
// Placeholders are {name} with name of [a-z_]: {site}, {source_conninfo},
// {primary_conninfo}, {slot_name} are replaced by the value shell-quoted
// (one word, whatever it holds); {dry_run} by --dry-run or nothing. The
// shell's ${VAR} and {a,b} are left alone. Templates run through /bin/sh with
// LC_ALL=C (pg_controldata's labels are translated otherwise), from /, their
// output appended to the action's log.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "pgnode/local_node.hpp"
#include "pgnode/tools.hpp"

namespace rulekeeper::pgnode {

// `tmpl` with its placeholders replaced by the values, shell-quoted; the
// value of "dry_run" goes in as it is. An unknown placeholder is
// common::ExitError(exit_usage) naming `key` (site/config.cpp refuses it
// when the file is read already).
std::string expand_template(const std::string& tmpl, const std::map<std::string, std::string>& values,
                            const std::string& key);

// pg_controldata of the node (controldata_command, else local).
ControlData node_controldata(const LocalNode& node, const std::filesystem::path& log);

// pg_rewind of the stopped node from source_conninfo (rewind_command, else
// local). Returns its output ("no rewind required" or "Done!").
std::string node_rewind(const LocalNode& node, const std::string& source_conninfo, const std::filesystem::path& log);

// pg_rewind --dry-run, as node_rewind; nullopt when rewind_command has no
// {dry_run} (the check is then skipped, and the caller says so).
std::optional<ToolRun> node_rewind_dry_run(const LocalNode& node, const std::string& source_conninfo,
                                           const std::filesystem::path& log);

// The command line node_rewind runs, for runbooks.
std::string node_rewind_command(const LocalNode& node, const std::string& source_conninfo);

// Makes the stopped node a standby of primary_conninfo with slot
// primary_slot_name (both empty: no upstream) that starts in recovery
// (standby_command, else set_upstream + standby.signal). Returns where, for
// the step's line ("standby_command" or the settings file).
std::string make_standby(const LocalNode& node, const std::string& primary_conninfo,
                         const std::string& primary_slot_name, const std::filesystem::path& log);

}  // namespace rulekeeper::pgnode
