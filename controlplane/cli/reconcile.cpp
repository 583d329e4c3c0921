// `rulectl reconcile (--from S | --bundle FILE) --to S [--dry-run]` and
// `rulectl conflicts list|resolve` (issue #6; DESIGN.md "CLI", "Journal").
//
// reconcile carries over what the target (the E3 primary) lacks, through the
// extension's import_changes(bundle, dry_run): idempotent by change_id; a
// version whose content the target already holds for that rule is not
// duplicated; orphaned versions come back 'recovered' under the next free
// label, not activated, annotated with their original change, site and time;
// orphaned activations and pins are listed, not re-applied; a change to a rule
// the target also changed since the divergence point is a conflict, recorded
// with both sides and never applied. Exit 3 while conflicts remain open.
//
// --bundle: a changes bundle (rulectl rejoin's orphans file; sent as read, so
// its checksum is checked by the server). --from S: exported at S now with
// export_changes(<divergence>), the divergence being the target's latest
// failover event (else the target's version vector: then nothing is a
// conflict, because nothing changed at the target since).
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/errors.hpp"
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

struct ReconcileOptions {
  std::string from;
  std::string bundle;
  std::string to;
  bool dry_run = false;
};

struct ConflictOptions {
  std::string site = "e3";
  bool all = false;
  std::string id;
  std::string keep;
};

