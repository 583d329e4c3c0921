// One PostgreSQL server on this host, as rulectl and the cluster fixture
// drive it: its data directory, the bindir of its tools, how it is started
// and stopped, and the settings file that says whom it follows. Plain
// values: ops/ fills it from rulectl.toml (config::SiteConfig), the sandbox
// from its own layout.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace rulekeeper::pgnode {

struct LocalNode {
  std::string name;  // the site, for messages
  std::optional<std::string> pgdata;
  std::string bindir;                        // initdb, pg_ctl, pg_controldata, pg_rewind, pg_basebackup
  std::optional<std::string> start_command;  // through /bin/sh
  std::optional<std::string> stop_command;
  // The node's own settings file outside PGDATA (the server runs with
  // -c config_file=<it>); unset: PGDATA/postgresql.auto.conf.
  std::optional<std::string> conf_file;
  // Command templates run through /bin/sh instead of the local tools when
  // the node is on another host (pgnode/node_control.hpp).
  std::optional<std::string> rewind_command;
  std::optional<std::string> controldata_command;
  std::optional<std::string> standby_command;
};

// "" when rulectl can drive the node: start_command and stop_command, and
// for pg_controldata, pg_rewind and the standby settings either their
// templates or pgdata (the local default); else what it lacks
// ("pgdata (or controldata_command, rewind_command, standby_command),
// stop_command").
std::string missing_control(const LocalNode& node);

// PGDATA, or common::ExitError(exit_usage) naming the node and the key.
std::filesystem::path pgdata_of(const LocalNode& node);

// The node's stop_command / start_command through /bin/sh, output appended
// to `log`; common::ExitError(exit_failed) with the log's tail if it fails.
// stop() then waits (bounded) until the postmaster is gone; start() first
// waits until a killed postmaster's zombie is reaped (docs/design/postgres-traps.md
// "A crashed primary coming back": its PID in the lock file counts as alive).
void stop(const LocalNode& node, const std::filesystem::path& log,
          std::chrono::seconds timeout = std::chrono::seconds(120));
void start(const LocalNode& node, const std::filesystem::path& log,
           std::chrono::seconds timeout = std::chrono::seconds(120));

}  // namespace rulekeeper::pgnode
