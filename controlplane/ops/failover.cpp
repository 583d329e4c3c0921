// See failover.hpp.
#include "ops/failover.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "site/server_error.hpp"
#include "common/poll.hpp"
#include "common/text.hpp"
#include "ops/control_lock.hpp"
#include "pgnode/settings.hpp"
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

// The newest origin of `site` in a version vector.
std::optional<StandbyEvidence::Origin> last_origin_of(const std::string& vector_text, const std::string& site) {
  std::optional<StandbyEvidence::Origin> best;
  std::int32_t best_inc = -1;
  const VersionVector vector = VersionVector::from_json(vector_text);
  for (const auto& [origin, seq] : vector.entries()) {
    if (origin.site != site || origin.incarnation <= best_inc) continue;
    best_inc = origin.incarnation;
    best = StandbyEvidence::Origin{origin.key(), seq};
  }
  return best;
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

json record_failover(pqxx::connection& c, const std::string& old_site, bool forced, const json& details) {
  try {
    return client::record_failover(c, old_site, forced, details);
  } catch (const pqxx::failure& e) {
    throw site::sql_failure("record_failover", e);
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

  // 2. Stop the old primary cleanly.
  old.connection.reset();
  steps.begin(fmt::format("stop {} (stop_command, -m fast)", oc.name));
  pgnode::stop(old_node, log);
  steps.end("stopped");

  steps.begin(fmt::format("pg_controldata {}", oc.name));
  const pgnode::ControlData cd = pgnode::controldata(old_node, log);
  if (cd.state != "shut down") {
    steps.end("state " + cd.state);
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
    throw common::ExitError(common::exit_refused,
                            fmt::format("{} did not replay past {}'s shutdown checkpoint {} within {}s (replayed {}); "
                                        "{} was restarted as the primary, nothing else changed",
                                        tc.name, oc.name, cd.checkpoint_lsn, o.wait_catchup, replayed, oc.name));
  }
  steps.end("replayed " + replayed);

  // 4. Promote, and record the divergence point before anything else is written.
  steps.begin(fmt::format("promote {} (pg_promote)", tc.name));
  promote(*target.connection, tc.name);
  steps.end("promoted");
  steps.begin(fmt::format("record the failover at {}", tc.name));
  const json details = {{"planned", true},
                        {"rulectl", "failover"},
                        {"os_user", os_user()},
                        {"old_shutdown_checkpoint", cd.checkpoint_lsn},
                        {"target_replayed", replayed},
                        {"steps", steps.to_json()}};
  const json event = record_failover(*target.connection, oc.name, false, details);
  steps.end(fmt::format("timeline {}, incarnation {}", event.value("new_timeline", 0), event.value("incarnation", 0)));
  steps.begin(fmt::format("CHECKPOINT at {} (control file on the new timeline)", tc.name));
  steps.end(checkpoint(*target.connection));

  // 5. The old primary becomes the new primary's standby.
  steps.begin(fmt::format("create slot '{}' at {}", oc.name, tc.name));
  client::create_slot(*target.connection, oc.name);
  steps.end("");
  steps.begin(fmt::format("restart {} as a standby of {}", oc.name, tc.name));
  pgnode::set_upstream(old_node, conninfo::for_standby(tc, oc.name), oc.name);
  pgnode::write_standby_signal(pgnode::pgdata_of(old_node));
  pgnode::start(old_node, log);
  steps.end(fmt::format("standby.signal, primary_conninfo -> {}, primary_slot_name '{}' in {}", tc.name, oc.name,
                        pgnode::settings_file(old_node).string()));
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

void unreachable_failover(const FailoverRequest& o, SiteState& target, const config::SiteConfig& oc,
                          const std::string& old_error, Steps& steps, FailoverReport& report) {
  const config::SiteConfig& tc = *target.config;
  report.old_primary_error = old_error;
  steps.note(fmt::format("{} is unreachable", oc.name), old_error);

  // Let the target replay everything it has received.
  steps.begin(fmt::format("wait until {} replayed all it received", tc.name));
  std::string pause_state;
  report.all_received_replayed = common::poll_until(seconds_ms(o.wait_catchup), milliseconds(20), [&] {
    const client::ReplayCaughtUp r = client::replay_caught_up(*target.connection);
    pause_state = r.pause_state;
    return r.all_replayed;
  });
  StandbyEvidence ev;
  ev.old_primary = oc.name;
  ev.positions = client::standby_positions(*target.connection, oc.name);
  ev.last_change_from_old_primary = last_origin_of(ev.positions.version_vector, oc.name);
  report.evidence = ev;
  steps.end(report.all_received_replayed
                ? "all received WAL replayed"
                : fmt::format("NOT all replayed after {}s (replay {})", o.wait_catchup, pause_state));

  if (!o.force) {
    report.outcome = FailoverReport::Outcome::refused;
    report.why = fmt::format(
        "{} is unreachable: whatever it committed after the last WAL {} received cannot be known, so the loss "
        "of a failover cannot be proven; rerun with --force to promote {} and accept it",
        oc.name, tc.name, tc.name);
    return;
  }

  steps.begin(fmt::format("promote {} (pg_promote, forced)", tc.name));
  promote(*target.connection, tc.name);
  steps.end("promoted");
  steps.begin(fmt::format("record the failover at {}", tc.name));
  const json details = {{"planned", false},         {"rulectl", "failover --force"},
                        {"os_user", os_user()},     {"old_primary_error", old_error},
                        {"evidence", ev.to_json()}, {"steps", steps.to_json()}};
  const json event = record_failover(*target.connection, oc.name, true, details);
  steps.end(fmt::format("timeline {}, incarnation {}", event.value("new_timeline", 0), event.value("incarnation", 0)));
  steps.begin(fmt::format("CHECKPOINT at {} (control file on the new timeline)", tc.name));
  steps.end(checkpoint(*target.connection));
  report.outcome = FailoverReport::Outcome::failed_over;
  report.new_timeline = event.value("new_timeline", 0);
  report.failover_event = event;
}

}  // namespace

pgnode::LocalNode local_node(const config::SiteConfig& site) {
  return {site.name, site.pgdata, site.bindir, site.start_command, site.stop_command, site.conf_file};
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
  if (o.wait_catchup < 0) throw common::ExitError(common::exit_usage, "--wait-catchup must not be negative");
  ControlLock lock(config, "failover");
  Steps steps(progress);
  FailoverReport report;
  report.target = tc.name;

  steps.begin("probe the E3 sites");
  std::vector<SiteState> all = site::probe_e3(config);
  SiteState* target = nullptr;
  std::vector<SiteState*> writable;
  std::vector<std::string> seen;
  for (auto& n : all) {
    if (n.config == &tc) target = &n;
    if (n.is_primary()) writable.push_back(&n);
    seen.push_back(fmt::format("{} {}", n.name, n.role()));
  }
  steps.end(fmt::format("{}", fmt::join(seen, ", ")));
  if (target == nullptr || !target->role_known())
    throw common::ExitError(common::exit_unreachable, fmt::format("target {} is unreachable ({}); nothing was done",
                                                                  tc.name, target ? target->error : "not probed"));
  if (writable.size() > 1) {
    std::vector<std::string> both;
    for (const auto* w : writable) both.push_back(fmt::format("{} (timeline {})", w->name, w->timeline.value_or(0)));
    throw common::ExitError(common::exit_refused,
                            fmt::format("split brain: more than one E3 site accepts writes: {}; refusing to fail "
                                        "over; rejoin the old primary first (`rulectl rejoin --site …`)",
                                        fmt::join(both, ", ")));
  }
  if (!target->is_standby())
    throw common::ExitError(common::exit_refused, fmt::format("{} is already the E3 primary (timeline {}); nothing "
                                                              "was done",
                                                              tc.name, target->timeline.value_or(0)));

  auto finish = [&] {
    report.steps = steps.list();
    report.total_seconds = steps.elapsed();
    return report;
  };
  const std::string upstream = site::upstream_site(config, *target);
  if (writable.size() == 1) {
    SiteState& old = *writable[0];
    if (upstream != old.name)
      throw common::ExitError(common::exit_refused,
                              fmt::format("{} is not a standby of the E3 primary {} ({}); nothing was done", tc.name,
                                          old.name,
                                          upstream.empty()
                                              ? (target->upstream_port.empty()
                                                     ? std::string("it has no upstream")
                                                     : fmt::format("its upstream {}:{} is no configured site",
                                                                   target->upstream_host, target->upstream_port))
                                              : "it follows " + upstream));
    report.old_primary = old.name;
    check_confirmed(o, old.name, true);
    planned_switchover(config, o, *target, old, all, steps, report);
    return finish();
  }
  // No writable E3 site: the target's upstream is the old primary.
  if (upstream.empty())
    throw common::ExitError(common::exit_refused,
                            fmt::format("no E3 site accepts writes and {} names no upstream that is a configured site "
                                        "({}); cannot tell which site was the primary; nothing was done",
                                        tc.name,
                                        target->upstream_port.empty()
                                            ? std::string("no primary_conninfo")
                                            : target->upstream_host + ":" + target->upstream_port));
  for (auto& n : all) {
    if (n.name != upstream) continue;
    if (n.role_known())
      throw common::ExitError(common::exit_refused,
                              fmt::format("{}'s upstream {} is reachable but is a standby itself (in recovery): "
                                          "there is no primary to fail over from; nothing was done",
                                          tc.name, upstream));
    report.old_primary = n.name;
    check_confirmed(o, n.name, false);
    unreachable_failover(o, *target, *n.config, n.error, steps, report);
    return finish();
  }
  throw common::ExitError(common::exit_failed, "internal: the upstream site was not probed");
}

}  // namespace rulekeeper::ops
