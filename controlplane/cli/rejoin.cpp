// `rulectl rejoin --site S [--orphans FILE] [--dry-run]`: options, the
// operation (ops/rejoin.hpp), and its report as text or --json. Before
// anything is stopped, started or rewound it shows the plan
// (ops/rejoin_plan.hpp) and asks (cli/confirmation.hpp); --dry-run shows the
// plan and stops there.
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/confirmation.hpp"
#include "cli/plan_text.hpp"
#include "cli/report.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "ops/rejoin.hpp"
#include "ops/rejoin_plan.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;
using Outcome = ops::RejoinReport::Outcome;

// One line per orphaned change, for people.
void print_orphans(std::ostream& out, const json& changes) {
  if (changes.empty()) {
    out << "  (none: nothing was written there after the divergence point)\n";
    return;
  }
  common::Table t({"origin", "seq", "kind", "rule", "label", "recorded_at", "actor", "what"});
  for (const auto& c : changes) {
    std::string what;
    const json& row = c.contains("row") ? c["row"] : json(nullptr);
    if (row.is_object() && row.contains("content_sha256"))
      what =
          fmt::format("{} {}", row.value("qualification", ""), common::abbreviate(row.value("content_sha256", ""), 12));
    else if (row.is_object() && row.contains("reason"))
      what = "reason: " + common::abbreviate(row.value("reason", ""), 40);
    else if (c.value("kind", "") == "notification" && c.contains("payload") && c["payload"].is_object())
      // A hold or release of a (site, channel) notification scope
      // (docs/notifications.md): reconcile lists it, never re-applies it.
      what = fmt::format("{} {} {}", c["payload"].value("action", ""), c["payload"].value("site", ""),
                         c["payload"].value("channel", ""));
    else if (c.contains("payload") && c["payload"].is_object() && c["payload"].contains("channel"))
      what = "channel " + c["payload"].value("channel", "");
    auto s = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump(); };
    t.add_row({fmt::format("{}:{}", s(c["origin_site"]), s(c["origin_incarnation"])), s(c["origin_seq"]), s(c["kind"]),
               s(c["rule_key"]), s(c["label"]), s(c["recorded_at"]), s(c["actor"]), what});
  }
  t.print(out);
}

// The orphans, where they were saved, then `lines` and the steps.
void print_finished(const ops::RejoinReport& r, const std::string& headline, const std::vector<std::string>& lines) {
  std::cout << headline << "\n\norphaned changes of " << r.site << " (beyond the divergence point "
            << r.event_json()["divergence"].dump() << "), saved to " << r.orphans_file.string() << ":\n";
  print_orphans(std::cout, r.orphans);
  if (!r.orphans.empty()) std::cout << "bring them back with: " << r.reconcile_command << "\n";
  std::cout << "\n";
  for (const auto& l : lines) std::cout << l << "\n";
  std::cout << "\n";
  ops::steps_table(r.steps).print(std::cout);
}

void print_text(const ops::RejoinReport& r) {
  switch (r.outcome) {
    case Outcome::already_standby:
      std::cout << fmt::format("{} already streams from {} on timeline {}: nothing to do\n", r.site, r.primary,
                               r.timeline);
      return;
    case Outcome::manual_isolation:
      std::cout << fmt::format("rejoin {}: rulectl.toml lacks sites.{}.{}; run these, then rejoin again:\n", r.site,
                               r.site, r.missing_config);
      for (const auto& m : r.commands)
        if (!m.empty()) std::cout << "  " << m << "\n";
      return;
    case Outcome::manual_rewind: {
      std::vector<std::string> lines{
          fmt::format("rulectl.toml lacks sites.{}.{}: run these to rewind it and make it "
                      "{}'s standby:",
                      r.site, r.missing_config, r.primary)};
      for (const auto& m : r.commands) lines.push_back("  " + m);
      print_finished(r, fmt::format("rejoin {}: orphans saved; NOT rejoined yet", r.site), lines);
      return;
    }
    case Outcome::rejoined: {
      std::vector<std::string> lines{fmt::format("{} streams from {} (slot '{}')", r.site, r.primary, r.site)};
      if (!r.sync.empty()) lines.push_back("synchronous replication: " + r.sync);
      print_finished(r,
                     fmt::format("rejoined: {} is a standby of {} ({}; {:.2f}s)", r.site, r.primary, r.rewind,
                                 r.total_seconds),
                     lines);
      return;
    }
  }
}

