// See tools.hpp.
#include "pgnode/tools.hpp"

#include <cstdlib>
#include <sstream>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "common/time.hpp"

namespace fs = std::filesystem;

namespace rulekeeper::pgnode {
namespace {

std::vector<std::string> tool_argv(const std::string& bindir, const std::string& tool,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> argv{(fs::path(bindir) / tool).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace

ToolRun run_tool(const std::string& bindir, const std::string& tool, const std::vector<std::string>& args,
                 const ToolOptions& options) {
  const auto argv = tool_argv(bindir, tool, args);
  // Captured apart and then appended, so the caller gets this run's output
  // alone (the log also holds earlier runs and, for a node, its server).
  const fs::path capture = options.log.string() + ".out";
  std::error_code ec;
  fs::remove(capture, ec);
  common::append_file(options.log,
                      fmt::format("\n--- {} runs: {}\n", common::utc_now_text(), process::quote_command(argv)));
  process::RunOptions opts;
  opts.stdout_file = capture;
  opts.cwd = options.cwd;
  opts.timeout = options.timeout;
  opts.as_postgres_if_root = true;
  opts.environment = {"LC_ALL=C"};
  ToolRun run;
  run.result = process::run(argv, opts);
  if (fs::exists(capture)) run.output = common::read_file(capture);
  fs::remove(capture, ec);
  common::append_file(options.log, run.output);
  return run;
}

std::string run_tool_checked(const std::string& bindir, const std::string& tool, const std::vector<std::string>& args,
                             const ToolOptions& options, const std::string& site) {
  ToolRun run = run_tool(bindir, tool, args, options);
  if (!run.result.ok()) {
    const std::string tail = run.output.size() > 1500 ? run.output.substr(run.output.size() - 1500) : run.output;
    throw common::ExitError(common::exit_failed,
                            fmt::format("{} of site {} failed ({}): {} (log: {})", tool, site, run.result.describe(),
                                        common::one_line(tail), options.log.string()));
  }
  return run.output;
}

std::string tool_command(const std::string& bindir, const std::string& tool, const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  if (process::running_as_root()) argv = {"runuser", "-u", "postgres", "--"};
  for (auto& a : tool_argv(bindir, tool, args)) argv.push_back(std::move(a));
  return process::quote_command(argv);
}

ControlData parse_controldata(const std::string& output, const std::string& site) {
  ControlData cd;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = common::trim(line.substr(0, colon)), val = common::trim(line.substr(colon + 1));
    if (key == "Database cluster state")
      cd.state = val;
    else if (key == "Latest checkpoint location")
      cd.checkpoint_lsn = val;
    else if (key == "Latest checkpoint's REDO location")
      cd.redo_lsn = val;
    else if (key == "Latest checkpoint's TimeLineID")
      cd.timeline = std::atoll(val.c_str());
    else if (key == "Min recovery ending loc's timeline")
      cd.min_recovery_timeline = std::atoll(val.c_str());
  }
  if (cd.state.empty() || cd.checkpoint_lsn.empty())
    throw common::ExitError(
        common::exit_failed,
        fmt::format("pg_controldata of site {}: no cluster state or checkpoint location in its output", site));
  return cd;
}

ControlData controldata(const LocalNode& node, const fs::path& log) {
  const std::string out = run_tool_checked(node.bindir, "pg_controldata", {"-D", pgdata_of(node).string()},
                                           {log, std::chrono::seconds(30), {}}, node.name);
  return parse_controldata(out, node.name);
}

std::string rewind_command(const LocalNode& node, const std::string& source_conninfo) {
  return tool_command(node.bindir, "pg_rewind",
                      {"-D", node.pgdata.value_or("<pgdata>"), "--source-server=" + source_conninfo});
}

std::string rewind(const LocalNode& node, const std::string& source_conninfo, const fs::path& log) {
  return run_tool_checked(node.bindir, "pg_rewind",
                          {"-D", pgdata_of(node).string(), "--source-server=" + source_conninfo},
                          {log, std::chrono::seconds(600), {}}, node.name);
}

}  // namespace rulekeeper::pgnode
