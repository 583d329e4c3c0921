// `rulectl status`: what every configured site is (role, timeline, versions,
// checksum, version vector), one connection per site, all at once; then the
// E3 replication section: which site is primary, each standby's lag in bytes,
// seconds and changes, heartbeat age, slot health, split brain — and, with
// the primary down, what the standbys alone can tell (the last heartbeat).
#include <algorithm>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/text.hpp"
#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "site/probe.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

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
json lag_in_changes(const site::SiteState& primary,
                    const site::SiteState& standby, std::vector<std::string>& notes) {
  if (!standby.version_vector || !primary.connection) return nullptr;
  try {
    pqxx::nontransaction tx(*primary.connection);
    pqxx::result r = tx.exec_params("SELECT count(*) FROM rulekeeper.journal_since($1::jsonb)",
                                    *standby.version_vector);
    return r[0][0].as<long long>();
  } catch (const std::exception& e) {
    notes.push_back(fmt::format("lag in changes of {}: {}", standby.name, common::one_line(e.what())));
    return nullptr;
  }
}

json replication_report(const std::vector<site::SiteState>& all) {
  std::vector<const site::SiteState*> e3;
  for (const auto& s : all)
    if (s.environment == "e3") e3.push_back(&s);
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
  rep["unreachable_sites"] = json::array();
  for (const auto* s : e3)
    if (!s->reachable) rep["unreachable_sites"].push_back(s->name);
  if (primary) {
    rep["primary_timeline"] = primary->timeline ? json(*primary->timeline) : json();
    json own = primary->replication.empty() ? json() : primary->replication[0];
    rep["primary_heartbeat_at"] = field(own.is_null() ? nullptr : &own, "last_heartbeat_at");
    rep["primary_heartbeat_age_seconds"] = field(own.is_null() ? nullptr : &own, "lag_upper_bound_seconds");
  }
  if (writable.empty())
    notes.push_back(rep["unreachable_sites"].empty()
                        ? "no E3 site accepts writes: every reachable E3 site is in recovery"
                        : fmt::format("no reachable E3 site accepts writes (unreachable: {}); below is "
                                      "what the standbys alone can tell",
                                      fmt::join(rep["unreachable_sites"].get<std::vector<std::string>>(), ", ")));
  if (writable.size() > 1)
    notes.push_back("split brain: more than one E3 site accepts writes; lag is not computed "
                    "(there is no one primary to compare with)");

  // With no writable E3 site: the last primary the standbys heard from (the
  // newest heartbeat any of them replayed).
  json last_known = nullptr;
  if (writable.empty()) {
    for (const auto* s : e3) {
      if (!s->reachable || s->replication.empty()) continue;
      const json& own = s->replication[0];
      if (own.value("last_heartbeat_site", json()).is_null()) continue;
      if (last_known.is_null() || own["last_heartbeat_at"].get<std::string>() > last_known["heartbeat_at"].get<std::string>())
        last_known = {{"site", own["last_heartbeat_site"]},
                      {"heartbeat_at", own["last_heartbeat_at"]},
                      {"heartbeat_age_seconds", own["lag_upper_bound_seconds"]},
                      {"seen_by", s->name}};
    }
  }
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
    row["state"] = field(pr, "state");
    row["sync_state"] = field(pr, "sync_state");
    row["lag_bytes"] = field(pr, "lag_bytes");
    row["write_lag_seconds"] = field(pr, "write_lag_seconds");
    row["flush_lag_seconds"] = field(pr, "flush_lag_seconds");
    row["replay_lag_seconds"] = field(pr, "replay_lag_seconds");
    row["slot_name"] = field(pr, "slot_name");
    row["slot_active"] = field(pr, "slot_active");
    row["wal_status"] = field(pr, "wal_status");
    row["retained_bytes"] = field(pr, "retained_bytes");
    // What the standby itself says (works with the primary gone).
    const json* own = (s->reachable && !s->replication.empty()) ? &s->replication[0] : nullptr;
    row["receive_lsn"] = field(own, "receive_lsn");
    row["replay_lsn"] = field(own, "replay_lsn");
    row["unreplayed_bytes"] = field(own, "unreplayed_bytes");
    row["replay_paused"] = field(own, "replay_paused");
    row["wal_receiver_status"] = field(own, "wal_receiver_status");
    row["last_msg_receipt_time"] = field(own, "last_msg_receipt_time");
    row["upstream"] = field(own, "upstream");
    row["last_heartbeat_site"] = field(own, "last_heartbeat_site");
    row["last_heartbeat_at"] = field(own, "last_heartbeat_at");
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

std::string text(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) return fmt::format("{:.1f}", v.get<double>());
  return v.dump();
}

