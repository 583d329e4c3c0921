// See failover.hpp.
#include "ops/failover.hpp"

#include <pwd.h>
#include <unistd.h>

#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "site/server_error.hpp"
#include "common/poll.hpp"
#include "common/text.hpp"
#include "ops/control_lock.hpp"
#include "ops/failover_decision.hpp"
#include "ops/failover_patroni.hpp"
#include "ops/last_primary.hpp"
#include "ops/sync_promotion.hpp"
#include "pgnode/node_control.hpp"
#include "pgnode/tools.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "rulekeeper/version_vector.hpp"
#include "site/conninfo.hpp"
#include "site/client/journal.hpp"
#include "site/connect.hpp"
#include "site/probe.hpp"
#include "site/topology.hpp"

namespace fs = std::filesystem;
namespace client = rulekeeper::site::client;
using nlohmann::json;
using rulekeeper::site::SiteState;
using std::chrono::milliseconds;

namespace rulekeeper::ops {
namespace {

milliseconds seconds_ms(double seconds) { return milliseconds(static_cast<long long>(seconds * 1000)); }

std::string os_user() {
  if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}

// An immediate checkpoint at the new primary right after promotion: until
// the first checkpoint on the new timeline completes (a promotion only asks
// for a spread one: minutes), its control file names the old timeline, and
// PostgreSQL 15's pg_rewind of it — should it crash and come back — then
// looks for WAL on the wrong timeline and fails.
std::string checkpoint(pqxx::connection& c) {
  try {
    client::checkpoint(c);
    return "done";
  } catch (const std::exception& e) {
    return "failed (not fatal): " + common::one_line(e.what());
  }
}

// Written with synchronous_commit = local (site/client/failover.hpp): the
// record never waits for a synchronous standby. rulectl remembers the new
// primary in state_dir (ops/last_primary.hpp).
json record_failover(const config::Config& config, pqxx::connection& c, const std::string& new_site,
                     const std::string& old_site, bool forced, const json& details) {
  json event;
  try {
    event = client::record_failover(c, old_site, forced, details);
  } catch (const pqxx::failure& e) {
    throw site::sql_failure("record_failover", e);
  }
  try {
    remember_primary(config, new_site, event.value("new_timeline", 0LL), event.value("event_id", std::string()));
  } catch (const std::exception&) {
    // The event at the new primary is the record; state_dir's is a witness more.
  }
  return event;
}

// What each E3 site is doing, for the synchronous replication step.
std::map<std::string, std::string> whereabouts(const config::Config& config, const std::vector<SiteState>& all) {
  std::map<std::string, std::string> out;
  for (const auto& n : all) {
    if (!n.role_known()) {
      out[n.name] = "is unreachable";
    } else if (n.is_primary()) {
      out[n.name] = "accepts writes";
    } else {
      const std::string up = site::upstream_site(config, n);
      out[n.name] = up.empty() ? "has no upstream" : "follows " + up;
    }
  }
  return out;
}

// Before pg_promote(): the standby learns who promotes it and why, so the
// event the extension records when it leaves recovery is rulectl's
// (promoted_by 'rulectl', these details; sql/rulekeeper--0.1--0.2.sql
// "every promotion recorded by the extension"). Not fatal: record_failover()
// attaches the same account to an event recorded without it.
void announce_promotion(pqxx::connection& c, const std::string& target, const std::string& old_site, bool forced,
                        const json& details, Steps& steps) {
  steps.begin(fmt::format("tell {} who promotes it (expect_promotion)", target));
  try {
    steps.end(client::expect_promotion(c, old_site, forced, details) ? "told"
                                                                     : "not told (extension 0.1 or not preloaded)");
  } catch (const std::exception& e) {
    steps.end("not told: " + common::one_line(e.what()));
  }
}

void promote(pqxx::connection& c, const std::string& target) {
  if (!client::promote(c, 60))
    throw common::ExitError(common::exit_failed, fmt::format("pg_promote() at {} did not finish within 60s", target));
}

void planned_switchover(const config::Config& config, const FailoverRequest& o, SiteState& target, SiteState& old,
                        std::vector<SiteState>& all, Steps& steps, FailoverReport& report) {
  const config::SiteConfig& oc = *old.config;
  const config::SiteConfig& tc = *target.config;
  const pgnode::LocalNode old_node = local_node(oc);
  const std::string missing = pgnode::missing_control(old_node);
  if (!missing.empty())
    throw common::ExitError(common::exit_usage,
                            fmt::format("a planned switchover stops {} and restarts it as {}'s standby: rulectl.toml "
                                        "lacks sites.{}.{} (PostgreSQL 15 has no SQL shutdown); nothing was done",
                                        oc.name, tc.name, oc.name, missing));
  const auto log = action_log(config, "failover", oc.name);

  // 1. The target streams from the old primary, and (if asked) is close enough.
  steps.begin(fmt::format("check {} streams from {}", tc.name, oc.name));
  client::StandbyReplication rep = client::standby_replication(*old.connection, tc.name);
  if (rep.state != "streaming")
    throw common::ExitError(common::exit_refused,
                            fmt::format("{} is not streaming from {} ({}): a switchover now would stop {} and then "
                                        "wait for WAL {} cannot receive; nothing was done",
                                        tc.name, oc.name, rep.state.empty() ? "not connected" : "state " + rep.state,
                                        oc.name, tc.name));
  if (o.max_lag_bytes >= 0 && (rep.replay_lag < 0 || rep.replay_lag > o.max_lag_bytes)) {
    bool ok = common::poll_until(seconds_ms(o.wait_catchup), milliseconds(100), [&] {
      rep = client::standby_replication(*old.connection, tc.name);
      return rep.state == "streaming" && rep.replay_lag >= 0 && rep.replay_lag <= o.max_lag_bytes;
    });
    if (!ok)
      throw common::ExitError(common::exit_refused,
                              fmt::format("{} lags {} by {} bytes of replay (limit --max-lag-bytes {}) after waiting "
                                          "{}s; nothing was done",
                                          tc.name, oc.name, rep.replay_lag, o.max_lag_bytes, o.wait_catchup));
  }
  const std::string before_vector = client::version_vector(*old.connection).to_json();
  steps.end(fmt::format("streaming, replay lag {} bytes", rep.replay_lag));

  // Before anything stops: the target's commits must not wait for a
  // synchronous standby that cannot follow it (ops/sync_promotion.hpp).
  const SyncGuard sync =
      guard_sync_before_promotion(config, *target.connection, tc.name, steps, whereabouts(config, all));
  report.sync = sync.detail;

  // 2. Stop the old primary cleanly.
  old.connection.reset();
  steps.begin(fmt::format("stop {} (stop_command, -m fast)", oc.name));
  pgnode::stop(old_node, log);
  steps.end("stopped");

  steps.begin(fmt::format("pg_controldata {}", oc.name));
  const pgnode::ControlData cd = pgnode::node_controldata(old_node, log);
  if (cd.state != "shut down") {
    steps.end("state " + cd.state);
    undo_sync_guard(config, *target.connection, sync, steps);
    throw common::ExitError(common::exit_failed,
                            fmt::format("{} did not shut down cleanly (pg_controldata: '{}'); it is stopped, {} was "
                                        "not promoted: start {} again, or fail over without it",
                                        oc.name, cd.state, tc.name, oc.name));
  }
  steps.end(fmt::format("shut down; latest checkpoint {} (timeline {})", cd.checkpoint_lsn, cd.timeline));

  // 3. The target replayed past the shutdown checkpoint: it holds every change.
  steps.begin(fmt::format("wait until {} replayed past {}", tc.name, cd.checkpoint_lsn));
  std::string replayed;
  const bool caught_up = common::poll_until(seconds_ms(o.wait_catchup), milliseconds(20), [&] {
    const client::ReplayedPast r = client::replayed_past(*target.connection, cd.checkpoint_lsn);
    replayed = r.replayed;
    return r.past;
  });
  if (!caught_up) {
    steps.end("NOT replayed: " + replayed);
    steps.begin(fmt::format("restart {} as the primary it was", oc.name));
    pgnode::start(old_node, log);
    steps.end("started");
    undo_sync_guard(config, *target.connection, sync, steps);
    throw common::ExitError(common::exit_refused,
                            fmt::format("{} did not replay past {}'s shutdown checkpoint {} within {}s (replayed {}); "
                                        "{} was restarted as the primary, nothing else changed",
                                        tc.name, oc.name, cd.checkpoint_lsn, o.wait_catchup, replayed, oc.name));
  }
  steps.end("replayed " + replayed);

  // 4. Promote, and record the divergence point before anything else is written.
  const json details = {{"planned", true},
                        {"rulectl", "failover"},
                        {"os_user", os_user()},
                        {"old_shutdown_checkpoint", cd.checkpoint_lsn},
                        {"target_replayed", replayed},
                        {"steps", steps.to_json()}};
  announce_promotion(*target.connection, tc.name, oc.name, false, details, steps);
  steps.begin(fmt::format("promote {} (pg_promote)", tc.name));
  promote(*target.connection, tc.name);
  steps.end("promoted");
  steps.begin(fmt::format("record the failover at {}", tc.name));
  const json event = record_failover(config, *target.connection, tc.name, oc.name, false, details);
  steps.end(fmt::format("timeline {}, incarnation {}", event.value("new_timeline", 0), event.value("incarnation", 0)));
  steps.begin(fmt::format("CHECKPOINT at {} (control file on the new timeline)", tc.name));
  steps.end(checkpoint(*target.connection));

  // 5. The old primary becomes the new primary's standby.
  steps.begin(fmt::format("create slot '{}' at {}", oc.name, tc.name));
  client::create_slot(*target.connection, oc.name);
  steps.end("");
  steps.begin(fmt::format("restart {} as a standby of {}", oc.name, tc.name));
  const std::string where = pgnode::make_standby(old_node, conninfo::for_standby(tc, oc.name), oc.name, log);
  pgnode::start(old_node, log);
  steps.end(
      fmt::format("standby.signal, primary_conninfo -> {}, primary_slot_name '{}' in {}", tc.name, oc.name, where));
  steps.begin(fmt::format("wait until {} streams from {}", oc.name, tc.name));
  const bool streaming = common::poll_until(std::chrono::seconds(60), milliseconds(50),
                                            [&] { return client::streams_to(*target.connection, oc.name); });
  if (!streaming) {
    steps.end("not streaming after 60s");
    throw common::ExitError(common::exit_failed,
                            fmt::format("{} is the primary now, but {} did not start streaming from it within 60s "
                                        "(see {} and its server log); run `rulectl rejoin --site {}`",
                                        tc.name, oc.name, log.string(), oc.name));
  }
  steps.end("streaming");

  // 6. The slot the old primary still holds for the target is stale.
  std::string dropped = "none";
  steps.begin(fmt::format("drop the stale slot '{}' at {}", tc.name, oc.name));
  try {
    std::string err;
    auto c = site::try_connect(oc, err);
    if (c)
      dropped = client::drop_inactive_slot(*c, tc.name) ? "dropped" : "none there";
    else
      dropped = "not dropped: " + err;
  } catch (const std::exception& e) {
    dropped = "not dropped: " + common::one_line(e.what());
  }
  steps.end(dropped);

  // Standbys that followed the old primary keep following it (cascading now).
  for (const auto& n : all)
    if (n.config != target.config && n.config != old.config && n.is_standby() &&
        site::upstream_site(config, n) == oc.name)
      report.cascaded_standbys.push_back(n.name);

  // Zero loss: proven by the LSN check; the divergence vector must cover
  // what the old primary reported before it stopped.
  const VersionVector divergence = VersionVector::from_json(event["divergence"].dump());
  for (const SeqRange& r : VersionVector::from_json(before_vector).missing_from(divergence))
    report.uncovered.push_back(fmt::format("{} needs {}, has {}", r.origin.key(), r.upto, r.after));
  report.outcome = FailoverReport::Outcome::switched_over;
  report.new_timeline = event.value("new_timeline", 0);
  report.shutdown_checkpoint = cd.checkpoint_lsn;
  report.target_replayed = replayed;
  report.failover_event = event;
  report.stale_slot = dropped;
}

void unreachable_failover(const config::Config& config, const FailoverRequest& o, SiteState& target,
                          const config::SiteConfig& oc, const std::string& old_error, Steps& steps,
                          FailoverReport& report, const std::map<std::string, std::string>& where) {
  const config::SiteConfig& tc = *target.config;
  report.old_primary_error = old_error;
  steps.note(fmt::format("{} is unreachable", oc.name), old_error);

  // Let the target replay everything it has received.
  steps.begin(fmt::format("wait until {} replayed all it received", tc.name));
  const ReplayedEvidence replayed = evidence_after_replay(target, oc.name, o.wait_catchup);
  const std::string& pause_state = replayed.pause_state;
  report.all_received_replayed = replayed.all_received_replayed;
  report.evidence = replayed.evidence;
  steps.end(report.all_received_replayed
                ? "all received WAL replayed"
                : fmt::format("NOT all replayed after {}s (replay {})", o.wait_catchup, pause_state));

  if (!o.force) {
    report.outcome = FailoverReport::Outcome::refused;
    report.why = report.stale_upstream.empty()
                     ? fmt::format(
                           "{} is unreachable: whatever it committed after the last WAL {} received cannot be known, "
                           "so the loss of a failover cannot be proven; rerun with --force to promote {} and accept it",
                           oc.name, tc.name, tc.name)
                     : fmt::format(
                           "{} is unreachable and was the last E3 primary; {}, so nothing {} committed "
                           "after its promotion is at {}, and what it committed cannot be known: the loss of "
                           "a failover cannot be proven; rerun with --force to promote {} and accept it",
                           oc.name, report.stale_upstream, oc.name, tc.name, tc.name);
    return;
  }

  const SyncGuard sync = guard_sync_before_promotion(config, *target.connection, tc.name, steps, where);
  report.sync = sync.detail;
  json details = {{"planned", false},
                  {"rulectl", "failover --force"},
                  {"os_user", os_user()},
                  {"old_primary_error", old_error},
                  {"evidence", replayed.evidence.to_json()},
                  {"steps", steps.to_json()}};
  if (!report.stale_upstream.empty())
    details["last_primary"] = {{"site", oc.name},
                               {"evidence", report.last_primary_evidence},
                               {"target_followed", report.stale_upstream}};
  announce_promotion(*target.connection, tc.name, oc.name, true, details, steps);
  steps.begin(fmt::format("promote {} (pg_promote, forced)", tc.name));
  promote(*target.connection, tc.name);
  steps.end("promoted");
  steps.begin(fmt::format("record the failover at {}", tc.name));
  const json event = record_failover(config, *target.connection, tc.name, oc.name, true, details);
  steps.end(fmt::format("timeline {}, incarnation {}", event.value("new_timeline", 0), event.value("incarnation", 0)));
  steps.begin(fmt::format("CHECKPOINT at {} (control file on the new timeline)", tc.name));
  steps.end(checkpoint(*target.connection));
  report.outcome = FailoverReport::Outcome::failed_over;
  report.new_timeline = event.value("new_timeline", 0);
  report.failover_event = event;
}

}  // namespace

pgnode::LocalNode local_node(const config::SiteConfig& site) {
  return {site.name,           site.pgdata,    site.bindir,         site.start_command,
          site.stop_command,   site.conf_file, site.rewind_command, site.controldata_command,
          site.standby_command};
}

fs::path action_log(const config::Config& config, const std::string& action, const std::string& site) {
  const fs::path dir = fs::path(config.state_dir) / "logs";
  fs::create_directories(dir);
  return dir / (action + "-" + site + ".log");
}

json StandbyEvidence::to_json() const {
  const auto& p = positions;
  auto opt = [](const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); };
  json ev;
  ev["receive_lsn"] = opt(p.receive_lsn);
  ev["replay_lsn"] = opt(p.replay_lsn);
  ev["unreplayed_bytes"] = p.unreplayed_bytes;
  ev["replay_pause_state"] = p.replay_pause_state;
  ev["version_vector"] = json::parse(p.version_vector);
  ev["last_change_from_old_primary"] =
      last_change_from_old_primary
          ? json{{"origin", last_change_from_old_primary->origin}, {"seq", last_change_from_old_primary->seq}}
          : json(nullptr);
  ev["last_replayed_commit_at"] = opt(p.last_replayed_commit_at);
  ev["last_heartbeat"] =
      p.heartbeat ? json{{"site", old_primary},
                         {"beat_at", p.heartbeat->beat_at},
                         {"age_seconds", p.heartbeat->age_seconds ? json(*p.heartbeat->age_seconds) : json(nullptr)},
                         {"beat_seq", p.heartbeat->beat_seq}}
                  : json(nullptr);
  return ev;
}

