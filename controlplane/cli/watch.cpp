// `rulectl watch [--interval MS] [--fail-after N] [--on-fail CMD]
// [--on-fail-timeout S] [--count N]`: options, the operation (ops/watch.hpp
// says what it does) and one line per event as it happens, flushed — with
// --json one JSON object per line (NDJSON, issue #15 item 13), the last one
// the summary ("kind": "summary").
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "ops/watch.hpp"

namespace rulekeeper::cli {
namespace {

int watch(const GlobalOptions& global, const ops::WatchRequest& o) {
  const config::Config config = load_config(global);
  const bool json = global.json;
  auto line = [](const nlohmann::json& j) {
    // One line, flushed: a pipe reader sees each event when it happens.
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  };
  const ops::WatchReport report = ops::watch(config, o, [&](const ops::WatchEvent& e) {
    if (json) return line(e.to_json());
    const std::string detail = e.detail.empty() ? "" : " (" + e.detail + ")";
    if (e.kind == "site" || e.kind == "primary" || e.kind == "failed")
      std::cout << fmt::format("{}  {:<8} {} -> {}{}", e.at, e.site, e.from.empty() ? "(start)" : e.from, e.to, detail);
    else if (e.kind == "configuration")
      std::cout << fmt::format("{}  {:<8} CONFIGURATION: {}{}", e.at, e.site, e.to, detail);
    else  // split_brain, on_fail: a statement, not a change of state
      std::cout << fmt::format("{}  {:<8} {}{}", e.at, e.site, e.to, detail);
    std::cout << std::endl;
  });
  if (json) {
    nlohmann::json summary = report.to_json();
    summary.erase("events");  // each was its own line
    summary["kind"] = "summary";
    line(summary);
  } else if (report.exit_code == common::exit_refused) {
    std::cout << fmt::format("{} outage(s) of the E3 primary during this run (exit 3)", report.outages) << std::endl;
  } else if (report.exit_code == common::exit_usage) {
    std::cout << fmt::format("{} site(s) refused rulectl's login during this run: a configuration problem (exit 2)",
                             report.refused_logins)
              << std::endl;
  }
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
                  "shell command to start in the background (once per outage, RULECTL_FAILED_SITE set) instead of "
                  "exiting; watching goes on, its outcome is logged");
  cmd->add_option("--on-fail-timeout", o->on_fail_timeout_s, "seconds after which the --on-fail command is killed")
      ->capture_default_str();
  cmd->add_option("--count", o->count,
                  "stop after N checks (0: never); exit 3 if an outage was seen, 2 if a login was refused")
      ->capture_default_str();
  cmd->callback([&global, &exit_code, o] { exit_code = watch(global, *o); });
}

}  // namespace rulekeeper::cli
