// `rulectl reconcile (--from S | --bundle FILE) --to S [--dry-run]` and
// `rulectl conflicts list|resolve`: options, the operation (ops/reconcile.hpp
// says what each does), and the rendering as text or --json. Both change
// production (the E3 primary): reconcile shows what it will record (its own
// dry run) and conflicts resolve the conflict and the side kept, then ask
// (cli/confirmation.hpp).
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/confirmation.hpp"
#include "cli/plan_text.hpp"
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

// What reconcile will record, from its own dry run: the question's lines.
std::vector<std::string> plan_lines(const ops::ReconcileReport& dry) {
  const json& report = dry.report;
  std::vector<std::string> lines;
  lines.push_back(fmt::format("{} new journal record{} from {} (the other site's history, kept as records)",
                              report.value("records", 0), report.value("records", 0) == 1 ? "" : "s", dry.source));
  for (const auto& r : report["recovered"])
    lines.push_back(fmt::format("recover {} {} as a new 'recovered' version (NOT activated)", s(r["rule_key"]),
                                s(r["original_label"])));
  for (const auto& r : report["already_held"])
    lines.push_back(
        fmt::format("already held: {} {} (as {}; not duplicated)", s(r["rule_key"]), s(r["label"]), s(r["held_as"])));
  for (const auto& c : report["conflicts"])
    lines.push_back(fmt::format("record a CONFLICT on {} ({} there; the rule changed here too): NOT applied",
                                s(c["rule_key"]), s(c["label"])));
  if (!report["listed_not_applied"].empty())
    lines.push_back(fmt::format("{} activation/pin/qualification/hotfix record{} listed, not re-applied",
                                report["listed_not_applied"].size(),
                                report["listed_not_applied"].size() == 1 ? "" : "s"));
  return lines;
}

int reconcile(const GlobalOptions& global, const ops::ReconcileRequest& given) {
  const config::Config config = load_config(global);
  ops::ReconcileRequest o = given;
  if (!o.dry_run && !global.yes) {
    // Every check, and what it would record, from import_changes' own dry
    // run (a transaction that writes nothing); then the question.
    ops::ReconcileRequest preview_request = o;
    preview_request.dry_run = true;
    const ops::ReconcileReport preview = ops::reconcile(config, preview_request);
    confirm(global,
            Plan{"rulectl reconcile", fmt::format("record at {} what it lacks from {}", preview.target, preview.source),
                 plan_lines(preview)});
  }
  const ops::ReconcileReport out = ops::reconcile(config, o);
  const json& report = out.report;
  if (global.json) {
    common::print_json(out.to_json());
    return out.exit_code;
  }
  if (out.dry_run) print_dry_run_top(std::cout, fmt::format("reconcile {} -> {}", out.source, out.target));
  std::cout << fmt::format(
      "reconcile {} -> {}{}: {} new record{}, {} recovered, {} already held, {} conflict{}, {} "
      "listed (not applied)\n",
      out.source, out.target, out.dry_run ? " (would record)" : "", report.value("records", 0),
      report.value("records", 0) == 1 ? "" : "s", report["recovered"].size(), report["already_held"].size(),
      report["conflicts"].size(), report["conflicts"].size() == 1 ? "" : "s", report["listed_not_applied"].size());
  if (!report["recovered"].empty()) {
    std::cout << "\nrecovered (qualification 'recovered', NOT activated):\n";
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
  if (out.dry_run)
    print_dry_run_bottom(std::cout, "import_changes ran with dry_run => true: no record, no version, no conflict");
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
  if (!global.yes) {
    const site::client::Conflict c = ops::find_conflict(config, o.site, o.id);
    const json& sc = c.source_change;
    const json& row = sc.contains("row") ? sc["row"] : json::object();
    std::vector<std::string> here;
    for (const auto& h : c.target_changes)
      here.push_back(fmt::format("{} {} ({})", s(h["kind"]), s(h["label"]), s(h["origin"])));
    confirm(global, Plan{"rulectl conflicts resolve",
                         fmt::format("resolve conflict {} on rule {}: keep the {}", c.conflict_id, c.rule_key, o.keep),
                         {fmt::format("status: {}", c.status),
                          fmt::format("source (orphan): {} {} from {}:{} at {}", s(sc["kind"]),
                                      s(row.value("label", json(nullptr))), s(sc["origin_site"]),
                                      s(sc["origin_incarnation"]), s(sc["recorded_at"])),
                          fmt::format("target changes since the divergence: {}", fmt::join(here, ", ")),
                          o.keep == "source" ? "the orphan comes back as a new 'recovered' version, NOT activated; the "
                                               "resolution is journaled"
                                             : "nothing is applied; the resolution is journaled"}});
  }
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
  cmd->add_flag("--dry-run", o->dry_run,
                "check everything (the bundle's checksum, signature and environment, each entry) and report what "
                "would be recorded; change nothing, ask nothing");
  cmd->footer(
      "Asks before recording anything on a terminal (--yes: no question; no terminal and no --yes: exit 2). "
      "Exit: 0 done (or, --dry-run, nothing in the way); 3 a conflict is open or new, refused (a source or bundle "
      "from another environment, a bad checksum or signature, not confirmed); 2 usage, no terminal and no --yes; "
      "4 a site is unreachable; 1 another failure.");
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
