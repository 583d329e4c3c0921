// `rulectl failover --to S` (issue #6; DESIGN.md "CLI", "Replication model";
// POSTGRES-NOTES.md "Planned switchover", "Timelines").
//
// Old primary reachable: a planned switchover — stop it cleanly (its
// stop_command, -m fast: the walsenders wait until connected standbys have
// the shutdown checkpoint), check with pg_controldata that the target replayed
// past that checkpoint (zero loss, proven by LSN), pg_promote() the target,
// record the failover there, create the old primary's slot there, and restart
// the old primary as the target's standby (standby.signal, primary_conninfo
// and primary_slot_name in its own settings file), then drop the slot it
// still holds for the target.
//
// Old primary unreachable: let the target replay everything it received,
// then refuse (exit 3) — what the old primary committed and never sent cannot
// be known — stating the last replayed heartbeat and its age, receive vs
// replay LSN and the last change held from the old primary; with --force,
// promote and record the failover (forced) with that evidence.
//
// Refused before anything is done: a target that is already primary, that is
// not a standby of the old primary, two writable E3 sites, a failover or
// rejoin already running (state_dir lock).
#include <unistd.h>
#include <pwd.h>

#include <iostream>

#include <fmt/format.h>

#include "common/text.hpp"
#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "site/node_control.hpp"
#include "common/output.hpp"
#include "site/topology.hpp"
#include "site/server_error.hpp"
#include "site/waiter.hpp"
#include "site/client/waits.hpp"
#include "rulekeeper/version_vector.hpp"
#include "site/probe.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;
namespace nc = node_control;
using std::chrono::milliseconds;

struct FailoverOptions {
  std::string to;
  long long max_lag_bytes = -1;  // -1: no limit
  double wait_catchup = 30;
  bool force = false;
};

std::string os_user() {
  if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}

std::string text_or(const pqxx::field& f, const std::string& fallback = "") {
  return f.is_null() ? fallback : std::string(f.c_str());
}

// The newest origin of `site` in a version vector: {"origin": "ipc2:1", "seq": 42}.
json last_origin_of(const std::string& vector_text, const std::string& site) {
  json best = nullptr;
  long long best_inc = -1;
  const VersionVector vector = VersionVector::from_json(vector_text);
  for (const auto& [origin, seq] : vector.entries()) {
    if (origin.site != site) continue;
    if (origin.incarnation > best_inc) {
      best_inc = origin.incarnation;
      best = {{"origin", origin.key()}, {"seq", seq}};
    }
  }
  return best;
}

// Upstream of `n` as a configured site name ("" if unknown).
std::string upstream_site(const config::Config& config, const nc::NodeState& n) {
  if (n.upstream_port.empty()) return "";
  const config::SiteConfig* s = nc::site_at(config, n.upstream_host, n.upstream_port, n.name());
  return s ? s->name : "";
}

// What a standby whose primary is gone can tell: received vs replayed, the
// old primary's last replayed heartbeat, the last change held from it.
json standby_evidence(pqxx::connection& c, const std::string& old_site) {
  json ev;
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(
      "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, "
      "       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint, "
      "       pg_get_wal_replay_pause_state(), rulekeeper.version_vector()::text, "
      "       pg_last_xact_replay_timestamp()::text");
  ev["receive_lsn"] = r[0][0].is_null() ? json(nullptr) : json(r[0][0].c_str());
  ev["replay_lsn"] = r[0][1].is_null() ? json(nullptr) : json(r[0][1].c_str());
  ev["unreplayed_bytes"] = r[0][2].is_null() ? json(0) : json(r[0][2].as<long long>());
  ev["replay_pause_state"] = r[0][3].c_str();
  ev["version_vector"] = json::parse(r[0][4].c_str());
  ev["last_change_from_old_primary"] = last_origin_of(r[0][4].c_str(), old_site);
  ev["last_replayed_commit_at"] = r[0][5].is_null() ? json(nullptr) : json(r[0][5].c_str());
  pqxx::result h = tx.exec_params(
      "SELECT beat_at::text, extract(epoch FROM clock_timestamp() - beat_at)::float8, beat_seq "
      "FROM rulekeeper.heartbeat WHERE site = $1",
      old_site);
  if (h.empty())
    ev["last_heartbeat"] = nullptr;
  else
    ev["last_heartbeat"] = {{"site", old_site}, {"beat_at", h[0][0].c_str()}, {"age_seconds", h[0][1].as<double>()},
                            {"beat_seq", h[0][2].as<long long>()}};
  return ev;
}