// "2024-05-01 12:00:01.234567+00" -> "2024-05-01 12:00:01"
std::string short_time(const json& v) {
  std::string t = text(v);
  auto dot = t.find('.');
  return dot == std::string::npos ? t : t.substr(0, dot);
}

void print_replication(const json& rep) {
  std::cout << "\nreplication (e3)\n";
  if (rep["split_brain"].get<bool>()) {
    std::vector<std::string> names;
    for (const auto& w : rep["writable_sites"])
      names.push_back(fmt::format("{} (timeline {})", text(w["site"]), text(w["timeline"])));
    std::cout << fmt::format("  SPLIT BRAIN: more than one E3 site accepts writes: {}\n", fmt::join(names, ", "));
  } else if (!rep["primary"].is_null()) {
    std::cout << fmt::format("  primary: {} (timeline {}), {}\n", text(rep["primary"]),
                             text(rep["primary_timeline"]),
                             rep["primary_heartbeat_age_seconds"].is_null()
                                 ? std::string("no heartbeat yet")
                                 : "own heartbeat " + text(rep["primary_heartbeat_age_seconds"]) + "s old");
  } else {
    const json& lk = rep["last_known_primary"];
    std::cout << fmt::format("  primary: UNREACHABLE{}\n",
                             lk.is_null() ? std::string()
                                          : fmt::format(" (last known primary {}: last heartbeat {}, seen by {}, "
                                                        "{}s ago)",
                                                        text(lk["site"]), text(lk["heartbeat_at"]),
                                                        text(lk["seen_by"]), text(lk["heartbeat_age_seconds"])));
  }
  for (const auto& n : rep["notes"]) std::cout << "  " << n.get<std::string>() << "\n";
  common::Table t({"standby", "reachable", "state", "lag_bytes", "replay_lag_s", "lag_changes", "last_heartbeat",
                   "hb_age_s", "paused", "receiver", "slot", "slot_active", "wal_status", "retained_bytes"});
  for (const auto& s : rep["standbys"]) {
    std::string hb = s["last_heartbeat_site"].is_null()
                         ? ""
                         : text(s["last_heartbeat_site"]) + " " + short_time(s["last_heartbeat_at"]);
    t.add_row({text(s["site"]), text(s["reachable"]), text(s["state"]), text(s["lag_bytes"]),
               text(s["replay_lag_seconds"]), text(s["lag_changes"]), hb, text(s["heartbeat_age_seconds"]),
               text(s["replay_paused"]), text(s["wal_receiver_status"]), text(s["slot_name"]),
               text(s["slot_active"]), text(s["wal_status"]), text(s["retained_bytes"])});
  }
  for (const auto& r : rep["other_replicas"])
    t.add_row({text(r["application_name"]).empty() ? "(slot " + text(r["slot_name"]) + ")" : text(r["application_name"]),
               "", text(r["state"]), text(r["lag_bytes"]), text(r["replay_lag_seconds"]), "", "", "", "", "",
               text(r["slot_name"]), text(r["slot_active"]), text(r["wal_status"]), text(r["retained_bytes"])});
  std::ostringstream table;
  t.print(table);
  std::istringstream lines(table.str());
  for (std::string line; std::getline(lines, line);) std::cout << "  " << line << "\n";
  if (rep["primary"].is_null() && !rep["split_brain"].get<bool>()) {
    for (const auto& s : rep["standbys"]) {
      if (s["last_heartbeat_site"].is_null()) continue;
      std::cout << fmt::format(
          "  {}: has replayed everything {} committed before {}'s heartbeat of {}; anything {} committed "
          "after it may be missing (lag upper bound {}s)\n",
          text(s["site"]), text(s["last_heartbeat_site"]), text(s["last_heartbeat_site"]),
          text(s["last_heartbeat_at"]), text(s["last_heartbeat_site"]), text(s["heartbeat_age_seconds"]));
    }
  }
}

}  // namespace

config::Config load_config(const GlobalOptions& global) {
  return config::load(config::path_to_read(global.config_file));
}

