// `rulectl failover --to S`: options, the operation (ops/failover.hpp), and
// its report as text or --json.
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "cli/report.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "ops/failover.hpp"

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
  cmd->callback([&global, &exit_code, o] {
    common::Progress progress;
    exit_code = show_report(global, ops::failover(load_config(global), *o, progress), print_text);
  });
}

}  // namespace rulekeeper::cli