std::string s(const json& v) { return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump(); }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw common::ExitError(common::exit_usage, fmt::format("cannot read bundle file {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int reconcile(const GlobalOptions& global, const ReconcileOptions& o) {
  if (o.from.empty() == o.bundle.empty()) throw common::ExitError(common::exit_usage, "give exactly one of --from SITE and --bundle FILE");
  config::Config config = load_config(global);
  site::Site target = site::writer(config, o.to, "reconcile");
  if (target.environment() != "e3")
    throw common::ExitError(common::exit_usage, fmt::format("reconcile carries changes between E3 sites; {} is {}", target.name(),
                                        target.environment()));

  std::string bundle_text, source_desc;
  if (!o.bundle.empty()) {
    bundle_text = read_text(o.bundle);
    source_desc = o.bundle;
  } else {
    site::Site source = site::reader(config, o.from);
    if (source.name() == target.name()) throw common::ExitError(common::exit_usage, "--from and --to name the same site");
    std::string since;
    {
      pqxx::nontransaction tx(*target.conn);
      pqxx::result r = tx.exec("SELECT coalesce((SELECT divergence::text FROM rulekeeper.failover_event "
                               "ORDER BY recorded_at DESC LIMIT 1), rulekeeper.version_vector()::text)");
      since = r[0][0].c_str();
    }
    try {
      pqxx::nontransaction tx(*source.conn);
      bundle_text = tx.exec_params("SELECT rulekeeper.export_changes($1::jsonb)::text", since)[0][0].c_str();
    } catch (const pqxx::failure& e) {
      throw site::sql_failure(fmt::format("export_changes at {}", source.name()), e);
    }
    source_desc = "site " + source.name();
  }

  json report;
  try {
    pqxx::nontransaction tx(*target.conn);
    report = json::parse(
        tx.exec_params("SELECT rulekeeper.import_changes($1::jsonb, $2)::text", bundle_text, o.dry_run)[0][0].c_str());
  } catch (const pqxx::failure& e) {
    throw site::sql_failure(fmt::format("import_changes at {}", target.name()), e);
  } catch (const json::exception& e) {
    throw common::ExitError(common::exit_failed, std::string("import_changes returned no JSON: ") + e.what());
  }

  // The labels the recovered versions got (not in import_changes' report).
  if (!o.dry_run) {
    pqxx::nontransaction tx(*target.conn);
    for (auto& r : report["recovered"]) {
      pqxx::result l = tx.exec_params(
          "SELECT label FROM rulekeeper.rule_version WHERE annotations -> 'recovered_from' ->> 'change_id' = $1 "
          "ORDER BY created_at DESC LIMIT 1",
          s(r["change_id"]));
      r["recovered_label"] = l.empty() ? json(nullptr) : json(l[0][0].c_str());
    }
  }
  const long long open_conflicts = report.value("open_conflicts", 0LL);
  const bool new_conflicts = !report["conflicts"].empty();
  report["target"] = target.name();
  report["from"] = source_desc;
  const int rc = (open_conflicts > 0 || new_conflicts) ? common::exit_refused : common::exit_ok;

  if (global.json) {
    common::print_json(report);
    return rc;
  }
  std::cout << fmt::format("reconcile {} -> {}{}: {} new record{}, {} recovered, {} already held, {} conflict{}, {} "
                           "listed (not applied)\n",
                           source_desc, target.name(), o.dry_run ? " (DRY RUN: nothing changed)" : "",
                           report.value("records", 0), report.value("records", 0) == 1 ? "" : "s",
                           report["recovered"].size(), report["already_held"].size(), report["conflicts"].size(),
                           report["conflicts"].size() == 1 ? "" : "s", report["listed_not_applied"].size());
  if (!report["recovered"].empty()) {
    std::cout << "\nrecovered (qualification 'recovered', NOT activated):\n";
    common::Table t({"rule", "original label", "label here", "change_id"});
    for (const auto& r : report["recovered"])
      t.add_row({s(r["rule_key"]), s(r["original_label"]),
                 o.dry_run ? "(dry run)" : s(r.value("recovered_label", json(nullptr))), s(r["change_id"])});
    t.print(std::cout);
  }
  if (!report["already_held"].empty()) {
    std::cout << "\nalready held here (same content; not duplicated):\n";
    common::Table t({"rule", "label there", "held as", "change_id"});
    for (const auto& r : report["already_held"])
      t.add_row({s(r["rule_key"]), s(r["label"]), s(r["held_as"]), s(r["change_id"])});
    t.print(std::cout);
  }
  if (!report["conflicts"].empty()) {
    std::cout << "\nCONFLICTS (the rule changed here too since the divergence point; recorded, NOT applied):\n";
    common::Table t({"rule", "label there", "changes here"});
    for (const auto& c : report["conflicts"]) {
      std::vector<std::string> here;
      for (const auto& h : c["target_changes"]) here.push_back(fmt::format("{} {}", s(h["kind"]), s(h["label"])));
      t.add_row({s(c["rule_key"]), s(c["label"]), fmt::format("{}", fmt::join(here, ", "))});
    }
    t.print(std::cout);
  }
  if (!report["listed_not_applied"].empty()) {
    std::cout << "\nlisted, not re-applied (activations, pins, qualifications, hotfix records):\n";
    common::Table t({"kind", "rule", "label", "change_id"});
    for (const auto& r : report["listed_not_applied"])
      t.add_row({s(r["kind"]), s(r["rule_key"]), s(r["label"]), s(r["change_id"])});
    t.print(std::cout);
  }
  if (rc == common::exit_refused)
    std::cout << fmt::format("\n{} open conflict{} at {}: see `rulectl conflicts list`, then `rulectl conflicts "
                             "resolve ID --keep target|source` (exit 3 until none remain)\n",
                             open_conflicts, open_conflicts == 1 ? "" : "s", target.name());
  return rc;
}

int conflicts_list(const GlobalOptions& global, const ConflictOptions& o) {
  config::Config config = load_config(global);
  site::Site site = o.site == "e3" && config.find("e3") == nullptr ? site::writer(config, "e3", "list conflicts")
                                                                      : site::reader(config, o.site);
  pqxx::nontransaction tx(*site.conn);
  pqxx::result r = tx.exec_params(
      "SELECT conflict_id::text, rule_key, status, detected_at::text, source_change::text, target_changes::text, "
      "resolved_at::text, resolved_by, resolution::text FROM rulekeeper.conflict "
      "WHERE $1 OR status = 'open' ORDER BY detected_at",
      o.all);
  json doc = {{"site", site.name()}, {"conflicts", json::array()}};
  long long open = 0;
  for (const auto& row : r) {
    json c = {{"conflict_id", row[0].c_str()},
              {"rule_key", row[1].c_str()},
              {"status", row[2].c_str()},
              {"detected_at", row[3].c_str()},
              {"source_change", json::parse(row[4].c_str())},
              {"target_changes", json::parse(row[5].c_str())},
              {"resolved_at", row[6].is_null() ? json(nullptr) : json(row[6].c_str())},
              {"resolved_by", row[7].is_null() ? json(nullptr) : json(row[7].c_str())},
              {"resolution", row[8].is_null() ? json(nullptr) : json::parse(row[8].c_str())}};
    if (c["status"] == "open") ++open;
    doc["conflicts"].push_back(c);
  }
  doc["open"] = open;
  if (global.json) {
    common::print_json(doc);
    return common::exit_ok;
  }
  std::cout << fmt::format("{} {}conflict{} at {}\n", doc["conflicts"].size(), o.all ? "" : "open ",
                           doc["conflicts"].size() == 1 ? "" : "s", site.name());
  if (doc["conflicts"].empty()) return common::exit_ok;
  common::Table t({"id", "rule", "status", "source (orphan)", "target changes since divergence", "detected_at"});
  for (const auto& c : doc["conflicts"]) {
    const json& sc = c["source_change"];
    const json& row = sc.contains("row") ? sc["row"] : json::object();
    std::string src = fmt::format("{} {} from {}:{} at {}", s(sc["kind"]), s(row.value("label", json(nullptr))),
                                  s(sc["origin_site"]), s(sc["origin_incarnation"]), s(sc["recorded_at"]));
    std::vector<std::string> here;
    for (const auto& h : c["target_changes"])
      here.push_back(fmt::format("{} {} ({})", s(h["kind"]), s(h["label"]), s(h["origin"])));
    t.add_row({c["conflict_id"].get<std::string>(), s(c["rule_key"]), s(c["status"]), src,
               fmt::format("{}", fmt::join(here, ", ")), s(c["detected_at"])});
  }
  t.print(std::cout);
  return common::exit_ok;
}

int conflicts_resolve(const GlobalOptions& global, const ConflictOptions& o) {
  if (o.keep != "target" && o.keep != "source") throw common::ExitError(common::exit_usage, "--keep is target or source");
  config::Config config = load_config(global);
  site::Site site = site::writer(config, o.site, "resolve a conflict");
  pqxx::nontransaction tx(*site.conn);
  // An unambiguous prefix of the id is enough.
  pqxx::result ids = tx.exec_params(
      "SELECT conflict_id::text FROM rulekeeper.conflict WHERE conflict_id::text LIKE $1 || '%' ORDER BY 1", o.id);
  if (ids.empty()) throw common::ExitError(common::exit_failed, fmt::format("no conflict {} at {}", o.id, site.name()));
  if (ids.size() > 1) throw common::ExitError(common::exit_usage, fmt::format("{} names {} conflicts; give more of the id", o.id, ids.size()));
  json result;
  try {
    result = json::parse(
        tx.exec_params("SELECT rulekeeper.resolve_conflict($1::uuid, $2)::text", ids[0][0].c_str(), o.keep)[0][0]
            .c_str());
  } catch (const pqxx::failure& e) {
    throw site::sql_failure("resolve_conflict", e);
  }
  long long open = tx.exec("SELECT count(*) FROM rulekeeper.conflict WHERE status = 'open'")[0][0].as<long long>();
  result["open_conflicts"] = open;
  if (global.json) {
    common::print_json(result);
  } else {
    std::cout << fmt::format("conflict {} on rule {} resolved: kept {}{}; {} open conflict{} left at {}\n",
                             s(result["conflict_id"]), s(result["rule_key"]), o.keep,
                             result["recovered_label"].is_null()
                                 ? ""
                                 : fmt::format(" (the orphan is back as {}, recovered, not activated)",
                                               s(result["recovered_label"])),
                             open, open == 1 ? "" : "s", site.name());
  }
  return common::exit_ok;
}

}  // namespace