// What the rejoin would do, one line each (the question; the dry run adds
// the orphans table).
std::vector<std::string> plan_lines(const ops::RejoinPlan& p) {
  std::vector<std::string> lines;
  lines.push_back("E3 sites: " + fmt::format("{}", fmt::join(p.probe, ", ")));
  if (p.event)
    lines.push_back(fmt::format("divergence point: failover {} -> {} at {} (timeline {})", p.event->old_site,
                                p.event->new_site, p.event->recorded_at, p.event->new_timeline));
  if (p.orphans)
    lines.push_back(fmt::format("orphans to capture: {} change{} ({})", p.orphans->size(),
                                p.orphans->size() == 1 ? "" : "s", p.orphans_note));
  else if (!p.orphans_note.empty())
    lines.push_back("orphans to capture: " + p.orphans_note);
  lines.push_back("steps:");
  int i = 0;
  for (const auto& s : p.steps) lines.push_back(fmt::format("  {}. {}", ++i, s));
  return lines;
}

int run_rejoin(const GlobalOptions& global, const ops::RejoinRequest& o, bool dry_run) {
  const config::Config config = load_config(global);
  common::Progress progress;
  if (dry_run || !global.yes) {
    const ops::RejoinPlan plan = ops::plan_rejoin(config, o, progress);
    if (dry_run) {
      if (global.json) {
        common::print_json(plan.to_json());
      } else {
        print_dry_run_top(std::cout, "rejoin " + plan.site);
        std::cout << plan.summary() << "\n";
        for (const auto& l : plan_lines(plan)) std::cout << "  " << l << "\n";
        if (plan.orphans) {
          std::cout << "\norphaned changes of " << plan.site << " (" << plan.orphans_note << "):\n";
          print_orphans(std::cout, *plan.orphans);
        }
        print_dry_run_bottom(std::cout, "nothing was stopped, started, rewound or written; no bundle file");
      }
      return common::exit_ok;
    }
    // Nothing to do, or only commands printed: nothing to ask.
    if (!plan.nothing_to_do && plan.changes_production)
      confirm(global, Plan{"rulectl rejoin", plan.summary(), plan_lines(plan)});
  }
  return show_report(global, ops::rejoin(config, o, progress), print_text);
}

}  // namespace

void add_rejoin(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "rejoin",
      "make a returning old primary follow the new one: keep it from writing, save its orphaned changes to a "
      "bundle, then pg_rewind it and start it as the new primary's standby (or print the commands)");
  auto o = std::make_shared<ops::RejoinRequest>();
  cmd->add_option("--site", o->site, "the E3 site to rejoin (the old primary)")->required();
  cmd->add_option("--orphans", o->orphans,
                  "where to write the orphans bundle (default: <state_dir>/orphans-<site>-<UTC time>.json)");
  cmd->add_option("--wait-streaming", o->wait_streaming, "seconds to wait until it streams")->capture_default_str();
  auto dry_run = std::make_shared<bool>(false);
  cmd->add_flag("--dry-run", *dry_run,
                "probe and check everything, show the steps it would run and the orphans it would capture (read "
                "at the site when it answers); stop, start, rewind and write nothing, ask nothing");
  cmd->footer(
      "Asks before stopping, starting or rewinding anything on a terminal (--yes: no question; no terminal and no "
      "--yes: exit 2). Exit: 0 rejoined, nothing to do, orphans saved with the commands printed (or, --dry-run, "
      "the plan); 3 refused (split brain, no failover event, not confirmed); 2 usage, no terminal and no --yes; 4 "
      "no primary or the site does not answer; 1 another failure.");
  cmd->callback([&global, &exit_code, o, dry_run] { exit_code = run_rejoin(global, *o, *dry_run); });
}

}  // namespace rulekeeper::cli
