// `rulectl failover --to S [--dry-run]`: options, the operation
// (ops/failover.hpp), and its report as text or --json. Before anything is
// stopped or promoted it shows the plan (ops/failover_plan.hpp) and asks
// (cli/confirmation.hpp); --dry-run shows the plan and stops there.
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "cli/confirmation.hpp"
#include "cli/plan_text.hpp"
#include "cli/report.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "ops/failover.hpp"
#include "ops/failover_plan.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;
using Outcome = ops::FailoverReport::Outcome;

std::string evidence_text(const ops::StandbyEvidence& ev, const std::string& target) {
  const auto& p = ev.positions;
  const std::string& old = ev.old_primary;
  std::string hb = !p.heartbeat ? fmt::format("no heartbeat of {} was ever replayed at {}", old, target)
                   : !p.heartbeat->age_seconds
                       ? fmt::format("last heartbeat of {} replayed at {}: {} (dated in the future: age unknown)", old,
                                     target, p.heartbeat->beat_at)
                       : fmt::format("last heartbeat of {} replayed at {}: {} ({:.1f}s ago)", old, target,
                                     p.heartbeat->beat_at, *p.heartbeat->age_seconds);
  std::string lsn =
      fmt::format("received {} / replayed {}", p.receive_lsn.value_or("nothing by streaming since it started"),
                  p.replay_lsn.value_or("?"));
  std::string last = !ev.last_change_from_old_primary
                         ? fmt::format("no change from {} held", old)
                         : fmt::format("last change held from {}: {} origin_seq {}", old,
                                       ev.last_change_from_old_primary->origin, ev.last_change_from_old_primary->seq);
  return hb + "; " + lsn + "; " + last;
}

void print_text(const ops::FailoverReport& r) {
  std::string headline;
  std::vector<std::string> lines;
  const json& event = r.failover_event;
  switch (r.outcome) {
    case Outcome::switched_over:
      headline = fmt::format("switched over: {} -> {} (planned, {:.2f}s)", r.old_primary, r.target, r.total_seconds);
      lines = {fmt::format("zero changes lost: {} replayed {} > {}'s shutdown checkpoint {} before promotion", r.target,
                           r.target_replayed, r.old_primary, r.shutdown_checkpoint),
               fmt::format("{} is the E3 primary on timeline {}; {} streams from it (slot '{}')", r.target,
                           r.new_timeline, r.old_primary, r.old_primary),
               fmt::format("failover event {} recorded at {} (divergence point {})", event.value("event_id", ""),
                           r.target, event["divergence"].dump())};
      if (!r.uncovered.empty())
        lines.push_back(
            fmt::format("WARNING: the divergence vector does not cover what {} reported before it "
                        "stopped: {}",
                        r.old_primary, fmt::join(r.uncovered, "; ")));
      if (!r.cascaded_standbys.empty())
        lines.push_back(fmt::format("{} still follow{} {} (now a cascading standby)",
                                    fmt::join(r.cascaded_standbys, ", "), r.cascaded_standbys.size() == 1 ? "s" : "",
                                    r.old_primary));
      break;
    case Outcome::refused:
      headline = fmt::format("failover to {} REFUSED (exit 3)", r.target);
      lines = {evidence_text(*r.evidence, r.target), r.why,
               fmt::format("nothing was done; {} is still a standby", r.target)};
      break;
    case Outcome::failed_over:
      headline = fmt::format("failed over: {} -> {} (FORCED, {:.2f}s)", r.old_primary, r.target, r.total_seconds);
      lines = {evidence_text(*r.evidence, r.target),
               fmt::format("loss: unknown — whatever {} committed after that is not here; it comes back as orphans "
                           "when {} returns (`rulectl rejoin --site {}` captures them before rewinding it, `rulectl "
                           "reconcile` brings them back)",
                           r.old_primary, r.old_primary, r.old_primary),
               fmt::format("{} is the E3 primary on timeline {}; failover event {} (divergence point {})", r.target,
                           r.new_timeline, event.value("event_id", ""), event["divergence"].dump()),
               fmt::format("{} must not come back as a primary: start it only through `rulectl rejoin --site {}`",
                           r.old_primary, r.old_primary)};
      break;
  }
  if (!r.last_primary_evidence.empty())
    lines.insert(lines.begin(), fmt::format("the last E3 primary is {}: {}; {}", r.old_primary, r.last_primary_evidence,
                                            r.stale_upstream));
  if (!r.sync.empty()) lines.push_back("synchronous replication at " + r.target + ": " + r.sync);
  std::cout << headline << "\n";
  for (const auto& l : lines) std::cout << "  " << l << "\n";
  std::cout << "\n";
  ops::steps_table(r.steps).print(std::cout);
}

