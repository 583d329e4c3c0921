// PostgreSQL's programs from a bindir — initdb, pg_ctl, pg_basebackup,
// pg_controldata, pg_rewind — as the postgres OS user when we are root
// (they refuse to run as root), with their output appended to a log. Debian
// keeps them off PATH (docs/design/postgres-traps.md "Packages").
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "pgnode/local_node.hpp"
#include "pgnode/process.hpp"

namespace rulekeeper::pgnode {

struct ToolOptions {
  std::filesystem::path log;  // the output is appended here, after a line naming the command
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
  std::filesystem::path cwd;  // empty: one the postgres user can enter
};

struct ToolRun {
  process::RunResult result;
  std::string output;  // stdout and stderr
};

// Runs <bindir>/<tool> args (LC_ALL=C: pg_controldata's labels are
// translated otherwise). Throws only if it cannot be started.
ToolRun run_tool(const std::string& bindir, const std::string& tool, const std::vector<std::string>& args,
                 const ToolOptions& options);
// The same; a failure is common::ExitError(exit_failed) naming the tool,
// `site`, how it ended, the end of its output and the log.
std::string run_tool_checked(const std::string& bindir, const std::string& tool, const std::vector<std::string>& args,
                             const ToolOptions& options, const std::string& site);

// The command line run_tool runs, shell-quoted (`runuser -u postgres --`
// first when root): for runbooks and rulectl.toml's start/stop commands.
std::string tool_command(const std::string& bindir, const std::string& tool, const std::vector<std::string>& args);

struct ControlData {
  std::string state;                    // "shut down", "shut down in recovery", "in production", ...
  std::string checkpoint_lsn;           // Latest checkpoint location
  std::string redo_lsn;                 // Latest checkpoint's REDO location
  long long timeline = 0;               // Latest checkpoint's TimeLineID
  long long min_recovery_timeline = 0;  // Min recovery ending loc's timeline (0: none)
};
// pg_controldata's output, read; common::ExitError(exit_failed) naming
// `site` when it has no cluster state or checkpoint location.
ControlData parse_controldata(const std::string& output, const std::string& site);
// pg_controldata -D <pgdata>.
ControlData controldata(const LocalNode& node, const std::filesystem::path& log);

// pg_rewind -D <pgdata> --source-server=<source_conninfo>. Returns its
// output ("no rewind required" or "Done!").
std::string rewind(const LocalNode& node, const std::string& source_conninfo, const std::filesystem::path& log);
// The exact command line rewind() runs (for the runbook print).
std::string rewind_command(const LocalNode& node, const std::string& source_conninfo);

}  // namespace rulekeeper::pgnode
