// `rulectl status`: ops::status (what every site is, the E3 replication
// section, open conflicts; ops/status.hpp) as tables or --json. Also
// load_config, which every verb uses.
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "common/output.hpp"
#include "common/text.hpp"
#include "ops/notification_status.hpp"
#include "ops/status.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

std::string text(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) return fmt::format("{:.1f}", v.get<double>());
  return v.dump();
}

void print_replication(const json& rep) {
  std::cout << "\nreplication (e3)\n";
  if (rep["split_brain"].get<bool>()) {
    std::vector<std::string> names;
    for (const auto& w : rep["writable_sites"])
      names.push_back(fmt::format("{} (timeline {})", text(w["site"]), text(w["timeline"])));
    std::cout << fmt::format("  SPLIT BRAIN: more than one E3 site accepts writes: {}\n", fmt::join(names, ", "));
  } else if (!rep["primary"].is_null()) {
    std::cout << fmt::format("  primary: {} (timeline {}), {}\n", text(rep["primary"]), text(rep["primary_timeline"]),
                             rep["primary_heartbeat_at"].is_null() ? std::string("no heartbeat yet")
                             : rep["primary_heartbeat_age_seconds"].is_null()
                                 ? "own heartbeat dated in the future (" + text(rep["primary_heartbeat_at"]) +
                                       "): age unknown"
                                 : "own heartbeat " + text(rep["primary_heartbeat_age_seconds"]) + "s old");
  } else if (rep.value("unreachable_sites", json::array()).empty() &&
             !rep.value("refused_sites", json::array()).empty()) {
    // Nothing is known to be down: the servers answered and refused us.
    std::cout << "  primary: UNKNOWN: E3 refused rulectl's login (a configuration problem, not an outage)\n";
  } else {
    const json& lk = rep["last_known_primary"];
    std::string known;
    if (!lk.is_null()) {
      std::vector<std::string> why;
      if (lk.contains("timeline"))
        why.push_back(fmt::format("timeline {}: {}", text(lk["timeline"]), text(lk["source"])));
      if (!lk["heartbeat_at"].is_null())
        why.push_back(fmt::format("last heartbeat {}, seen by {}, {}s ago", text(lk["heartbeat_at"]),
                                  text(lk["seen_by"]), text(lk["heartbeat_age_seconds"])));
      else
        why.push_back("no reachable standby replayed its heartbeat");
      known = fmt::format(" (last known primary {}: {})", text(lk["site"]), fmt::join(why, "; "));
    }
    std::cout << fmt::format("  primary: UNREACHABLE{}\n", known);
  }
  for (const auto& n : rep["notes"]) std::cout << "  " << n.get<std::string>() << "\n";
  common::Table t({"standby", "reachable", "state", "lag_bytes", "replay_lag_s", "lag_changes", "last_heartbeat",
                   "hb_age_s", "paused", "receiver", "slot", "slot_active", "wal_status", "retained_bytes"});
  for (const auto& s : rep["standbys"]) {
    std::string hb =
        s["last_heartbeat_site"].is_null() ? "" : text(s["last_heartbeat_site"]) + " " + text(s["last_heartbeat_at"]);
    t.add_row({text(s["site"]), text(s["reachable"]), text(s["state"]), text(s["lag_bytes"]),
               text(s["replay_lag_seconds"]), text(s["lag_changes"]), hb, text(s["heartbeat_age_seconds"]),
               text(s["replay_paused"]), text(s["wal_receiver_status"]), text(s["slot_name"]), text(s["slot_active"]),
               text(s["wal_status"]), text(s["retained_bytes"])});
  }
  for (const auto& r : rep["other_replicas"])
    t.add_row(
        {text(r["application_name"]).empty() ? "(slot " + text(r["slot_name"]) + ")" : text(r["application_name"]), "",
         text(r["state"]), text(r["lag_bytes"]), text(r["replay_lag_seconds"]), "", "", "", "", "",
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
          text(s["site"]), text(s["last_heartbeat_site"]), text(s["last_heartbeat_site"]), text(s["last_heartbeat_at"]),
          text(s["last_heartbeat_site"]), text(s["heartbeat_age_seconds"]));
    }
  }
}