void add_reconcile(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<ReconcileOptions>();
  CLI::App* cmd = app.add_subcommand(
      "reconcile",
      "carry over what the E3 primary lacks from another site or an orphans bundle: idempotent; orphaned versions "
      "come back 'recovered', not activated; conflicts recorded, never applied (exit 3 while any is open)");
  auto* from = cmd->add_option("--from", o->from, "site to take the changes from (exported there now)");
  auto* bundle = cmd->add_option("--bundle", o->bundle, "changes bundle file (e.g. written by rulectl rejoin)");
  from->excludes(bundle);
  cmd->add_option("--to", o->to, "the E3 primary (or e3)")->required();
  cmd->add_flag("--dry-run", o->dry_run, "report what would happen; change nothing");
  cmd->callback([&global, &exit_code, o] { exit_code = reconcile(global, *o); });

  auto c = std::make_shared<ConflictOptions>();
  CLI::App* conflicts = app.add_subcommand("conflicts", "what reconcile could not apply: list, resolve");
  conflicts->require_subcommand(1);
  CLI::App* list = conflicts->add_subcommand("list", "open conflicts (--all: resolved ones too)");
  list->add_option("--site", c->site, "site to read at (default: the E3 primary)");
  list->add_flag("--all", c->all, "resolved conflicts too");
  list->callback([&global, &exit_code, c] { exit_code = conflicts_list(global, *c); });
  CLI::App* res = conflicts->add_subcommand(
      "resolve", "keep the target's version (nothing applied) or the source's (the orphan comes back recovered, "
                 "not activated)");
  res->add_option("ID", c->id, "conflict id (or an unambiguous start of it)")->required();
  res->add_option("--keep", c->keep, "target or source")->required()->check(CLI::IsMember({"target", "source"}));
  res->add_option("--site", c->site, "the E3 primary (default e3)");
  res->callback([&global, &exit_code, c] { exit_code = conflicts_resolve(global, *c); });
}

}  // namespace rulekeeper::cli
