// `rulectl rejoin --site S [--orphans FILE]` (issue #6; DESIGN.md "CLI";
// POSTGRES-NOTES.md "A crashed primary coming back", "Rewind after failover",
// "Per-node settings").
//
// For a returning old primary (or any E3 node that must follow the new
// primary again):
//   1. it must take no writes: if it runs as a primary it is stopped; if it
//      is down it is started with standby.signal and NO upstream (replays its
//      own WAL and opens read-only: default_transaction_read_only would not
//      stop writes);
//   2. its orphans — journal entries beyond the divergence point, the version
//      vector the new primary recorded at promotion (latest failover_event) —
//      are exported there, read-only (export_changes), written to a bundle
//      file in state_dir (the server's text, byte for byte: the bundle
//      checksum stays valid) and printed;
//   3. only then: stop it, CHECKPOINT the new primary (or pg_rewind may see
//      the old timeline and say "no rewind required"), pg_rewind from it,
//      rewrite primary_conninfo / primary_slot_name in the node's own settings
//      file (and clear them from postgresql.auto.conf, which pg_rewind copied),
//      create its slot on the new primary, standby.signal, start, and wait
//      until the new primary sees it streaming.
// Where rulectl.toml lacks pgdata/start_command/stop_command for the site, it
// prints the exact commands instead of running them.
#include <ctime>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "common/text.hpp"
#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "site/node_control.hpp"
#include "common/output.hpp"
#include "pgnode/process.hpp"
#include "site/topology.hpp"
#include "site/server_error.hpp"
#include "site/waiter.hpp"
#include "site/client/waits.hpp"
#include "rulekeeper/version_vector.hpp"
#include "site/probe.hpp"

namespace fs = std::filesystem;

