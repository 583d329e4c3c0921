// `rulectl node standby` as an operation: what a site's standby_command runs
// ON the site's host when rulectl drives it from another one (issue #16
// item 4; docs/ha-managers.md "Command templates"). The local default of
// failover/rejoin (pgnode::make_standby without a template), for a node
// named by its paths instead of by rulectl.toml: primary_conninfo and
// primary_slot_name in its settings file (both removed when empty: no
// upstream), cleared from PGDATA/postgresql.auto.conf, and standby.signal.
// The node must be stopped; this touches files only.
#pragma once

#include <optional>
#include <string>

namespace rulekeeper::ops {

struct NodeStandbyRequest {
  std::string pgdata;
  std::optional<std::string> conf_file;  // unset: PGDATA/postgresql.auto.conf
  std::string primary_conninfo;          // "" : no upstream
  std::string slot_name;                 // "" : none
};

// Returns the settings file written. common::ExitError if PGDATA is not a
// data directory or its postmaster runs.
std::string node_standby(const NodeStandbyRequest& request);

}  // namespace rulekeeper::ops