std::string evidence_text(const json& ev, const std::string& old_site, const std::string& target) {
  std::string hb = ev["last_heartbeat"].is_null()
                       ? fmt::format("no heartbeat of {} was ever replayed at {}", old_site, target)
                       : fmt::format("last heartbeat of {} replayed at {}: {} ({:.1f}s ago)", old_site, target,
                                     ev["last_heartbeat"]["beat_at"].get<std::string>(),
                                     ev["last_heartbeat"]["age_seconds"].get<double>());
  std::string lsn = fmt::format("received {} / replayed {}",
                                ev["receive_lsn"].is_null() ? "nothing by streaming since it started"
                                                            : ev["receive_lsn"].get<std::string>(),
                                ev["replay_lsn"].is_null() ? "?" : ev["replay_lsn"].get<std::string>());
  std::string last = ev["last_change_from_old_primary"].is_null()
                         ? fmt::format("no change from {} held", old_site)
                         : fmt::format("last change held from {}: {} origin_seq {}", old_site,
                                       ev["last_change_from_old_primary"]["origin"].get<std::string>(),
                                       ev["last_change_from_old_primary"]["seq"].get<long long>());
  return hb + "; " + lsn + "; " + last;
}

// An immediate checkpoint at the new primary right after promotion: until
// the first checkpoint on the new timeline completes (a promotion only asks
// for a spread one: minutes), its control file names the old timeline, and
// PostgreSQL 15's pg_rewind of it — should it crash and come back — then
// looks for WAL on the wrong timeline and fails.
std::string checkpoint(pqxx::connection& c) {
  try {
    pqxx::nontransaction tx(c);
    tx.exec("CHECKPOINT");
    return "done";
  } catch (const std::exception& e) {
    return "failed (not fatal): " + common::one_line(e.what());
  }
}

json record_failover(pqxx::connection& c, const std::string& old_site, bool forced, const json& details) {
  pqxx::nontransaction tx(c);
  try {
    pqxx::result r = tx.exec_params("SELECT rulekeeper.record_failover($1, $2, $3::jsonb)::text", old_site, forced,
                                    details.dump());
    return json::parse(r[0][0].c_str());
  } catch (const pqxx::failure& e) {
    throw site::sql_failure("record_failover", e);
  }
}

void promote(pqxx::connection& c, const std::string& target) {
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec("SELECT pg_promote(true, 60)");
  if (!r[0][0].as<bool>())
    throw common::ExitError(common::exit_failed, fmt::format("pg_promote() at {} did not finish within 60s", target));
}

void print_report(const GlobalOptions& global, json& doc, const nc::Steps& steps, const std::string& headline,
                  const std::vector<std::string>& lines) {
  doc["steps"] = steps.to_json();
  doc["total_seconds"] = steps.elapsed();
  if (global.json) {
    common::print_json(doc);
    return;
  }
  std::cout << headline << "\n";
  for (const auto& l : lines) std::cout << "  " << l << "\n";
  std::cout << "\n";
  steps.print(std::cout);
}