namespace rulekeeper::cli {
namespace {

using nlohmann::json;
namespace nc = node_control;
using std::chrono::milliseconds;

struct RejoinOptions {
  std::string site;
  std::string orphans;  // bundle file; default <state_dir>/orphans-<site>-<UTC>.json
  double wait_streaming = 60;
};

std::string stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string upstream_site(const config::Config& config, const nc::NodeState& n) {
  if (n.upstream_port.empty()) return "";
  const config::SiteConfig* s = nc::site_at(config, n.upstream_host, n.upstream_port, n.name());
  return s ? s->name : "";
}

void write_bundle(const fs::path& path, const std::string& text) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    if (!out) throw common::ExitError(common::exit_failed, "cannot write " + tmp.string());
    out << text << "\n";
    if (!out.flush()) throw common::ExitError(common::exit_failed, "cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

// One line per orphaned change, for people.
void print_orphans(std::ostream& out, const json& bundle) {
  const json& changes = bundle["changes"];
  if (changes.empty()) {
    out << "  (none: nothing was written there after the divergence point)\n";
    return;
  }
  common::Table t({"origin", "seq", "kind", "rule", "label", "recorded_at", "actor", "what"});
  for (const auto& c : changes) {
    std::string what;
    const json& row = c.contains("row") ? c["row"] : json(nullptr);
    if (row.is_object() && row.contains("content_sha256"))
      what = fmt::format("{} {}", row.value("qualification", ""),
                         common::abbreviate(row.value("content_sha256", ""), 12));
    else if (row.is_object() && row.contains("reason"))
      what = "reason: " + common::abbreviate(row.value("reason", ""), 40);
    else if (c.contains("payload") && c["payload"].is_object() && c["payload"].contains("channel"))
      what = "channel " + c["payload"].value("channel", "");
    auto s = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump(); };
    t.add_row({fmt::format("{}:{}", s(c["origin_site"]), s(c["origin_incarnation"])), s(c["origin_seq"]), s(c["kind"]),
               s(c["rule_key"]), s(c["label"]), s(c["recorded_at"]), s(c["actor"]), what});
  }
  t.print(out);
}

int rejoin(const GlobalOptions& global, const RejoinOptions& o) {
  config::Config config = load_config(global);
  const config::SiteConfig& sc = site::find_site(config, o.site);
  if (sc.environment != "e3")
    throw common::ExitError(common::exit_usage, fmt::format("site {} is not an E3 site: rejoin is within E3", sc.name));
  nc::ControlLock lock(config, "rejoin");
  nc::Steps steps;
  const auto log = nc::log_file(config, "rejoin", sc.name);
  const bool control = nc::controllable(sc);

  steps.begin("probe the E3 sites");
  std::vector<nc::NodeState> all = nc::probe_e3(config);
  nc::NodeState* me = nullptr;
  std::vector<nc::NodeState*> primaries;
  std::vector<std::string> seen;
  for (auto& n : all) {
    if (n.config == &sc)
      me = &n;
    else if (n.reachable && !n.in_recovery)
      primaries.push_back(&n);
    seen.push_back(fmt::format("{} {}", n.name(), !n.reachable ? "unreachable" : n.in_recovery ? "standby" : "primary"));
  }
  steps.end(fmt::format("{}", fmt::join(seen, ", ")));
  if (primaries.size() > 1) {
    std::vector<std::string> names;
    for (auto* p : primaries) names.push_back(fmt::format("{} (timeline {})", p->name(), p->timeline));
    throw common::ExitError(common::exit_refused, fmt::format("split brain among the other E3 sites: {}; rejoin them one at a time",
                                          fmt::join(names, ", ")));
  }
  if (primaries.empty()) {
    if (me->reachable && !me->in_recovery)
      throw common::ExitError(common::exit_refused, fmt::format("{} is the only E3 site that accepts writes: it is the primary, there is "
                                            "nothing to rejoin it to",
                                            sc.name));
    throw common::ExitError(common::exit_unreachable, fmt::format("no other E3 site accepts writes: no new primary to rejoin {} to",
                                              sc.name));
  }
  nc::NodeState& p = *primaries[0];
  const config::SiteConfig& pc = *p.config;

  if (me->reachable && me->in_recovery && me->wal_receiver == "streaming" && upstream_site(config, *me) == pc.name &&
      me->timeline == p.timeline) {
    json doc = {{"result", "already a standby"}, {"site", sc.name}, {"primary", pc.name},
                {"timeline", p.timeline},       {"steps", steps.to_json()}};
    if (global.json)
      common::print_json(doc);
    else
      std::cout << fmt::format("{} already streams from {} on timeline {}: nothing to do\n", sc.name, pc.name,
                               p.timeline);
    return common::exit_ok;
  }

  // The divergence point: what the new primary held when it was promoted.
  steps.begin(fmt::format("read the latest failover event at {}", pc.name));
  json event;
  {
    pqxx::nontransaction tx(*p.conn);
    pqxx::result r = tx.exec(
        "SELECT event_id::text, old_site, new_site, new_timeline, divergence::text, forced, recorded_at::text "
        "FROM rulekeeper.failover_event ORDER BY recorded_at DESC LIMIT 1");
    if (r.empty()) {
      steps.end("none");
      throw common::ExitError(common::exit_refused,
                  fmt::format("{} holds no failover event: nothing says where {} diverged from it, so its orphaned "
                              "changes cannot be told apart; nothing was done (promote with `rulectl failover`, "
                              "which records the divergence point)",
                              pc.name, sc.name));
    }
    event = {{"event_id", r[0][0].c_str()},         {"old_site", r[0][1].c_str()},
             {"new_site", r[0][2].c_str()},         {"new_timeline", r[0][3].as<long long>()},
             {"divergence", json::parse(r[0][4].c_str())}, {"forced", r[0][5].as<bool>()},
             {"recorded_at", r[0][6].c_str()}};
  }
  steps.end(fmt::format("{} -> {} at {} (timeline {}), divergence {}", event["old_site"].get<std::string>(),
                        event["new_site"].get<std::string>(), event["recorded_at"].get<std::string>(),
                        event["new_timeline"].get<long long>(), event["divergence"].dump()));

  std::vector<std::string> manual;  // commands printed instead of run
  auto shell_or = [&](const std::optional<std::string>& cmd, const std::string& what) {
    return cmd ? *cmd : "# " + what + " (no command in rulectl.toml)";
  };

  // 1. It must take no writes: a standby with no upstream.
  const bool need_restart = !me->reachable || !me->in_recovery;
  if (need_restart) {
    if (!control) {
      manual = {
          fmt::format("# {} is {}: make it a standby with NO upstream before anything else (it must take no writes)",
                      sc.name, me->reachable ? "a primary (split brain)" : "down"),
          me->reachable ? shell_or(sc.stop_command, "stop it: pg_ctl -D <pgdata> -m fast -w stop") : "",
          fmt::format("touch {}/standby.signal", sc.pgdata.value_or("<pgdata>")),
          fmt::format("# remove primary_conninfo and primary_slot_name from {} and <pgdata>/postgresql.auto.conf",
                      sc.conf_file.value_or("its postgresql.conf")),
          shell_or(sc.start_command, "start it: pg_ctl -D <pgdata> -w start"),
          fmt::format("rulectl rejoin --site {}", sc.name)};
      json doc = {{"result", "manual"}, {"site", sc.name}, {"primary", pc.name}, {"commands", manual},
                  {"missing_config", nc::missing_control(sc)}};
      if (global.json) {
        common::print_json(doc);
      } else {
        std::cout << fmt::format("rejoin {}: rulectl.toml lacks sites.{}.{}; run these, then rejoin again:\n", sc.name,
                                 sc.name, nc::missing_control(sc));
        for (const auto& m : manual)
          if (!m.empty()) std::cout << "  " << m << "\n";
      }
      return me->reachable ? common::exit_refused : common::exit_unreachable;
    }
    if (me->reachable) {
      steps.begin(fmt::format("stop {} (it accepts writes: split brain)", sc.name));
      me->conn.reset();
      nc::stop(sc, log);
      steps.end("stopped");
    } else if (int pid = nc::postmaster_pid(sc); pid != 0) {
      throw common::ExitError(common::exit_unreachable,
                  fmt::format("{}'s postmaster runs (PID {}) but does not answer ({}); nothing was done", sc.name, pid,
                              me->error));
    }
    steps.begin(fmt::format("start {} as a standby with no upstream", sc.name));
    nc::set_upstream(sc, "", "");
    nc::write_standby_signal(sc);
    nc::start(sc, log);
    steps.end(fmt::format("standby.signal, no primary_conninfo ({})", nc::settings_file(sc).string()));
  }

  // 2. Its orphans, read-only.
  steps.begin(fmt::format("export {}'s changes beyond the divergence point", sc.name));
  std::string bundle_text;
  {
    std::string err;
    auto c = nc::try_connect(sc, err, 10);
    if (!c) throw common::ExitError(common::exit_unreachable, fmt::format("site {} does not answer: {}", sc.name, err));
    pqxx::nontransaction tx(*c);
    if (!tx.exec("SELECT pg_is_in_recovery()")[0][0].as<bool>())
      throw common::ExitError(common::exit_refused, fmt::format("{} accepts writes: refusing to read its orphans while it may still "
                                            "take more",
                                            sc.name));
    try {
      bundle_text = tx.exec_params("SELECT rulekeeper.export_changes($1::jsonb)::text", event["divergence"].dump())[0][0]
                        .c_str();
    } catch (const pqxx::failure& e) {
      throw site::sql_failure(fmt::format("export_changes at {}", sc.name), e);
    }
  }
  json bundle = json::parse(bundle_text);
  const fs::path bundle_path = o.orphans.empty() ? fs::path(config.state_dir) / fmt::format("orphans-{}-{}.json",
                                                                                             sc.name, stamp())
                                                 : fs::path(o.orphans);
  write_bundle(bundle_path, bundle_text);
  const std::size_t n_orphans = bundle["changes"].size();
  steps.end(fmt::format("{} change{} -> {}", n_orphans, n_orphans == 1 ? "" : "s", bundle_path.string()));

  json doc = {{"site", sc.name},
              {"primary", pc.name},
              {"failover_event", event},
              {"orphans", {{"file", bundle_path.string()}, {"count", n_orphans}, {"changes", bundle["changes"]}}}};
  auto finish_text = [&](const std::string& headline, const std::vector<std::string>& lines) {
    std::cout << headline << "\n\norphaned changes of " << sc.name << " (beyond the divergence point "
              << event["divergence"].dump() << "), saved to " << bundle_path.string() << ":\n";
    print_orphans(std::cout, bundle);
    if (n_orphans > 0)
      std::cout << fmt::format("bring them back with: rulectl reconcile --bundle {} --to {}\n",
                               process::shell_quote(bundle_path.string()), pc.name);
    std::cout << "\n";
    for (const auto& l : lines) std::cout << l << "\n";
    std::cout << "\n";
    steps.print(std::cout);
  };

  const std::string source = pc.conninfo;
  const std::string repl = nc::replication_conninfo(pc, sc.name);
  if (!control) {
    manual = {
        fmt::format("psql {} -c 'CHECKPOINT'", process::shell_quote(pc.conninfo)),
        shell_or(sc.stop_command, "stop it: pg_ctl -D <pgdata> -m fast -w stop"),
        nc::rewind_command(sc, source),
        fmt::format("# in {} set: primary_conninfo = {}  and  primary_slot_name = '{}'; remove both from "
                    "<pgdata>/postgresql.auto.conf",
                    sc.conf_file.value_or("its postgresql.conf"), process::shell_quote(repl), sc.name),
        fmt::format("psql {} -c \"SELECT pg_create_physical_replication_slot('{}', true)\"",
                    process::shell_quote(pc.conninfo), sc.name),
        fmt::format("touch {}/standby.signal", sc.pgdata.value_or("<pgdata>")),
        shell_or(sc.start_command, "start it: pg_ctl -D <pgdata> -w start")};
    doc["result"] = "manual";
    doc["rejoined"] = false;
    doc["commands"] = manual;
    doc["steps"] = steps.to_json();
    if (global.json) {
      common::print_json(doc);
    } else {
      std::vector<std::string> lines{fmt::format("rulectl.toml lacks sites.{}.{}: run these to rewind it and make it "
                                                 "{}'s standby:",
                                                 sc.name, nc::missing_control(sc), pc.name)};
      for (const auto& m : manual) lines.push_back("  " + m);
      finish_text(fmt::format("rejoin {}: orphans saved; NOT rejoined yet", sc.name), lines);
    }
    return common::exit_ok;
  }

  // 3. Rewind and follow the new primary.
  steps.begin(fmt::format("stop {}", sc.name));
  nc::stop(sc, log);
  steps.end("stopped");
  steps.begin(fmt::format("CHECKPOINT at {}", pc.name));
  {
    pqxx::nontransaction tx(*p.conn);
    tx.exec("CHECKPOINT");
  }
  steps.end("");
  {
    // PostgreSQL 15's pg_rewind takes the target's timeline from its last
    // checkpoint: a node promoted and then killed before its first
    // checkpoint on the new timeline cannot be rewound (it would look for WAL
    // on the old one: "could not find previous WAL record").
    nc::ControlData cd = nc::controldata(sc, log);
    if (cd.min_recovery_timeline > cd.timeline)
      throw common::ExitError(common::exit_failed,
                  fmt::format("{} cannot be rewound by PostgreSQL 15's pg_rewind: its last checkpoint is on timeline {} "
                              "but its WAL goes on to timeline {} (it crashed before the first checkpoint after its "
                              "promotion). Its orphans are saved in {}. Re-clone it instead: remove {} and "
                              "pg_basebackup -D {} from {} (slot '{}'), then `rulectl rejoin --site {}`",
                              sc.name, cd.timeline, cd.min_recovery_timeline, bundle_path.string(),
                              sc.pgdata.value_or("<pgdata>"), sc.pgdata.value_or("<pgdata>"), pc.name, sc.name,
                              sc.name));
  }
  steps.begin(fmt::format("pg_rewind {} from {}", sc.name, pc.name));
  std::string rewound = nc::rewind(sc, source, log);
  std::string rewind_result = rewound.find("no rewind required") != std::string::npos ? "no rewind required"
                              : rewound.find("Done!") != std::string::npos           ? "rewound"
                                                                                     : common::one_line(rewound);
  steps.end(rewind_result);
  steps.begin(fmt::format("settings of {}: follow {}", sc.name, pc.name));
  nc::set_upstream(sc, repl, sc.name);
  nc::write_standby_signal(sc);
  steps.end(fmt::format("primary_conninfo -> {}, primary_slot_name '{}' in {}; standby.signal", pc.name, sc.name,
                        nc::settings_file(sc).string()));
  steps.begin(fmt::format("create slot '{}' at {}", sc.name, pc.name));
  {
    pqxx::nontransaction tx(*p.conn);
    tx.exec_params("SELECT pg_create_physical_replication_slot($1, true) "
                   "WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
                   sc.name);
  }
  steps.end("");
  steps.begin(fmt::format("start {} as {}'s standby", sc.name, pc.name));
  nc::start(sc, log);
  steps.end("started");
  steps.begin(fmt::format("wait until {} streams from {}", sc.name, pc.name));
  bool streaming = nc::wait_for(milliseconds(static_cast<long long>(o.wait_streaming * 1000)), milliseconds(50), [&] {
    pqxx::nontransaction tx(*p.conn);
    return !tx.exec_params("SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
                           sc.name)
                .empty();
  });
  if (!streaming) {
    steps.end("NOT streaming");
    throw common::ExitError(common::exit_failed, fmt::format("{} was rewound and started but does not stream from {} after {}s (see {} "
                                         "and its server log); its orphans are in {}",
                                         sc.name, pc.name, o.wait_streaming, log.string(), bundle_path.string()));
  }
  steps.end("streaming");

  doc["result"] = "rejoined";
  doc["rejoined"] = true;
  doc["rewind"] = rewind_result;
  doc["steps"] = steps.to_json();
  doc["total_seconds"] = steps.elapsed();
  if (global.json) {
    common::print_json(doc);
  } else {
    finish_text(fmt::format("rejoined: {} is a standby of {} ({}; {:.2f}s)", sc.name, pc.name, rewind_result,
                            steps.elapsed()),
                {fmt::format("{} streams from {} (slot '{}')", sc.name, pc.name, sc.name)});
  }
  return common::exit_ok;
}

}  // namespace

void add_rejoin(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<RejoinOptions>();
  CLI::App* cmd = app.add_subcommand(
      "rejoin",
      "make a returning old primary follow the new one: keep it from writing, save its orphaned changes to a "
      "bundle, then pg_rewind it and start it as the new primary's standby (or print the commands)");
  cmd->add_option("--site", o->site, "the E3 site to rejoin (the old primary)")->required();
  cmd->add_option("--orphans", o->orphans,
                  "where to write the orphans bundle (default: <state_dir>/orphans-<site>-<UTC time>.json)");
  cmd->add_option("--wait-streaming", o->wait_streaming, "seconds to wait until it streams")->capture_default_str();
  cmd->callback([&global, &exit_code, o] { exit_code = rejoin(global, *o); });
}

}  // namespace rulekeeper::cli
