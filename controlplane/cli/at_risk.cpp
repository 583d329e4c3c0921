// `rulectl at-risk --primary S --standby S`: the exact list of changes a
// failover to that standby right now would lose.
//
// Standby reachable: the version-vector difference — the primary's journal
// entries the standby's vector does not cover (journal_since). The standby
// is read first, so anything that replicates in between is at worst listed
// once too often, never missed.
// Standby unreachable: an estimate from the standby's physical slot on the
// primary: entries written at or after the slot's restart_lsn certainly did
// not reach it; entries written shortly before may be missing too (their
// commit record can lie after the slot position). No slot: unknown (exit 3).
#include <future>
#include <iostream>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/text.hpp"
#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "site/client/server_state.hpp"
#include "site/probe.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

struct AtRiskOptions {
  std::string primary;
  std::string standby;
  std::string slot;  // default: the standby's site name
};

const config::SiteConfig& site_or_usage(const config::Config& config, const std::string& name,
                                        const char* flag) {
  const config::SiteConfig* s = config.find(name);
  if (s == nullptr)
    throw common::ExitError(common::exit_usage, fmt::format("{} {}: no such site in {}", flag, name, config.path));
  return *s;
}

const char* kChangeColumns =
    "j.change_id::text AS change_id, j.origin_site, j.origin_incarnation, j.origin_seq, j.kind, "
    "j.rule_key, j.label, j.recorded_at::text AS recorded_at, j.recorded_lsn::text AS recorded_lsn";

json change_json(const pqxx::row& r) {
  json c = site::client::row_to_json(r);
  c["origin"] = fmt::format("{}:{}", r["origin_site"].c_str(), r["origin_incarnation"].c_str());
  return c;
}