int FailoverReport::exit_code() const {
  switch (outcome) {
    case Outcome::switched_over: return uncovered.empty() ? common::exit_ok : common::exit_failed;
    case Outcome::refused: return common::exit_refused;
    case Outcome::failed_over: return common::exit_ok;
  }
  return common::exit_failed;
}

json FailoverReport::to_json() const {
  json doc = {{"planned", outcome == Outcome::switched_over},
              {"forced", outcome == Outcome::failed_over},
              {"old_primary", old_primary},
              {"synchronous_replication", sync.empty() ? json() : json(sync)},
              {"stale_upstream", stale_upstream.empty() ? json() : json(stale_upstream)},
              {"last_primary", last_primary_evidence.empty() ? json() : json(last_primary_evidence)},
              {"steps", steps_json(steps)},
              {"total_seconds", total_seconds}};
  const json evidence_doc = evidence ? evidence->to_json() : json(nullptr);
  switch (outcome) {
    case Outcome::switched_over:
      doc.update({{"result", "switched over"},
                  {"new_primary", target},
                  {"new_timeline", new_timeline},
                  {"zero_loss", uncovered.empty()},
                  {"lost_changes", 0},
                  {"shutdown_checkpoint", shutdown_checkpoint},
                  {"target_replayed", target_replayed},
                  {"failover_event", failover_event},
                  {"stale_slot", stale_slot},
                  {"cascaded_standbys", cascaded_standbys}});
      break;
    case Outcome::refused:
      doc.update({{"result", "refused"},
                  {"old_primary_error", old_primary_error},
                  {"new_primary", nullptr},
                  {"target", target},
                  {"evidence", evidence_doc},
                  {"all_received_replayed", all_received_replayed},
                  {"why", why}});
      break;
    case Outcome::failed_over:
      doc.update({{"result", "failed over"},
                  {"old_primary_error", old_primary_error},
                  {"new_primary", target},
                  {"new_timeline", new_timeline},
                  {"zero_loss", nullptr},
                  {"evidence", evidence_doc},
                  {"failover_event", failover_event}});
      break;
  }
  return doc;
}

