// See status.hpp.
#include "ops/status.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/client/reconcile.hpp"
#include "site/client/journal.hpp"
#include "site/deadline.hpp"
#include "ops/last_primary.hpp"

namespace rulekeeper::ops {
namespace {

using nlohmann::json;

bool is_e3(const site::SiteState& s) { return s.environment == to_string(Environment::e3); }

// The primary's replication_status row about standby `site`: matched by
// application_name (= the standby's cluster_name = site) or by slot name
// (= site, by convention).
const json* primary_row_for(const site::SiteState& primary, const std::string& site) {
  for (const auto& row : primary.replication)
    if (row.value("application_name", json()) == site) return &row;
  for (const auto& row : primary.replication)
    if (row.value("slot_name", json()) == site) return &row;
  return nullptr;
}

json field(const json* row, const char* key) {
  if (row == nullptr || !row->contains(key)) return nullptr;
  return (*row)[key];
}

// Journal entries the primary holds that the standby's version vector does
// not cover: the changes a failover to it now would lose.
json lag_in_changes(const site::SiteState& primary, const site::SiteState& standby, std::vector<std::string>& notes) {
  if (!standby.version_vector || !primary.connection) return nullptr;
  site::StatementDeadline guard(*primary.connection, site::kStatementDeadline);  // issue #14 item 2
  try {
    return site::client::count_journal_since(*primary.connection, VersionVector::from_json(*standby.version_vector));
  } catch (const std::exception& e) {
    notes.push_back(fmt::format("lag in changes of {}: {}", standby.name,
                                guard.expired() ? guard.message() : common::one_line(e.what())));
    return nullptr;
  }
}

// Open reconcile conflicts at each reachable E3 primary.
std::vector<SiteConflict> open_conflicts(const std::vector<site::SiteState>& all) {
  std::vector<SiteConflict> out;
  for (const auto& s : all) {
    if (!is_e3(s) || s.role() != "primary" || !s.connection) continue;
    site::StatementDeadline guard(*s.connection, site::kStatementDeadline);  // issue #14 item 2
    try {
      for (const auto& c : site::client::conflicts(*s.connection, /*include_resolved=*/false))
        out.push_back({s.name, c.conflict_id, c.rule_key, c.detected_at});
    } catch (const std::exception&) {
      // An older extension without conflicts(): nothing to show.
    }
  }
  return out;
}

}  // namespace

std::string sync_rep_warning(const site::SiteState& s) {
  return fmt::format(
      "site {}: {} commit(s) waiting for a synchronous standby (pg_stat_activity wait_event SyncRep{}; "
      "synchronous_standby_names = '{}'): they hang until a standby named there streams from {}",
      s.name, s.sync_rep_waiting.value_or(0),
      s.sync_rep_oldest_seconds ? fmt::format(", the oldest for {:.1f}s", *s.sync_rep_oldest_seconds) : "",
      s.synchronous_standby_names.value_or("?"), s.name);
}

json replication_report(const std::vector<site::SiteState>& all, const std::optional<PrimaryClaim>& last) {
  std::vector<const site::SiteState*> e3;
  for (const auto& s : all)
    if (is_e3(s)) e3.push_back(&s);
  if (e3.empty()) return nullptr;

  json rep;
  std::vector<std::string> notes;
  const auto writable = site::writable_e3(all);
  rep["split_brain"] = writable.size() > 1;
  rep["writable_sites"] = json::array();
  for (const auto* w : writable)
    rep["writable_sites"].push_back({{"site", w->name}, {"timeline", w->timeline ? json(*w->timeline) : json()}});
  const site::SiteState* primary = writable.size() == 1 ? writable[0] : nullptr;
  rep["primary"] = primary ? json(primary->name) : json();
  rep["primary_reachable"] = !writable.empty();
  // A server that answered and refused rulectl's login is not down: it is
  // listed apart, so that "every E3 site refused" never reads as an outage.
  rep["unreachable_sites"] = json::array();
  rep["refused_sites"] = json::array();
  for (const auto* s : e3)
    if (!s->reachable) rep[s->refused ? "refused_sites" : "unreachable_sites"].push_back(s->name);
  if (primary) {
    rep["primary_timeline"] = primary->timeline ? json(*primary->timeline) : json();
    json own = primary->replication.empty() ? json() : primary->replication[0];
    rep["primary_heartbeat_at"] = field(own.is_null() ? nullptr : &own, "last_heartbeat_at");
    rep["primary_heartbeat_age_seconds"] = field(own.is_null() ? nullptr : &own, "lag_upper_bound_seconds");
  }
  if (writable.empty() && !rep["refused_sites"].empty()) {
    std::vector<std::string> why;
    for (const auto* s : e3)
      if (s->refused) why.push_back(fmt::format("{}: {}", s->name, s->error));
    const std::size_t n = rep["refused_sites"].size();
    notes.push_back(fmt::format(
        "{} refused rulectl's login: a configuration problem (role, password, pg_hba.conf, CONNECT), not an "
        "outage — rulectl cannot tell which site is the primary; E3 itself may be serving ({})",
        n == e3.size() ? std::string("every E3 site") : fmt::format("{} of {} E3 sites", n, e3.size()),
        fmt::join(why, "; ")));
  }
  if (writable.empty() && !rep["unreachable_sites"].empty())
    notes.push_back(
        fmt::format("no reachable E3 site accepts writes (unreachable: {}); below is "
                    "what the standbys alone can tell",
                    fmt::join(rep["unreachable_sites"].get<std::vector<std::string>>(), ", ")));
  else if (writable.empty() && rep["refused_sites"].empty())
    notes.push_back("no E3 site accepts writes: every reachable E3 site is in recovery");
  if (writable.size() > 1)
    notes.push_back(
        "split brain: more than one E3 site accepts writes; lag is not computed "
        "(there is no one primary to compare with)");

  // With no writable E3 site: the last primary the standbys heard from (the
  // newest heartbeat any of them replayed).
  json last_known = nullptr;
  if (writable.empty()) {
    for (const auto* s : e3) {
      if (!s->reachable || s->replication.empty()) continue;
      const json& own = s->replication[0];
      if (own.value("last_heartbeat_site", json()).is_null()) continue;
      if (last_known.is_null() ||
          own["last_heartbeat_at"].get<std::string>() > last_known["heartbeat_at"].get<std::string>())
        last_known = {{"site", own["last_heartbeat_site"]},
                      {"heartbeat_at", own["last_heartbeat_at"]},
                      {"heartbeat_age_seconds", own["lag_upper_bound_seconds"]},
                      {"seen_by", s->name}};
    }
  }
  // The newest timeline wins over the newest heartbeat (ops/last_primary.hpp):
  // a standby still set to follow a primary that was failed over from
  // replays that one's heartbeats, not the last primary's.
  if (writable.empty() && last && (last_known.is_null() || last_known["site"] != last->site))
    last_known = {{"site", last->site}, {"heartbeat_at", nullptr},    {"heartbeat_age_seconds", nullptr},
                  {"seen_by", nullptr}, {"timeline", last->timeline}, {"source", last->source}};
  else if (!last_known.is_null() && last && last_known["site"] == last->site) {
    last_known["timeline"] = last->timeline;
    last_known["source"] = last->source;
  }
  if (writable.size() == 1 && last && last->site != writable[0]->name &&
      last->timeline > writable[0]->timeline.value_or(0))
    notes.push_back(
        fmt::format("{} accepts writes on timeline {}, but {} was the primary on timeline {} ({}): {} is "
                    "an old primary started outside `rulectl rejoin`",
                    writable[0]->name, writable[0]->timeline.value_or(0), last->site, last->timeline, last->source,
                    writable[0]->name));
  rep["last_known_primary"] = last_known;

  rep["standbys"] = json::array();
  for (const auto* s : e3) {
    if (std::find(writable.begin(), writable.end(), s) != writable.end()) continue;
    if (!last_known.is_null() && !s->reachable && last_known["site"] == s->name) continue;
    json row;
    row["site"] = s->name;
    row["dr"] = s->dr;
    row["reachable"] = s->reachable;
    row["role"] = s->role();
    // The primary's view of it (pg_stat_replication + its slot).
    const json* pr = primary ? primary_row_for(*primary, s->name) : nullptr;
    row["seen_by_primary"] = pr != nullptr;
    for (const char* key : {"state", "sync_state", "lag_bytes", "write_lag_seconds", "flush_lag_seconds",
                            "replay_lag_seconds", "slot_name", "slot_active", "wal_status", "retained_bytes"})
      row[key] = field(pr, key);
    // What the standby itself says (works with the primary gone).
    const json* own = (s->reachable && !s->replication.empty()) ? &s->replication[0] : nullptr;
    for (const char* key : {"receive_lsn", "replay_lsn", "unreplayed_bytes", "replay_paused", "wal_receiver_status",
                            "last_msg_receipt_time", "upstream", "last_heartbeat_site", "last_heartbeat_at"})
      row[key] = field(own, key);
    // The age of the newest replayed heartbeat: an upper bound on how far
    // this standby lags, valid with the primary idle or gone.
    row["heartbeat_age_seconds"] = field(own, "lag_upper_bound_seconds");
    row["lag_changes"] = (primary && s->reachable) ? lag_in_changes(*primary, *s, notes) : json();
    rep["standbys"].push_back(row);
  }
  // Replicas and slots on the primary that rulectl.toml does not name (a
  // second AZ standby, a slot whose standby is gone).
  rep["other_replicas"] = json::array();
  if (primary) {
    for (const auto& r : primary->replication) {
      if (r.value("state", json()) == "no standby") continue;
      bool known = false;
      for (const auto* s : e3)
        known |= r.value("application_name", json()) == s->name || r.value("slot_name", json()) == s->name;
      if (!known) rep["other_replicas"].push_back(r);
    }
  }
  rep["notes"] = notes;
  return rep;
}

bool StatusReport::split_brain() const { return !replication.is_null() && replication.value("split_brain", false); }

bool StatusReport::any_unreachable() const {
  return std::any_of(sites.begin(), sites.end(), [](const auto& s) { return !s.reachable && !s.refused; });
}

int StatusReport::exit_code() const {
  if (split_brain()) return common::exit_refused;
  if (any_unreachable()) return common::exit_unreachable;
  if (!configuration_errors.empty()) return common::exit_usage;
  return common::exit_ok;
}

json StatusReport::to_json() const {
  json doc;
  doc["config"] = config_path;
  doc["sites"] = json::array();
  for (const auto& s : sites) doc["sites"].push_back(s.to_json());
  doc["replication"] = replication;
  doc["warnings"] = warnings;
  doc["configuration_errors"] = configuration_errors;
  doc["open_conflicts"] = json::array();
  for (const auto& c : open_conflicts)
    doc["open_conflicts"].push_back(
        {{"site", c.site}, {"conflict_id", c.conflict_id}, {"rule_key", c.rule_key}, {"detected_at", c.detected_at}});
  return doc;
}

StatusReport status(const config::Config& config) {
  StatusReport report;
  report.config_path = config.path;
  report.sites = site::probe_all(config, site::ProbeDepth::full);
  report.warnings = site::warnings(report.sites);
  report.configuration_errors = site::configuration_errors(report.sites);
  for (const auto& s : report.sites)
    if (s.refused)
      report.configuration_errors.push_back(
          fmt::format("site {}: the server answered and refused rulectl's login: {}", s.name, s.error));
  for (const auto& s : report.sites)
    if (s.sync_rep_waiting.value_or(0) > 0) report.warnings.push_back(sync_rep_warning(s));
  report.replication = replication_report(report.sites, newest_claim(primary_claims(config, report.sites)));
  report.open_conflicts = open_conflicts(report.sites);
  return report;
}

}  // namespace rulekeeper::ops