int planned_switchover(const GlobalOptions& global, const config::Config& config, const FailoverOptions& o,
                       nc::NodeState& target, nc::NodeState& old, std::vector<nc::NodeState>& all, nc::Steps& steps) {
  const config::SiteConfig& oc = *old.config;
  const config::SiteConfig& tc = *target.config;
  if (!nc::controllable(oc))
    throw common::ExitError(common::exit_usage,
                fmt::format("a planned switchover stops {} and restarts it as {}'s standby: rulectl.toml lacks "
                            "sites.{}.{} (PostgreSQL 15 has no SQL shutdown); nothing was done",
                            oc.name, tc.name, oc.name, nc::missing_control(oc)));
  const auto log = nc::log_file(config, "failover", oc.name);

  // 1. The target streams from the old primary, and (if asked) is close enough.
  steps.begin(fmt::format("check {} streams from {}", tc.name, oc.name));
  std::string state;
  long long lag = -1;
  auto read_lag = [&] {
    pqxx::nontransaction tx(*old.conn);
    pqxx::result r = tx.exec_params(
        "SELECT state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication "
        "WHERE application_name = $1 ORDER BY (state = 'streaming') DESC LIMIT 1",
        tc.name);
    state = r.empty() ? "" : r[0][0].c_str();
    lag = r.empty() || r[0][1].is_null() ? -1 : r[0][1].as<long long>();
  };
  read_lag();
  if (state != "streaming")
    throw common::ExitError(common::exit_refused, fmt::format("{} is not streaming from {} ({}): a switchover now would stop {} and then "
                                          "wait for WAL {} cannot receive; nothing was done",
                                          tc.name, oc.name, state.empty() ? "not connected" : "state " + state,
                                          oc.name, tc.name));
  if (o.max_lag_bytes >= 0 && (lag < 0 || lag > o.max_lag_bytes)) {
    bool ok = nc::wait_for(milliseconds(static_cast<long long>(o.wait_catchup * 1000)), milliseconds(100), [&] {
      read_lag();
      return state == "streaming" && lag >= 0 && lag <= o.max_lag_bytes;
    });
    if (!ok)
      throw common::ExitError(common::exit_refused,
                  fmt::format("{} lags {} by {} bytes of replay (limit --max-lag-bytes {}) after waiting {}s; "
                              "nothing was done",
                              tc.name, oc.name, lag, o.max_lag_bytes, o.wait_catchup));
  }
  std::string before_vector = nc::value(*old.conn, "SELECT rulekeeper.version_vector()::text");
  steps.end(fmt::format("streaming, replay lag {} bytes", lag));

  // 2. Stop the old primary cleanly.
  old.conn.reset();
  steps.begin(fmt::format("stop {} (stop_command, -m fast)", oc.name));
  nc::stop(oc, log);
  steps.end("stopped");

  steps.begin(fmt::format("pg_controldata {}", oc.name));
  nc::ControlData cd = nc::controldata(oc, log);
  if (cd.state != "shut down") {
    steps.end("state " + cd.state);
    throw common::ExitError(common::exit_failed, fmt::format("{} did not shut down cleanly (pg_controldata: '{}'); it is stopped, {} was "
                                         "not promoted: start {} again, or fail over without it",
                                         oc.name, cd.state, tc.name, oc.name));
  }
  steps.end(fmt::format("shut down; latest checkpoint {} (timeline {})", cd.checkpoint_lsn, cd.timeline));

  // 3. The target replayed past the shutdown checkpoint: it holds every change.
  steps.begin(fmt::format("wait until {} replayed past {}", tc.name, cd.checkpoint_lsn));
  std::string replayed;
  bool caught_up = nc::wait_for(milliseconds(static_cast<long long>(o.wait_catchup * 1000)), milliseconds(20), [&] {
    pqxx::nontransaction tx(*target.conn);
    pqxx::result r = tx.exec_params(
        "SELECT pg_last_wal_replay_lsn()::text, coalesce(pg_last_wal_replay_lsn() > $1::pg_lsn, false)",
        cd.checkpoint_lsn);
    replayed = text_or(r[0][0], "nothing");
    return r[0][1].as<bool>();
  });
  if (!caught_up) {
    steps.end("NOT replayed: " + replayed);
    steps.begin(fmt::format("restart {} as the primary it was", oc.name));
    nc::start(oc, log);
    steps.end("started");
    throw common::ExitError(common::exit_refused,
                fmt::format("{} did not replay past {}'s shutdown checkpoint {} within {}s (replayed {}); {} was "
                            "restarted as the primary, nothing else changed",
                            tc.name, oc.name, cd.checkpoint_lsn, o.wait_catchup, replayed, oc.name));
  }
  steps.end("replayed " + replayed);

  // 4. Promote, and record the divergence point before anything else is written.
  steps.begin(fmt::format("promote {} (pg_promote)", tc.name));
  promote(*target.conn, tc.name);
  steps.end("promoted");
  steps.begin(fmt::format("record the failover at {}", tc.name));
  json details = {{"planned", true},
                  {"rulectl", "failover"},
                  {"os_user", os_user()},
                  {"old_shutdown_checkpoint", cd.checkpoint_lsn},
                  {"target_replayed", replayed},
                  {"steps", steps.to_json()}};
  json event = record_failover(*target.conn, oc.name, false, details);
  steps.end(fmt::format("timeline {}, incarnation {}", event.value("new_timeline", 0), event.value("incarnation", 0)));
  steps.begin(fmt::format("CHECKPOINT at {} (control file on the new timeline)", tc.name));
  steps.end(checkpoint(*target.conn));

  // 5. The old primary becomes the new primary's standby.
  steps.begin(fmt::format("create slot '{}' at {}", oc.name, tc.name));
  {
    pqxx::nontransaction tx(*target.conn);
    tx.exec_params("SELECT pg_create_physical_replication_slot($1, true) "
                   "WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
                   oc.name);
  }
  steps.end("");
  steps.begin(fmt::format("restart {} as a standby of {}", oc.name, tc.name));
  nc::set_upstream(oc, nc::replication_conninfo(tc, oc.name), oc.name);
  nc::write_standby_signal(oc);
  nc::start(oc, log);
  steps.end(fmt::format("standby.signal, primary_conninfo -> {}, primary_slot_name '{}' in {}", tc.name, oc.name,
                        nc::settings_file(oc).string()));
  steps.begin(fmt::format("wait until {} streams from {}", oc.name, tc.name));
  bool streaming = nc::wait_for(std::chrono::seconds(60), milliseconds(50), [&] {
    pqxx::nontransaction tx(*target.conn);
    return !tx.exec_params("SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
                           oc.name)
                .empty();
  });
  if (!streaming) {
    steps.end("not streaming after 60s");
    throw common::ExitError(common::exit_failed, fmt::format("{} is the primary now, but {} did not start streaming from it within 60s "
                                         "(see {} and its server log); run `rulectl rejoin --site {}`",
                                         tc.name, oc.name, log.string(), oc.name));
  }
  steps.end("streaming");

  // 6. The slot the old primary still holds for the target is stale.
  std::string dropped = "none";
  steps.begin(fmt::format("drop the stale slot '{}' at {}", tc.name, oc.name));
  try {
    std::string err;
    auto c = nc::try_connect(oc, err);
    if (c) {
      pqxx::nontransaction tx(*c);
      pqxx::result r = tx.exec_params(
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
          tc.name);
      dropped = r.empty() ? "none there" : "dropped";
    } else {
      dropped = "not dropped: " + err;
    }
  } catch (const std::exception& e) {
    dropped = "not dropped: " + common::one_line(e.what());
  }
  steps.end(dropped);

  // Standbys that followed the old primary keep following it (cascading now).
  std::vector<std::string> cascaded;
  for (const auto& n : all)
    if (n.config != target.config && n.config != old.config && n.reachable && n.in_recovery &&
        upstream_site(config, n) == oc.name)
      cascaded.push_back(n.name());

  // Zero loss: proven by the LSN check; the divergence vector must cover
  // what the old primary reported before it stopped.
  std::vector<std::string> uncovered;
  for (const SeqRange& r :
       VersionVector::from_json(before_vector).missing_from(VersionVector::from_json(event["divergence"].dump())))
    uncovered.push_back(r.describe());
  json doc = {{"result", "switched over"},
              {"planned", true},
              {"forced", false},
              {"old_primary", oc.name},
              {"new_primary", tc.name},
              {"new_timeline", event.value("new_timeline", 0)},
              {"zero_loss", uncovered.empty()},
              {"lost_changes", 0},
              {"shutdown_checkpoint", cd.checkpoint_lsn},
              {"target_replayed", replayed},
              {"failover_event", event},
              {"stale_slot", dropped},
              {"cascaded_standbys", cascaded}};
  std::vector<std::string> lines{
      fmt::format("zero changes lost: {} replayed {} > {}'s shutdown checkpoint {} before promotion", tc.name, replayed,
                  oc.name, cd.checkpoint_lsn),
      fmt::format("{} is the E3 primary on timeline {}; {} streams from it (slot '{}')", tc.name,
                  event.value("new_timeline", 0), oc.name, oc.name),
      fmt::format("failover event {} recorded at {} (divergence point {})", event.value("event_id", ""), tc.name,
                  event["divergence"].dump())};
  if (!uncovered.empty())
    lines.push_back(fmt::format("WARNING: the divergence vector does not cover what {} reported before it stopped: {}",
                                oc.name, fmt::join(uncovered, "; ")));
  if (!cascaded.empty())
    lines.push_back(fmt::format("{} still follow{} {} (now a cascading standby)", fmt::join(cascaded, ", "),
                                cascaded.size() == 1 ? "s" : "", oc.name));
  print_report(global, doc, steps,
               fmt::format("switched over: {} -> {} (planned, {:.2f}s)", oc.name, tc.name, steps.elapsed()), lines);
  return uncovered.empty() ? common::exit_ok : common::exit_failed;
}

