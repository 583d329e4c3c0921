// See local_node.hpp.
#include "pgnode/local_node.hpp"

#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/poll.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "pgnode/postmaster.hpp"
#include "pgnode/process.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace rulekeeper::pgnode {
namespace {

const std::string& command_of(const LocalNode& node, const std::optional<std::string>& command,
                              const std::string& key) {
  if (!command)
    throw common::ExitError(common::exit_usage, fmt::format("sites.{}.{} is not set in rulectl.toml", node.name, key));
  return *command;
}

// A configured shell command (start_command / stop_command).
void run_command(const LocalNode& node, const std::string& key, const std::string& command, const fs::path& log,
                 std::chrono::seconds timeout) {
  common::append_file(log, fmt::format("\n--- {} rulectl runs {} of site {}: {}\n", common::utc_now_text(), key,
                                       node.name, command));
  process::RunOptions opts;
  opts.stdout_file = log;
  opts.timeout = timeout;
  process::RunResult r = process::run({"/bin/sh", "-c", command}, opts);
  if (!r.ok())
    throw common::ExitError(common::exit_failed,
                            fmt::format("{} of site {} failed ({}): {}; end of {}: {}", key, node.name, r.describe(),
                                        command, log.string(), common::one_line(process::tail_of_file(log, 800))));
}

}  // namespace

std::string missing_control(const LocalNode& node) {
  std::vector<std::string> missing;
  if (!node.pgdata) {
    std::vector<std::string> templates;
    if (!node.controldata_command) templates.push_back("controldata_command");
    if (!node.rewind_command) templates.push_back("rewind_command");
    if (!node.standby_command) templates.push_back("standby_command");
    if (!templates.empty()) missing.push_back(fmt::format("pgdata (or {})", fmt::join(templates, ", ")));
  }
  if (!node.start_command) missing.push_back("start_command");
  if (!node.stop_command) missing.push_back("stop_command");
  return fmt::format("{}", fmt::join(missing, ", "));
}

fs::path pgdata_of(const LocalNode& node) {
  if (!node.pgdata)
    throw common::ExitError(common::exit_usage, fmt::format("sites.{}.pgdata is not set in rulectl.toml", node.name));
  return *node.pgdata;
}

void stop(const LocalNode& node, const fs::path& log, std::chrono::seconds timeout) {
  run_command(node, "stop_command", command_of(node, node.stop_command, "stop_command"), log, timeout);
  if (!node.pgdata || postmaster_pid(*node.pgdata) == 0) return;
  if (!common::poll_until(30s, 50ms, [&] { return postmaster_pid(*node.pgdata) == 0; }))
    throw common::ExitError(common::exit_failed,
                            fmt::format("stop_command of site {} returned but its postmaster (PID {}) still runs",
                                        node.name, postmaster_pid(*node.pgdata)));
}

void start(const LocalNode& node, const fs::path& log, std::chrono::seconds timeout) {
  const std::string& command = command_of(node, node.start_command, "start_command");
  if (node.pgdata) wait_zombie_reaped(*node.pgdata, node.name);
  run_command(node, "start_command", command, log, timeout);
}

}  // namespace rulekeeper::pgnode
