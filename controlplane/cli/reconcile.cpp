// `rulectl reconcile (--from S | --bundle FILE) --to S [--dry-run]` and
// `rulectl conflicts list|resolve`: options, the operation (ops/reconcile.hpp
// says what each does), and the rendering as text or --json.
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "ops/reconcile.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

struct ConflictOptions {
  std::string site = "e3";
  bool all = false;
  std::string id;
  std::string keep;
};

std::string s(const json& v) { return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump(); }

int reconcile(const GlobalOptions& global, const ops::ReconcileRequest& o) {
  const config::Config config = load_config(global);
  const ops::ReconcileReport out = ops::reconcile(config, o);
  const json& report = out.report;
  if (global.json) {
    common::print_json(out.to_json());
    return out.exit_code;
  }
  std::cout << fmt::format(
      "reconcile {} -> {}{}: {} new record{}, {} recovered, {} already held, {} conflict{}, {} "
      "listed (not applied)\n",
      out.source, out.target, out.dry_run ? " (DRY RUN: nothing changed)" : "", report.value("records", 0),
      report.value("records", 0) == 1 ? "" : "s", report["recovered"].size(), report["already_held"].size(),
      report["conflicts"].size(), report["conflicts"].size() == 1 ? "" : "s", report["listed_not_applied"].size());
  if (!report["recovered"].empty()) {
    // Issue #14 item 5: a version a lost release had brought returns as
    // awaiting_sl under its own label (docs/data-loss.md).
    std::cout << "\nrecovered (qualification 'recovered', or 'awaiting_sl' for a version a lost release had "
                 "brought; NOT activated):\n";
    common::Table t({"rule", "original label", "label here", "change_id"});
    for (const auto& r : report["recovered"])
      t.add_row({s(r["rule_key"]), s(r["original_label"]),
                 out.dry_run ? "(dry run)" : s(r.value("recovered_label", json(nullptr))), s(r["change_id"])});
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
  if (out.exit_code == common::exit_refused)
    std::cout << fmt::format(
        "\n{} open conflict{} at {}: see `rulectl conflicts list`, then `rulectl conflicts "
        "resolve ID --keep target|source` (exit 3 until none remain)\n",
        out.open_conflicts, out.open_conflicts == 1 ? "" : "s", out.target);
  return out.exit_code;
}

int conflicts_list(const GlobalOptions& global, const ConflictOptions& o) {
  const config::Config config = load_config(global);
  const ops::ConflictList list = ops::list_conflicts(config, o.site, o.all);
  const json doc = list.to_json();
  if (global.json) {
    common::print_json(doc);
    return common::exit_ok;
  }
  std::cout << fmt::format("{} {}conflict{} at {}\n", doc["conflicts"].size(), o.all ? "" : "open ",
                           doc["conflicts"].size() == 1 ? "" : "s", list.site);
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
  const config::Config config = load_config(global);
  const ops::ConflictResolution res = ops::resolve_conflict(config, o.site, o.id, o.keep);
  const json& result = res.result;
  if (global.json) {
    common::print_json(res.to_json());
    return common::exit_ok;
  }
  std::cout << fmt::format("conflict {} on rule {} resolved: kept {}{}; {} open conflict{} left at {}\n",
                           s(result["conflict_id"]), s(result["rule_key"]), res.keep,
                           result["recovered_label"].is_null()
                               ? ""
                               : fmt::format(" (the orphan is back as {}, recovered, not activated)",
                                             s(result["recovered_label"])),
                           res.open_conflicts, res.open_conflicts == 1 ? "" : "s", res.site);
  return common::exit_ok;
}

}  // namespace

void add_reconcile(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<ops::ReconcileRequest>();
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
  CLI::App* list =
      conflicts->add_subcommand("list", "open conflicts (rulectl conflicts list --all: resolved ones too)");
  list->add_option("--site", c->site, "site to read at (default: the E3 primary)");
  list->add_flag("--all", c->all, "resolved conflicts too");
  list->callback([&global, &exit_code, c] { exit_code = conflicts_list(global, *c); });
  CLI::App* res = conflicts->add_subcommand(
      "resolve",
      "keep the target's version (nothing applied) or the source's (the orphan comes back recovered, "
      "not activated)");
  res->add_option("ID", c->id, "conflict id (or an unambiguous start of it)")->required();
  res->add_option("--keep", c->keep, "target or source")->required()->check(CLI::IsMember({"target", "source"}));
  res->add_option("--site", c->site, "the E3 primary (default e3)");
  res->callback([&global, &exit_code, c] { exit_code = conflicts_resolve(global, *c); });
}

}  // namespace rulekeeper::cli