int unreachable_failover(const GlobalOptions& global, const config::Config& config, const FailoverOptions& o,
                         nc::NodeState& target, const config::SiteConfig& oc, const std::string& old_error,
                         nc::Steps& steps) {
  (void)config;
  const config::SiteConfig& tc = *target.config;
  steps.note(fmt::format("{} is unreachable", oc.name), old_error);

  // Let the target replay everything it has received.
  steps.begin(fmt::format("wait until {} replayed all it received", tc.name));
  std::string why;
  bool all_replayed = nc::wait_for(milliseconds(static_cast<long long>(o.wait_catchup * 1000)), milliseconds(20), [&] {
    pqxx::nontransaction tx(*target.conn);
    pqxx::result r = tx.exec(
        "SELECT pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn(), "
        "pg_get_wal_replay_pause_state()");
    why = r[0][1].c_str();
    return r[0][0].as<bool>();
  });
  json ev = standby_evidence(*target.conn, oc.name);
  steps.end(all_replayed ? "all received WAL replayed"
                         : fmt::format("NOT all replayed after {}s (replay {})", o.wait_catchup, why));
  const std::string evidence = evidence_text(ev, oc.name, tc.name);

  if (!o.force) {
    json doc = {{"result", "refused"}, {"planned", false}, {"forced", false}, {"old_primary", oc.name},
                {"old_primary_error", old_error}, {"new_primary", nullptr}, {"target", tc.name},
                {"evidence", ev}, {"all_received_replayed", all_replayed}};
    doc["why"] = fmt::format(
        "{} is unreachable: whatever it committed after the last WAL {} received cannot be known, so the loss "
        "of a failover cannot be proven; rerun with --force to promote {} and accept it",
        oc.name, tc.name, tc.name);
    std::vector<std::string> lines{evidence, doc["why"].get<std::string>(),
                                   fmt::format("nothing was done; {} is still a standby", tc.name)};
    print_report(global, doc, steps, fmt::format("failover to {} REFUSED (exit 3)", tc.name), lines);
    return common::exit_refused;
  }

  steps.begin(fmt::format("promote {} (pg_promote, forced)", tc.name));
  promote(*target.conn, tc.name);
  steps.end("promoted");
  steps.begin(fmt::format("record the failover at {}", tc.name));
  json details = {{"planned", false},        {"rulectl", "failover --force"}, {"os_user", os_user()},
                  {"old_primary_error", old_error}, {"evidence", ev},           {"steps", steps.to_json()}};
  json event = record_failover(*target.conn, oc.name, true, details);
  steps.end(fmt::format("timeline {}, incarnation {}", event.value("new_timeline", 0), event.value("incarnation", 0)));
  steps.begin(fmt::format("CHECKPOINT at {} (control file on the new timeline)", tc.name));
  steps.end(checkpoint(*target.conn));

  json doc = {{"result", "failed over"},
              {"planned", false},
              {"forced", true},
              {"old_primary", oc.name},
              {"old_primary_error", old_error},
              {"new_primary", tc.name},
              {"new_timeline", event.value("new_timeline", 0)},
              {"zero_loss", nullptr},
              {"evidence", ev},
              {"failover_event", event}};
  std::vector<std::string> lines{
      evidence,
      fmt::format("loss: unknown — whatever {} committed after that is not here; it comes back as orphans when {} "
                  "returns (`rulectl rejoin --site {}` captures them before rewinding it, `rulectl reconcile` "
                  "brings them back)",
                  oc.name, oc.name, oc.name),
      fmt::format("{} is the E3 primary on timeline {}; failover event {} (divergence point {})", tc.name,
                  event.value("new_timeline", 0), event.value("event_id", ""), event["divergence"].dump()),
      fmt::format("{} must not come back as a primary: start it only through `rulectl rejoin --site {}`", oc.name,
                  oc.name)};
  print_report(global, doc, steps,
               fmt::format("failed over: {} -> {} (FORCED, {:.2f}s)", oc.name, tc.name, steps.elapsed()), lines);
  return common::exit_ok;
}

