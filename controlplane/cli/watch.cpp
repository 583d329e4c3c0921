// `rulectl watch [--interval MS] [--fail-after N] [--on-fail CMD] [--count N]`:
// options, the operation (ops/watch.hpp says what it does), one line per
// event as it happens (on stderr with --json) and, with --json, the report.
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/output.hpp"
#include "ops/watch.hpp"

namespace rulekeeper::cli {
namespace {

int watch(const GlobalOptions& global, const ops::WatchRequest& o) {
  const config::Config config = load_config(global);
  std::ostream& out = global.json ? std::cerr : std::cout;
  const ops::WatchReport report = ops::watch(config, o, [&out](const ops::WatchEvent& e) {
    out << fmt::format("{}  {:<8} {} -> {}{}", e.at, e.site, e.from.empty() ? "(start)" : e.from, e.to,
                       e.detail.empty() ? "" : " (" + e.detail + ")")
        << std::endl;
  });
  if (global.json) common::print_json(report.to_json());
  return report.exit_code;
}

}  // namespace

void add_watch(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<ops::WatchRequest>();
  CLI::App* cmd = app.add_subcommand(
      "watch",
      "poll every site, print one line per change of health; exit 4 (or run --on-fail) after N consecutive failed "
      "checks of the E3 primary — detection only, promotion stays a human decision");
  cmd->add_option("--interval", o->interval_ms, "milliseconds between checks")->capture_default_str();
  cmd->add_option("--fail-after", o->fail_after, "consecutive failed checks of the E3 primary that count as down")
      ->capture_default_str();
  cmd->add_option("--on-fail", o->on_fail,
                  "shell command to run (once per outage, RULECTL_FAILED_SITE set) instead of exiting");
  cmd->add_option("--count", o->count, "stop after N checks (0: never)")->capture_default_str();
  cmd->callback([&global, &exit_code, o] { exit_code = watch(global, *o); });
}

}  // namespace rulekeeper::cli