FailoverReport failover(const config::Config& config, const FailoverRequest& o, const common::ProgressSink& progress) {
  const config::SiteConfig& tc = site::find_site(config, o.to);
  if (parse_environment(tc.environment) != Environment::e3)
    throw common::ExitError(common::exit_usage,
                            fmt::format("site {} is not an E3 site (environment {}): failover is within E3", tc.name,
                                        tc.environment));
  // Patroni runs the target: it promotes (ops/failover_patroni.hpp).
  if (failover_through_patroni(tc)) return failover_patroni(config, o, progress);
  if (o.wait_catchup < 0) throw common::ExitError(common::exit_usage, "--wait-catchup must not be negative");
  ControlLock lock(config, "failover");
  Steps steps(progress);
  FailoverReport report;
  report.target = tc.name;

  steps.begin("probe the E3 sites");
  FailoverDecision d = decide_failover(config, tc, [&](const std::vector<std::string>& seen) {
    steps.end(fmt::format("{}", fmt::join(seen, ", ")));
  });
  auto finish = [&] {
    report.steps = steps.list();
    report.total_seconds = steps.elapsed();
    return report;
  };
  report.old_primary = d.old->name;
  check_confirmed(o, d.old->name, d.planned);
  if (d.planned) {
    planned_switchover(config, o, *d.target, *d.old, d.all, steps, report);
    return finish();
  }
  if (!d.stale_upstream.empty()) {
    report.stale_upstream = d.stale_upstream;
    report.last_primary_evidence = d.last_primary_evidence;
    steps.note(fmt::format("the last E3 primary is {}", d.old->name),
               fmt::format("{}; {}", report.last_primary_evidence, report.stale_upstream));
  }
  unreachable_failover(config, o, *d.target, *d.old->config, d.old->error, steps, report, whereabouts(config, d.all));
  return finish();
}

}  // namespace rulekeeper::ops