int failover(const GlobalOptions& global, const FailoverOptions& o) {
  config::Config config = load_config(global);
  const config::SiteConfig& tc = site::find_site(config, o.to);
  if (tc.environment != "e3")
    throw common::ExitError(common::exit_usage, fmt::format("site {} is not an E3 site (environment {}): failover is within E3", tc.name,
                                        tc.environment));
  if (o.wait_catchup < 0) throw common::ExitError(common::exit_usage, "--wait-catchup must not be negative");
  nc::ControlLock lock(config, "failover");
  nc::Steps steps;

  steps.begin("probe the E3 sites");
  std::vector<nc::NodeState> all = nc::probe_e3(config);
  nc::NodeState* target = nullptr;
  std::vector<nc::NodeState*> writable;
  std::vector<std::string> seen;
  for (auto& n : all) {
    if (n.config == &tc) target = &n;
    if (n.reachable && !n.in_recovery) writable.push_back(&n);
    seen.push_back(fmt::format("{} {}", n.name(),
                               !n.reachable ? "unreachable" : n.in_recovery ? "standby" : "primary"));
  }
  steps.end(fmt::format("{}", fmt::join(seen, ", ")));
  if (target == nullptr || !target->reachable)
    throw common::ExitError(common::exit_unreachable, fmt::format("target {} is unreachable ({}); nothing was done", tc.name,
                                              target ? target->error : "not probed"));
  if (writable.size() > 1) {
    std::vector<std::string> both;
    for (const auto* w : writable) both.push_back(fmt::format("{} (timeline {})", w->name(), w->timeline));
    throw common::ExitError(common::exit_refused, fmt::format("split brain: more than one E3 site accepts writes: {}; refusing to fail "
                                          "over; rejoin the old primary first (`rulectl rejoin --site …`)",
                                          fmt::join(both, ", ")));
  }
  if (!target->in_recovery)
    throw common::ExitError(common::exit_refused, fmt::format("{} is already the E3 primary (timeline {}); nothing was done", tc.name,
                                          target->timeline));

  const std::string upstream = upstream_site(config, *target);
  if (writable.size() == 1) {
    nc::NodeState& old = *writable[0];
    if (upstream != old.name())
      throw common::ExitError(common::exit_refused,
                  fmt::format("{} is not a standby of the E3 primary {} ({}); nothing was done", tc.name, old.name(),
                              upstream.empty()
                                  ? (target->upstream_port.empty() ? std::string("it has no upstream")
                                                                   : fmt::format("its upstream {}:{} is no configured "
                                                                                 "site",
                                                                                 target->upstream_host,
                                                                                 target->upstream_port))
                                  : "it follows " + upstream));
    return planned_switchover(global, config, o, *target, old, all, steps);
  }
  // No writable E3 site: the target's upstream is the old primary.
  if (upstream.empty())
    throw common::ExitError(common::exit_refused,
                fmt::format("no E3 site accepts writes and {} names no upstream that is a configured site ({}); "
                            "cannot tell which site was the primary; nothing was done",
                            tc.name, target->upstream_port.empty()
                                         ? std::string("no primary_conninfo")
                                         : target->upstream_host + ":" + target->upstream_port));
  for (auto& n : all) {
    if (n.name() != upstream) continue;
    if (n.reachable)
      throw common::ExitError(common::exit_refused, fmt::format("{}'s upstream {} is reachable but is a standby itself (in recovery): "
                                            "there is no primary to fail over from; nothing was done",
                                            tc.name, upstream));
    return unreachable_failover(global, config, o, *target, *n.config, n.error, steps);
  }
  throw common::ExitError(common::exit_failed, "internal: the upstream site was not probed");
}

}  // namespace

void add_failover(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<FailoverOptions>();
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
  cmd->callback([&global, &exit_code, o] { exit_code = failover(global, *o); });
}

}  // namespace rulekeeper::cli