void print_sites(const ops::StatusReport& report) {
  common::Table table({"site", "env", "role", "tl", "reachable", "server", "ext", "checksum", "vector"});
  for (const auto& s : report.sites) {
    std::string ext = !s.reachable ? "" : s.extension_version ? *s.extension_version : "missing";
    table.add_row({
        s.name,
        // The server's own value; rulectl.toml's beside it when they differ.
        (s.dr ? s.effective_environment() + "/dr" : s.effective_environment()) +
            (s.effective_environment() != s.environment ? " (toml: " + s.environment + ")" : ""),
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
  // Each site's journal chain heads (docs/tamper-evidence.md): `rulectl
  // compare A B` checks that two sites hold the same chains.
  for (const auto& s : report.sites) {
    if (!s.chain_heads) continue;
    nlohmann::json heads = nlohmann::json::parse(*s.chain_heads, nullptr, false);
    if (!heads.is_object() || heads.empty()) continue;
    std::string line;
    for (const auto& [origin, h] : heads.items())
      line += fmt::format("{}{}@{} {}", line.empty() ? "" : ", ", common::one_line(origin), h.value("seq", 0LL),
                          h.value("entry_hash", std::string()).substr(0, 12));
    std::cout << fmt::format("{}: journal chain heads {} (rulectl compare checks them across sites)\n", s.name, line);
  }
  // Why a row is incomplete, under the table.
  for (const auto& s : report.sites) {
    if (!s.reachable)
      std::cout << fmt::format("{}: {}: {}\n", s.name,
                               s.refused ? "the server refused rulectl's login (a configuration problem, not an outage)"
                                         : "unreachable",
                               s.error);
    for (const auto& n : s.notes) std::cout << fmt::format("{}: {}\n", s.name, n);
  }
}

void print_conflicts(const std::vector<ops::SiteConflict>& conflicts) {
  if (conflicts.empty()) return;
  std::cout << fmt::format(
      "\nopen reconcile conflicts: {} (never applied; resolve with `rulectl conflicts "
      "resolve ID --keep target|source`)\n",
      conflicts.size());
  for (const auto& c : conflicts)
    std::cout << fmt::format("  {}  {}  rule {}  detected {}\n", c.site, c.conflict_id, c.rule_key, c.detected_at);
}

}  // namespace

config::Config load_config(const GlobalOptions& global) {
  return config::load(config::path_to_read(global.config_file));
}

int report_status(const config::Config& config, nlohmann::json* json_out) {
  const ops::StatusReport report = ops::status(config);
  for (const auto& w : report.warnings) std::cerr << "warning: " << w << std::endl;
  // Per E3 site and channel: current and served epoch, held (issue #18).
  std::vector<std::string> notification_notes;
  const nlohmann::json notifications = ops::notification_status(report.sites, notification_notes);
  for (const auto& n : notification_notes) std::cerr << "rulectl: " << n << std::endl;
  if (json_out != nullptr) {
    *json_out = report.to_json();
    (*json_out)["notifications"] = notifications;
  } else {
    print_sites(report);
    if (!report.replication.is_null()) print_replication(report.replication);
    print_notifications(notifications);
    print_conflicts(report.open_conflicts);
  }
  if (report.split_brain())
    std::cerr << "rulectl: split brain: more than one E3 site accepts writes" << std::endl;
  else if (report.any_unreachable())
    std::cerr << "rulectl: not every site is reachable" << std::endl;
  for (const auto& e : report.configuration_errors) std::cerr << "rulectl: configuration error: " << e << std::endl;
  return report.exit_code();
}

void add_status(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* cmd =
      app.add_subcommand("status",
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
