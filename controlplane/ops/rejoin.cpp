// See rejoin.hpp.
#include "ops/rejoin.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "site/server_error.hpp"
#include "common/files.hpp"
#include "common/json_file.hpp"
#include "common/poll.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "ops/control_lock.hpp"
#include "ops/failover.hpp"
#include "ops/rejoin_decision.hpp"
#include "ops/rejoin_patroni.hpp"
#include "ops/rejoin_wal.hpp"
#include "ops/sync_promotion.hpp"
#include "pgnode/postmaster.hpp"
#include "pgnode/process.hpp"
#include "pgnode/node_control.hpp"
#include "pgnode/tools.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/client/replication.hpp"
#include "site/client/server_state.hpp"
#include "site/connect.hpp"
#include "site/conninfo.hpp"
#include "site/probe.hpp"
#include "site/topology.hpp"

namespace rulekeeper::ops {

namespace fs = std::filesystem;
namespace client = site::client;
using nlohmann::json;
using site::SiteState;

namespace {

std::string shell_or(const std::optional<std::string>& cmd, const std::string& what) {
  return cmd ? *cmd : "# " + what + " (no command in rulectl.toml)";
}

// The state of one rejoin, passed from step to step.
struct Rejoin {
  const config::Config& config;
  const RejoinRequest& request;
  const config::SiteConfig& sc;
  const pgnode::LocalNode node;
  const fs::path log;
  Steps& steps;
  RejoinReport& report;
  SiteState* me = nullptr;
  SiteState* primary = nullptr;
};

// The divergence point: what the new primary held when it was promoted.
void read_divergence_point(Rejoin& r) {
  const std::string& pc = r.primary->name;
  r.steps.begin(fmt::format("read the latest failover event at {}", pc));
  r.report.event = client::latest_failover_event(*r.primary->connection);
  if (!r.report.event) {
    r.steps.end("none");
    throw common::ExitError(common::exit_refused,
                            fmt::format("{} holds no failover event: nothing says where {} diverged from it, so its "
                                        "orphaned changes cannot be told apart; nothing was done (promote with "
                                        "`rulectl failover`, which records the divergence point)",
                                        pc, r.sc.name));
  }
  const auto& e = *r.report.event;
  r.steps.end(fmt::format("{} -> {} at {} (timeline {}), divergence {}", e.old_site, e.new_site, e.recorded_at,
                          e.new_timeline, common::parse_strict_json(e.divergence, "the divergence point").dump()));
}

// Step 1: it must take no writes — a standby with no upstream. False when
// that is left to a person (no control in rulectl.toml).
bool isolate(Rejoin& r) {
  SiteState& me = *r.me;
  if (me.is_standby()) return true;
  const std::string missing = pgnode::missing_control(r.node);
  if (!missing.empty()) {
    r.report.outcome = RejoinReport::Outcome::manual_isolation;
    r.report.site_reachable = me.role_known();
    r.report.missing_config = missing;
    r.report.commands = {
        fmt::format("# {} is {}: make it a standby with NO upstream before anything else (it must take no writes)",
                    r.sc.name, me.role_known() ? "a primary (split brain)" : "down"),
        me.role_known() ? shell_or(r.sc.stop_command, "stop it: pg_ctl -D <pgdata> -m fast -w stop") : "",
        fmt::format("touch {}/standby.signal", r.sc.pgdata.value_or("<pgdata>")),
        fmt::format("# remove primary_conninfo and primary_slot_name from {} and <pgdata>/postgresql.auto.conf",
                    r.sc.conf_file.value_or("its postgresql.conf")),
        shell_or(r.sc.start_command, "start it: pg_ctl -D <pgdata> -w start"),
        fmt::format("rulectl rejoin --site {}", r.sc.name)};
    return false;
  }
  if (me.role_known()) {
    r.steps.begin(fmt::format("stop {} (it accepts writes: split brain)", r.sc.name));
    me.connection.reset();
    pgnode::stop(r.node, r.log);
    r.steps.end("stopped");
  } else if (int pid = r.node.pgdata ? pgnode::postmaster_pid(*r.node.pgdata) : 0; pid != 0) {
    throw common::ExitError(common::exit_unreachable,
                            fmt::format("{}'s postmaster runs (PID {}) but does not answer ({}); nothing was done",
                                        r.sc.name, pid, me.error));
  }
  r.steps.begin(fmt::format("start {} as a standby with no upstream", r.sc.name));
  const std::string where = pgnode::make_standby(r.node, "", "", r.log);
  pgnode::start(r.node, r.log);
  r.steps.end(fmt::format("standby.signal, no primary_conninfo ({})", where));
  return true;
}

// Step 2: its orphans, read-only, saved to the bundle file.
void save_orphans(Rejoin& r) {
  r.steps.begin(fmt::format("export {}'s changes beyond the divergence point", r.sc.name));
  std::string bundle_text;
  {
    std::string err;
    auto c = site::try_connect(r.sc, err, 10);
    if (!c)
      throw common::ExitError(common::exit_unreachable, fmt::format("site {} does not answer: {}", r.sc.name, err));
    if (!client::in_recovery(*c))
      throw common::ExitError(common::exit_refused,
                              fmt::format("{} accepts writes: refusing to read its orphans while it may still "
                                          "take more",
                                          r.sc.name));
    try {
      bundle_text = client::export_changes(*c, r.report.event->divergence);
    } catch (const pqxx::failure& e) {
      throw site::sql_failure(fmt::format("export_changes at {}", r.sc.name), e);
    }
  }
  const json bundle = common::parse_strict_json(bundle_text, fmt::format("export_changes at {}", r.sc.name));
  r.report.orphans_file =
      r.request.orphans.empty()
          ? fs::path(r.config.state_dir) / fmt::format("orphans-{}-{}.json", r.sc.name, common::utc_now_compact())
          : fs::path(r.request.orphans);
  if (r.report.orphans_file.has_parent_path()) fs::create_directories(r.report.orphans_file.parent_path());
  common::write_durably(r.report.orphans_file, bundle_text + "\n");
  r.report.orphans = bundle["changes"];
  r.report.reconcile_command = fmt::format("rulectl reconcile --bundle {} --to {}",
                                           process::shell_quote(r.report.orphans_file.string()), r.primary->name);
  const std::size_t n = r.report.orphans.size();
  r.steps.end(fmt::format("{} change{} -> {}", n, n == 1 ? "" : "s", r.report.orphans_file.string()));
}

// Without control in rulectl.toml: the commands that rewind it and make it the
// primary's standby.
void manual_rewind(Rejoin& r) {
  const config::SiteConfig& pc = *r.primary->config;
  r.report.outcome = RejoinReport::Outcome::manual_rewind;
  r.report.missing_config = pgnode::missing_control(r.node);
  r.report.commands = {
      fmt::format("psql {} -c {}", process::shell_quote(pc.conninfo),
                  process::shell_quote(client::checkpoint_statement())),
      shell_or(r.sc.stop_command, "stop it: pg_ctl -D <pgdata> -m fast -w stop"),
      pgnode::node_rewind_command(r.node, pc.conninfo),
      fmt::format("# in {} set: primary_conninfo = {}  and  primary_slot_name = '{}'; remove both from "
                  "<pgdata>/postgresql.auto.conf",
                  r.sc.conf_file.value_or("its postgresql.conf"),
                  process::shell_quote(conninfo::for_standby(pc, r.sc.name)), r.sc.name),
      fmt::format("psql {} -c {}", process::shell_quote(pc.conninfo),
                  process::shell_quote(client::create_slot_statement(r.sc.name))),
      fmt::format("touch {}/standby.signal", r.sc.pgdata.value_or("<pgdata>")),
      shell_or(r.sc.start_command, "start it: pg_ctl -D <pgdata> -w start")};
}

// Before the rewind (issue #14 item 7): the WAL the rewound node will need
// is still at the primary (ops/rejoin_wal.hpp), and pg_rewind --dry-run
// finds what it needs at the node. If not, the node stays stopped, nothing
// is rewound, and the next step is a re-clone — its orphans are saved.
void check_wal_before_rewind(Rejoin& r, const pgnode::ControlData& cd) {
  const config::SiteConfig& pc = *r.primary->config;
  const std::string& me = r.sc.name;
  r.steps.begin(fmt::format("check that the WAL {} needs is still at {}", me, pc.name));
  const WalForRejoin w = wal_for_rejoin(*r.primary->connection, pc.name, r.primary->timeline.value_or(0), cd.timeline,
                                        client::physical_slot(*r.primary->connection, me), me);
  std::string cause = w.available ? "" : w.cause;
  std::string dry_run = "pg_rewind --dry-run ok";
  if (cause.empty()) {
    const std::optional<pgnode::ToolRun> dry = pgnode::node_rewind_dry_run(r.node, pc.conninfo, r.log);
    if (!dry) {
      dry_run = "no pg_rewind --dry-run (rewind_command has no {dry_run})";
    } else if (!dry->result.ok()) {
      const std::string tail = dry->output.size() > 600 ? dry->output.substr(dry->output.size() - 600) : dry->output;
      cause = fmt::format("pg_rewind --dry-run failed ({}): {}", dry->result.describe(), common::one_line(tail));
    }
  }
  if (cause.empty()) {
    r.steps.end(w.checked ? fmt::format("{} holds {} (fork at {}); {}", pc.name, w.needed, w.switch_lsn, dry_run)
                          : fmt::format("{}; segment not checked: {}", dry_run, w.note));
    return;
  }
  r.steps.end("WAL GONE");
  std::vector<std::string> commands = reclone_commands(r.node.bindir, r.sc.pgdata.value_or("<pgdata>"),
                                                       conninfo::for_standby(pc, me), me, r.sc.start_command);
  commands.push_back(fmt::format("rulectl rejoin --site {}", me));
  commands.push_back(r.report.reconcile_command);
  // One line each (an error message is one line): the runbook, in order.
  for (std::size_t i = 0; i < commands.size(); ++i)
    r.steps.note(fmt::format("re-clone {}, step {} of {}", me, i + 1, commands.size()), commands[i]);
  throw common::ExitError(
      common::exit_failed,
      fmt::format("{} cannot be rewound to follow {}: {}. Nothing was rewound; {} is stopped; its orphans are "
                  "saved in {}. Re-clone it from {} (pg_basebackup): the {} steps are listed above as "
                  "\"re-clone {}, step N\"",
                  me, pc.name, cause, me, r.report.orphans_file.string(), pc.name, commands.size(), me));
}

// A failover may have relaxed the primary's synchronous replication because
// this standby did not follow it (ops/sync_promotion.hpp): restored once it
// streams from the primary.
void restore_sync(Rejoin& r) {
  try {
    r.report.sync = restore_sync_after_rejoin(r.config, *r.primary->connection, r.primary->name, r.steps);
  } catch (const std::exception& e) {
    r.report.sync =
        fmt::format("synchronous_standby_names at {} not restored: {}", r.primary->name, common::one_line(e.what()));
    r.steps.note("synchronous replication", r.report.sync);
  }
}

// Step 3: rewind it and follow the new primary.
void rewind_and_follow(Rejoin& r) {
  const config::SiteConfig& pc = *r.primary->config;
  const std::string& me = r.sc.name;
  r.steps.begin(fmt::format("stop {}", me));
  pgnode::stop(r.node, r.log);
  r.steps.end("stopped");
  r.steps.begin(fmt::format("CHECKPOINT at {}", pc.name));
  client::checkpoint(*r.primary->connection);
  r.steps.end("");
  {
    // PostgreSQL 15's pg_rewind takes the target's timeline from its last
    // checkpoint: a node promoted and then killed before its first
    // checkpoint on the new timeline cannot be rewound (it would look for WAL
    // on the old one: "could not find previous WAL record").
    const pgnode::ControlData cd = pgnode::node_controldata(r.node, r.log);
    if (cd.min_recovery_timeline > cd.timeline)
      throw common::ExitError(
          common::exit_failed,
          fmt::format("{} cannot be rewound by PostgreSQL 15's pg_rewind: its last checkpoint is on timeline {} "
                      "but its WAL goes on to timeline {} (it crashed before the first checkpoint after its "
                      "promotion). Its orphans are saved in {}. Re-clone it instead: remove {} and "
                      "pg_basebackup -D {} from {} (slot '{}'), then `rulectl rejoin --site {}`",
                      me, cd.timeline, cd.min_recovery_timeline, r.report.orphans_file.string(),
                      r.sc.pgdata.value_or("<pgdata>"), r.sc.pgdata.value_or("<pgdata>"), pc.name, me, me));
    check_wal_before_rewind(r, cd);
  }
  r.steps.begin(fmt::format("pg_rewind {} from {}", me, pc.name));
  const std::string rewound = pgnode::node_rewind(r.node, pc.conninfo, r.log);
  r.report.rewind = rewound.find("no rewind required") != std::string::npos ? "no rewind required"
                    : rewound.find("Done!") != std::string::npos            ? "rewound"
                                                                            : common::one_line(rewound);
  r.steps.end(r.report.rewind);
  r.steps.begin(fmt::format("settings of {}: follow {}", me, pc.name));
  const std::string where = pgnode::make_standby(r.node, conninfo::for_standby(pc, me), me, r.log);
  r.steps.end(fmt::format("primary_conninfo -> {}, primary_slot_name '{}' in {}; standby.signal", pc.name, me, where));
  r.steps.begin(fmt::format("create slot '{}' at {}", me, pc.name));
  client::create_slot(*r.primary->connection, me);
  r.steps.end("");
  r.steps.begin(fmt::format("start {} as {}'s standby", me, pc.name));
  pgnode::start(r.node, r.log);
  r.steps.end("started");
  r.steps.begin(fmt::format("wait until {} streams from {}", me, pc.name));
  const bool streaming =
      common::poll_until(std::chrono::milliseconds(static_cast<long long>(r.request.wait_streaming * 1000)),
                         std::chrono::milliseconds(50), [&] { return client::streams_to(*r.primary->connection, me); });
  if (!streaming) {
    r.steps.end("NOT streaming");
    throw common::ExitError(common::exit_failed,
                            fmt::format("{} was rewound and started but does not stream from {} after {}s (see {} "
                                        "and its server log); its orphans are in {}",
                                        me, pc.name, r.request.wait_streaming, r.log.string(),
                                        r.report.orphans_file.string()));
  }
  r.steps.end("streaming");
  r.report.outcome = RejoinReport::Outcome::rejoined;
  restore_sync(r);
}

}  // namespace

int RejoinReport::exit_code() const {
  if (outcome == Outcome::manual_isolation) return site_reachable ? common::exit_refused : common::exit_unreachable;
  return common::exit_ok;
}

json RejoinReport::event_json() const {
  if (!event) return nullptr;
  return {{"event_id", event->event_id},
          {"old_site", event->old_site},
          {"new_site", event->new_site},
          {"new_timeline", event->new_timeline},
          {"divergence", common::parse_strict_json(event->divergence, "the divergence point")},
          {"forced", event->forced},
          {"promoted_by", event->promoted_by.empty() ? json() : json(event->promoted_by)},
          {"recorded_at", event->recorded_at}};
}

json RejoinReport::to_json() const {
  switch (outcome) {
    case Outcome::already_standby:
      return {{"result", "already a standby"},
              {"site", site},
              {"primary", primary},
              {"timeline", timeline},
              {"synchronous_replication", sync.empty() ? json() : json(sync)},
              {"steps", steps_json(steps)}};
    case Outcome::manual_isolation:
      return {{"result", "manual"},
              {"site", site},
              {"primary", primary},
              {"commands", commands},
              {"missing_config", missing_config}};
    case Outcome::manual_rewind:
    case Outcome::rejoined: break;
  }
  json doc = {{"site", site},
              {"primary", primary},
              {"failover_event", event_json()},
              {"orphans", {{"file", orphans_file.string()}, {"count", orphans.size()}, {"changes", orphans}}},
              {"steps", steps_json(steps)}};
  if (outcome == Outcome::manual_rewind) {
    doc["result"] = "manual";
    doc["rejoined"] = false;
    doc["commands"] = commands;
  } else {
    doc["result"] = "rejoined";
    doc["rejoined"] = true;
    doc["rewind"] = rewind;
    doc["synchronous_replication"] = sync.empty() ? json() : json(sync);
    doc["total_seconds"] = total_seconds;
  }
  return doc;
}

RejoinReport rejoin(const config::Config& config, const RejoinRequest& request, const common::ProgressSink& progress) {
  const config::SiteConfig& sc = site::find_site(config, request.site);
  if (parse_environment(sc.environment) != Environment::e3)
    throw common::ExitError(common::exit_usage, fmt::format("site {} is not an E3 site: rejoin is within E3", sc.name));
  // Patroni runs the site: it fences and rewinds (ops/rejoin_patroni.hpp).
  if (rejoin_through_patroni(sc)) return rejoin_patroni(config, request, progress);
  ControlLock lock(config, "rejoin");
  Steps steps(progress);
  RejoinReport report;
  report.site = sc.name;
  Rejoin r{config, request, sc, local_node(sc), action_log(config, "rejoin", sc.name), steps, report};
  auto finish = [&] {
    report.steps = steps.list();
    report.total_seconds = steps.elapsed();
    return report;
  };

  r.steps.begin("probe the E3 sites");
  RejoinDecision d = decide_rejoin(config, sc, [&](const std::vector<std::string>& seen) {
    r.steps.end(fmt::format("{}", fmt::join(seen, ", ")));
  });
  r.me = d.me;
  r.primary = d.primary;
  report.primary = r.primary->name;
  if (d.already_following) {
    report.outcome = RejoinReport::Outcome::already_standby;
    report.timeline = r.primary->timeline.value_or(0);
    restore_sync(r);
    return finish();
  }
  read_divergence_point(r);
  if (!isolate(r)) return finish();
  save_orphans(r);
  if (!pgnode::missing_control(r.node).empty())
    manual_rewind(r);
  else
    rewind_and_follow(r);
  return finish();
}

}  // namespace rulekeeper::ops