int at_risk(const GlobalOptions& global, const AtRiskOptions& opts) {
  const config::Config config = load_config(global);
  const config::SiteConfig& pc = site_or_usage(config, opts.primary, "--primary");
  const config::SiteConfig& sc = site_or_usage(config, opts.standby, "--standby");
  if (pc.name == sc.name) throw common::ExitError(common::exit_usage, "--primary and --standby name the same site");
  const std::string slot = opts.slot.empty() ? sc.name : opts.slot;
  ::setenv("PGCONNECT_TIMEOUT", "3", 0);

  // Both connections at once: an unreachable site costs one timeout.
  auto connect = [](const std::string& conninfo) { return std::make_unique<pqxx::connection>(conninfo); };
  auto pf = std::async(std::launch::async, connect, pc.conninfo);
  auto sf = std::async(std::launch::async, connect, sc.conninfo);
  std::unique_ptr<pqxx::connection> standby_conn;
  std::string standby_error;
  try {
    standby_conn = sf.get();
  } catch (const std::exception& e) {
    standby_error = common::one_line(e.what());
  }
  std::unique_ptr<pqxx::connection> primary_conn;
  try {
    primary_conn = pf.get();
  } catch (const std::exception& e) {
    throw common::ExitError(common::exit_unreachable,
                fmt::format("primary {} is unreachable: what it holds cannot be listed ({}); "
                            "`rulectl status` shows what the standby alone can tell",
                            pc.name, common::one_line(e.what())));
  }
  pqxx::nontransaction ptx(*primary_conn);
  if (ptx.exec("SELECT pg_is_in_recovery()")[0][0].as<bool>())
    throw common::ExitError(common::exit_refused, fmt::format("{} is in recovery (a standby), not a primary", pc.name));

  json doc;
  doc["primary"] = pc.name;
  doc["standby"] = sc.name;
  doc["standby_reachable"] = standby_conn != nullptr;
  doc["changes"] = json::array();
  std::vector<std::string> notes;
  bool unknown = false;

  if (standby_conn) {
    pqxx::nontransaction stx(*standby_conn);
    const std::string vector = stx.exec("SELECT rulekeeper.version_vector()::text")[0][0].c_str();
    if (!stx.exec("SELECT pg_is_in_recovery()")[0][0].as<bool>())
      notes.push_back(fmt::format("{} is not in recovery: it accepts writes (split brain?); listed is what "
                                  "it lacks of {}'s journal",
                                  sc.name, pc.name));
    doc["method"] = "version_vector";
    doc["estimate"] = false;
    doc["standby_version_vector"] = json::parse(vector);
    for (const auto& r : ptx.exec_params(
             fmt::format("SELECT {} FROM rulekeeper.journal_since($1::jsonb) j "
                         "ORDER BY j.recorded_at, j.origin_site, j.origin_incarnation, j.origin_seq",
                         kChangeColumns),
             vector))
      doc["changes"].push_back(change_json(r));
  } else {
    doc["standby_error"] = standby_error;
    pqxx::result s = ptx.exec_params(
        "SELECT restart_lsn::text AS restart_lsn, active, wal_status FROM pg_replication_slots "
        "WHERE slot_name = $1 AND slot_type = 'physical'",
        slot);
    doc["estimate"] = true;
    if (s.empty() || s[0]["restart_lsn"].is_null()) {
      doc["method"] = "unavailable";
      doc["slot"] = s.empty() ? json() : site::client::row_to_json(s[0]);
      unknown = true;
      notes.push_back(fmt::format(
          "{} is unreachable and {} has {} for it: what a failover would lose is UNKNOWN", sc.name, pc.name,
          s.empty() ? fmt::format("no physical slot '{}'", slot)
                    : fmt::format("slot '{}' without a restart_lsn", slot)));
    } else {
      doc["method"] = "slot_estimate";
      json slot_json = site::client::row_to_json(s[0]);
      slot_json["slot_name"] = slot;
      doc["slot"] = slot_json;
      const std::string restart = s[0]["restart_lsn"].c_str();
      for (const auto& r : ptx.exec_params(
               fmt::format("SELECT {} FROM rulekeeper.journal j WHERE j.recorded_lsn >= $1::pg_lsn "
                           "ORDER BY j.recorded_at, j.origin_site, j.origin_incarnation, j.origin_seq",
                           kChangeColumns),
               restart))
        doc["changes"].push_back(change_json(r));
      notes.push_back(fmt::format(
          "ESTIMATE: {} is unreachable ({}); listed are {}'s journal entries written at or after the "
          "position of slot '{}' ({}), which certainly did not reach it; entries written just before "
          "that position may be missing too (their commit can come later)",
          sc.name, standby_error, pc.name, slot, restart));
    }
  }
  doc["count"] = doc["changes"].size();
  doc["at_risk"] = unknown || !doc["changes"].empty();
  doc["notes"] = notes;

  const bool exact = doc["method"] == "version_vector";
  if (global.json) {
    common::print_json(doc);
    for (const auto& n : notes) std::cerr << "rulectl: " << n << std::endl;
  } else {
    if (unknown) {
      std::cout << fmt::format("at-risk {} -> {}: UNKNOWN\n", pc.name, sc.name);
    } else {
      std::cout << fmt::format("at-risk {} -> {}: {}{} change{} a failover to {} now would lose ({})\n",
                               pc.name, sc.name, exact ? "" : "at least ", doc["count"].get<std::size_t>(),
                               doc["count"] == 1 ? "" : "s", sc.name,
                               exact ? "exact: version-vector difference" : "ESTIMATE from the slot position");
      if (!doc["changes"].empty()) {
        common::Table t({"change_id", "origin", "seq", "kind", "rule", "label", "recorded_at"});
        for (const auto& c : doc["changes"])
          t.add_row({c["change_id"].get<std::string>(), c["origin"].get<std::string>(),
                     std::to_string(c["origin_seq"].get<long long>()), c["kind"].get<std::string>(),
                     c["rule_key"].is_null() ? "" : c["rule_key"].get<std::string>(),
                     c["label"].is_null() ? "" : c["label"].get<std::string>(),
                     c["recorded_at"].get<std::string>()});
        t.print(std::cout);
      }
    }
    for (const auto& n : notes) std::cout << n << "\n";
  }
  return doc["at_risk"].get<bool>() ? common::exit_refused : common::exit_ok;
}

}  // namespace

void add_at_risk(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto opts = std::make_shared<AtRiskOptions>();
  CLI::App* cmd = app.add_subcommand(
      "at-risk",
      "changes the primary holds that the standby does not: what a failover to it now would lose "
      "(exit 0 none, 3 some or unknown, 4 the primary is unreachable)");
  cmd->add_option("--primary", opts->primary, "the E3 primary (site name in rulectl.toml)")->required();
  cmd->add_option("--standby", opts->standby, "the standby a failover would promote")->required();
  cmd->add_option("--slot", opts->slot,
                  "the standby's physical slot on the primary, for the estimate when the standby is "
                  "unreachable (default: the standby's site name)");
  cmd->callback([&global, &exit_code, opts] { exit_code = at_risk(global, *opts); });
}

}  // namespace rulekeeper::cli