// What the failover would do, one line each: the question and the dry run.
std::vector<std::string> plan_lines(const ops::FailoverPlan& p) {
  std::vector<std::string> lines;
  lines.push_back("E3 sites: " + fmt::format("{}", fmt::join(p.probe, ", ")));
  for (const auto& n : p.notes) lines.push_back("NOTE: " + n);
  if (p.mode == ops::FailoverPlan::Mode::refused) {
    lines.push_back(p.why);
    if (p.evidence) lines.push_back(evidence_text(*p.evidence, p.target));
    return lines;
  }
  if (p.at_risk) {
    const auto& changes = p.at_risk->changes;
    if (changes.empty())
      lines.push_back(
          fmt::format("at risk: nothing — {} holds every change of {} (version vectors)", p.target, p.old_primary));
    else {
      lines.push_back(
          fmt::format("at risk: {} change{} of {} not yet replayed at {} — kept: the switchover waits "
                      "until {} replayed past {}'s shutdown checkpoint, else it restarts {} and stops",
                      changes.size(), changes.size() == 1 ? "" : "s", p.old_primary, p.target, p.target, p.old_primary,
                      p.old_primary));
      for (const auto& c : changes)
        lines.push_back(fmt::format("  {} seq {} {} {} {} ({})", c.origin(), c.origin_seq, c.kind,
                                    c.rule_key.value_or("-"), c.label.value_or("-"), c.recorded_at));
    }
    lines.push_back(fmt::format("replication: {} state {}, replay lag {} bytes", p.target,
                                p.replication_state.empty() ? "not connected" : p.replication_state,
                                p.replay_lag_bytes));
  }
  if (p.evidence) {
    lines.push_back(fmt::format("{} is unreachable: {}", p.old_primary, p.old_primary_error));
    lines.push_back("what " + p.target + " holds: " + evidence_text(*p.evidence, p.target));
    lines.push_back(
        fmt::format("LOST by this failover: whatever {} committed after that (it cannot be listed while "
                    "{} is down); it comes back as orphans through `rulectl rejoin --site {}`",
                    p.old_primary, p.old_primary, p.old_primary));
  }
  if (!p.cascaded_standbys.empty())
    lines.push_back(
        fmt::format("{} will go on following {} (cascading)", fmt::join(p.cascaded_standbys, ", "), p.old_primary));
  lines.push_back("steps:");
  int i = 0;
  for (const auto& s : p.steps) lines.push_back(fmt::format("  {}. {}", ++i, s));
  return lines;
}

int run_failover(const GlobalOptions& global, const ops::FailoverRequest& given, bool dry_run) {
  const config::Config config = load_config(global);
  common::Progress progress;
  ops::FailoverRequest o = given;
  if (dry_run || !global.yes) {
    const ops::FailoverPlan plan = ops::plan_failover(config, o, progress);
    if (dry_run) {
      if (global.json) {
        common::print_json(plan.to_json());
      } else {
        print_dry_run_top(std::cout, "failover to " + plan.target);
        std::cout << plan.summary() << "\n";
        for (const auto& l : plan_lines(plan)) std::cout << "  " << l << "\n";
        print_dry_run_bottom(std::cout, "nothing was stopped, promoted or recorded");
      }
      return plan.exit_code();
    }
    // A failover that will be refused changes nothing: no question.
    if (plan.mode != ops::FailoverPlan::Mode::refused) {
      confirm(global, Plan{"rulectl failover", plan.summary(), plan_lines(plan)});
      o.confirmed_old_primary = plan.old_primary;
      o.confirmed_planned = plan.mode == ops::FailoverPlan::Mode::planned;
    }
  }
  return show_report(global, ops::failover(config, o, progress), print_text);
}

}  // namespace

void add_failover(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<ops::FailoverRequest>();
  CLI::App* cmd = app.add_subcommand(
      "failover",
      "make an E3 standby the primary: a planned switchover when the old primary answers (zero loss, it becomes "
      "the new standby); when it does not, refuse (exit 3: the loss cannot be proven) unless --force");
  cmd->add_option("--to", o->to, "the E3 standby to promote")->required();
  cmd->add_option("--max-lag-bytes", o->max_lag_bytes,
                  "planned switchover: refuse unless the target's replay lag is at most N bytes (after waiting "
                  "--wait-catchup); default: no limit");
  cmd->add_option("--wait-catchup", o->wait_catchup,
                  "seconds to wait for the target to replay (the shutdown checkpoint, or all it received)")
      ->capture_default_str();
  cmd->add_flag("--force", o->force,
                "old primary unreachable: promote anyway, accepting the loss of whatever it did not send");
  auto dry_run = std::make_shared<bool>(false);
  cmd->add_flag("--dry-run", *dry_run,
                "probe and check everything, show the at-risk list and the steps it would run; stop, promote "
                "and record nothing, ask nothing (exit 3 if the failover would be refused)");
  cmd->footer(
      "Asks before stopping or promoting anything on a terminal (--yes: no question; no terminal and no --yes: "
      "exit 2). Exit: 0 switched over / failed over (or, --dry-run, it would); 3 refused (unreachable old "
      "primary without --force, target not streaming or lagging, split brain, not confirmed, the sites changed "
      "since the plan was shown); 2 usage, no terminal and no --yes; 4 the target is unreachable; 1 another "
      "failure.");
  cmd->callback([&global, &exit_code, o, dry_run] { exit_code = run_failover(global, *o, *dry_run); });
}

}  // namespace rulekeeper::cli
