// See node_control.hpp.
#include "pgnode/node_control.hpp"

#include <cctype>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "pgnode/process.hpp"
#include "pgnode/settings.hpp"

namespace fs = std::filesystem;

namespace rulekeeper::pgnode {
namespace {

// A configured template through /bin/sh; its own output apart (as run_tool).
ToolRun run_template(const LocalNode& node, const std::string& key, const std::string& command, const fs::path& log,
                     std::chrono::seconds timeout) {
  const fs::path capture = log.string() + ".out";
  std::error_code ec;
  fs::remove(capture, ec);
  common::append_file(log, fmt::format("\n--- {} rulectl runs {} of site {}: {}\n", common::utc_now_text(), key,
                                       node.name, command));
  process::RunOptions opts;
  opts.stdout_file = capture;
  opts.cwd = "/";
  opts.timeout = timeout;
  opts.environment = {"LC_ALL=C"};
  ToolRun run;
  run.result = process::run({"/bin/sh", "-c", command}, opts);
  if (fs::exists(capture)) run.output = common::read_file(capture);
  fs::remove(capture, ec);
  common::append_file(log, run.output);
  return run;
}

std::string checked(const LocalNode& node, const std::string& key, const std::string& command, const ToolRun& run,
                    const fs::path& log) {
  if (!run.result.ok()) {
    const std::string tail = run.output.size() > 1500 ? run.output.substr(run.output.size() - 1500) : run.output;
    throw common::ExitError(common::exit_failed,
                            fmt::format("{} of site {} failed ({}): {}; its output: {} (log: {})", key, node.name,
                                        run.result.describe(), command, common::one_line(tail), log.string()));
  }
  return run.output;
}

std::string rewind_template(const LocalNode& node, const std::string& source_conninfo, bool dry_run) {
  return expand_template(*node.rewind_command,
                         {{"site", node.name},
                          {"source_conninfo", source_conninfo},
                          {"dry_run", dry_run ? "--dry-run" : ""}},
                         "sites." + node.name + ".rewind_command");
}

}  // namespace

std::string expand_template(const std::string& tmpl, const std::map<std::string, std::string>& values,
                            const std::string& key) {
  std::string out;
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const char c = tmpl[i];
    if (c != '{' || (i > 0 && tmpl[i - 1] == '$')) {
      out += c;
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    while (end < tmpl.size() && (std::islower(static_cast<unsigned char>(tmpl[end])) || tmpl[end] == '_')) ++end;
    if (end == i + 1 || end >= tmpl.size() || tmpl[end] != '}') {
      out += c;
      ++i;
      continue;
    }
    const std::string name = tmpl.substr(i + 1, end - i - 1);
    const auto v = values.find(name);
    if (v == values.end())
      throw common::ExitError(common::exit_usage, fmt::format("{}: unknown placeholder {{{}}}", key, name));
    out += name == "dry_run" ? v->second : process::shell_quote(v->second);
    i = end + 1;
  }
  return out;
}

ControlData node_controldata(const LocalNode& node, const fs::path& log) {
  if (!node.controldata_command) return controldata(node, log);
  const std::string command =
      expand_template(*node.controldata_command, {{"site", node.name}}, "sites." + node.name + ".controldata_command");
  const ToolRun run = run_template(node, "controldata_command", command, log, std::chrono::seconds(60));
  return parse_controldata(checked(node, "controldata_command", command, run, log), node.name);
}

std::string node_rewind(const LocalNode& node, const std::string& source_conninfo, const fs::path& log) {
  if (!node.rewind_command) return rewind(node, source_conninfo, log);
  const std::string command = rewind_template(node, source_conninfo, false);
  return checked(node, "rewind_command", command,
                 run_template(node, "rewind_command", command, log, std::chrono::seconds(600)), log);
}

std::optional<ToolRun> node_rewind_dry_run(const LocalNode& node, const std::string& source_conninfo,
                                           const fs::path& log) {
  if (!node.rewind_command)
    return run_tool(node.bindir, "pg_rewind",
                    {"-D", pgdata_of(node).string(), "--source-server=" + source_conninfo, "--dry-run"},
                    {log, std::chrono::seconds(600), {}});
  if (node.rewind_command->find("{dry_run}") == std::string::npos) return std::nullopt;
  return run_template(node, "rewind_command", rewind_template(node, source_conninfo, true), log,
                      std::chrono::seconds(600));
}

std::string node_rewind_command(const LocalNode& node, const std::string& source_conninfo) {
  return node.rewind_command ? rewind_template(node, source_conninfo, false) : rewind_command(node, source_conninfo);
}

std::string make_standby(const LocalNode& node, const std::string& primary_conninfo,
                         const std::string& primary_slot_name, const fs::path& log) {
  if (!node.standby_command) {
    set_upstream(node, primary_conninfo, primary_slot_name);
    write_standby_signal(pgdata_of(node));
    return settings_file(node).string();
  }
  const std::string command =
      expand_template(*node.standby_command,
                      {{"site", node.name}, {"primary_conninfo", primary_conninfo}, {"slot_name", primary_slot_name}},
                      "sites." + node.name + ".standby_command");
  checked(node, "standby_command", command,
          run_template(node, "standby_command", command, log, std::chrono::seconds(120)), log);
  return "standby_command";
}

}  // namespace rulekeeper::pgnode