// Open reconcile conflicts at each reachable E3 primary: shown until an
// operator resolves them (`rulectl conflicts list|resolve`).
json open_conflicts(const std::vector<site::SiteState>& all) {
  json out = json::array();
  for (const auto& s : all) {
    if (s.environment != "e3" || s.role() != "primary" || !s.connection) continue;
    try {
      pqxx::nontransaction tx(*s.connection);
      pqxx::result r = tx.exec(
          "SELECT conflict_id::text, rule_key, detected_at::text FROM rulekeeper.conflict "
          "WHERE status = 'open' ORDER BY detected_at");
      for (const auto& row : r)
        out.push_back({{"site", s.name}, {"conflict_id", row[0].c_str()}, {"rule_key", row[1].c_str()},
                       {"detected_at", row[2].c_str()}});
    } catch (const std::exception&) {
      // An older extension without the conflict table: nothing to show.
    }
  }
  return out;
}

int report_status(const config::Config& config, nlohmann::json* json_out) {
  std::vector<site::SiteState> all = site::probe_all(config, site::ProbeDepth::full);
  std::vector<std::string> warnings = site::warnings(all);
  bool any_unreachable = false;
  for (const auto& s : all) any_unreachable |= !s.reachable;
  const json rep = replication_report(all);
  const bool split_brain = !rep.is_null() && rep["split_brain"].get<bool>();
  const json conflicts = open_conflicts(all);

  for (const auto& w : warnings) std::cerr << "warning: " << w << std::endl;

  if (json_out != nullptr) {
    nlohmann::json doc;
    doc["config"] = config.path;
    doc["sites"] = nlohmann::json::array();
    for (const auto& s : all) doc["sites"].push_back(s.to_json());
    doc["replication"] = rep;
    doc["warnings"] = warnings;
    doc["open_conflicts"] = conflicts;
    *json_out = std::move(doc);
  } else {
    common::Table table({"site", "env", "role", "tl", "reachable", "server", "ext", "checksum", "vector"});
    for (const auto& s : all) {
      std::string ext = !s.reachable ? "" : s.extension_version ? *s.extension_version : "missing";
      table.add_row({
          s.name,
          s.dr ? s.environment + "/dr" : s.environment,
          s.role(),
          s.timeline ? std::to_string(*s.timeline) : "",
          s.reachable ? "yes" : "no",
          s.server_version.value_or(""),
          ext,
          s.snapshot_checksum ? common::abbreviate(*s.snapshot_checksum, 16) : "",
          s.version_vector ? common::abbreviate(*s.version_vector, 48) : "",
      });
    }
    table.print(std::cout);
    // Why a row is incomplete, under the table.
    for (const auto& s : all) {
      if (!s.reachable) std::cout << fmt::format("{}: unreachable: {}\n", s.name, s.error);
      for (const auto& n : s.notes) std::cout << fmt::format("{}: {}\n", s.name, n);
    }
    if (!rep.is_null()) print_replication(rep);
    if (!conflicts.empty()) {
      std::cout << fmt::format("\nopen reconcile conflicts: {} (never applied; resolve with `rulectl conflicts "
                               "resolve ID --keep target|source`)\n", conflicts.size());
      for (const auto& c : conflicts)
        std::cout << fmt::format("  {}  {}  rule {}  detected {}\n", c["site"].get<std::string>(),
                                 c["conflict_id"].get<std::string>(), c["rule_key"].get<std::string>(),
                                 c["detected_at"].get<std::string>());
    }
  }
  if (split_brain) {
    std::cerr << "rulectl: split brain: more than one E3 site accepts writes" << std::endl;
    return common::exit_refused;
  }
  if (any_unreachable) {
    std::cerr << "rulectl: not every site is reachable" << std::endl;
    return common::exit_unreachable;
  }
  return common::exit_ok;
}

void add_status(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "status",
      "every site: environment, role, timeline, versions, snapshot checksum, version vector; "
      "E3 replication: primary, each standby's lag (bytes, seconds, changes), heartbeat age, slots, "
      "split brain (exit 4: a site is unreachable, 3: split brain)");
  cmd->callback([&global, &exit_code] {
    config::Config config = load_config(global);
    if (global.json) {
      nlohmann::json doc;
      exit_code = report_status(config, &doc);
      common::print_json(doc);
    } else {
      exit_code = report_status(config, nullptr);
    }
  });
}

}  // namespace rulekeeper::cli
