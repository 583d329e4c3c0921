// `rulectl hotfix` and its subcommands: options, the operation (ops/hotfix.hpp
// says what each does), and the rendering as text or --json.
//
//   hotfix --site S|e3 --rule K --body-file F --reason TEXT [--sync [--sync-timeout S]]
//          [--acknowledge-sl-failed LABEL[,LABEL…]] [--dry-run]
//   hotfix list [--site S|e3] [--since-last-release]
//   hotfix show ID [--site S|e3]
//   hotfix replay RECEIPT --site S|e3 [--sync …] [--dry-run]
//
// A hotfix changes production: it shows its plan (rule, channels, diff:
// what hotfix() reported in a transaction that was rolled back) and asks
// (cli/confirmation.hpp) before the real one, which is refused if the
// database would now make another change than the one shown.
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/confirmation.hpp"
#include "cli/diff_render.hpp"
#include "cli/plan_text.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "common/terminal.hpp"
#include "ops/hotfix.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

const char* kHotfixFooter =
    "Asks before the change on a terminal (--yes: no question; no terminal and no --yes: exit 2). "
    "Exit: 0 done (with --sync: applied at every other E3 site; with --dry-run: it would be made); 2 usage "
    "(missing flags, an empty --reason, a body file that is not a JSON object, no terminal and no --yes); 3 "
    "refused: a path the ruleset's hotfix policy does not allow, no policy for the ruleset, the connecting role "
    "lacks rulekeeper_hotfix, a standby or a site outside E3, split brain, nothing active in prod, a body whose "
    "content failed soft launch (sl_failed) without --acknowledge-sl-failed naming that version, not confirmed, "
    "prod changed since the plan was shown — or, with --sync, committed but NOT yet applied at some E3 standby "
    "when --sync-timeout ran out (the hotfix stands at the primary; its receipt is in state_dir); 1 another "
    "failure; 4 the site is unreachable.";

struct HotfixArgs {
  ops::HotfixRequest request;
  CLI::Option* reason_option = nullptr;
};

// What a hotfix will do, as the question before it shows it (and a dry run
// prints it): `r` is hotfix()'s report from the rolled-back transaction.
std::vector<std::string> plan_lines(const ops::HotfixReport& report, const std::string& reason) {
  const json& r = report.result;
  const std::string base = r.value("base_label", std::string("?")), label = r.value("label", std::string("?"));
  std::vector<std::string> lines;
  lines.push_back(fmt::format("new version {} of rule {} on top of {} (what prod serves now), at {}", label,
                              common::escape_controls(r.value("rule_key", std::string("?"))), base, report.site));
  lines.push_back(fmt::format("prod: {} -> {}", base, label));
  if (r.value("sl_moved", false))
    lines.push_back(fmt::format("sl: {} -> {} (sl served the same parent)", base, label));
  else if (r.contains("annotated") && r["annotated"].is_array() && !r["annotated"].empty()) {
    std::vector<std::string> labels;
    for (const auto& x : r["annotated"]) labels.push_back(x.value("label", std::string("?")));
    lines.push_back(fmt::format("sl: stays on {} (annotated: it may undo this hotfix)", fmt::join(labels, ", ")));
  } else {
    lines.push_back("sl: unchanged");
  }
  lines.push_back("diff:");
  for (const auto& d : diff_lines(r["diff"])) lines.push_back("  " + d);
  if (r.contains("acknowledged_sl_failed") && !r["acknowledged_sl_failed"].empty()) {
    std::vector<std::string> failed;
    for (const auto& x : r["acknowledged_sl_failed"]) failed.push_back(x.get<std::string>());
    lines.push_back(
        fmt::format("acknowledged: the body is the content of {}, which failed soft launch (sl_failed); "
                    "the acknowledgement is journaled",
                    fmt::join(failed, ", ")));
  }
  if (!reason.empty()) lines.push_back("reason: " + common::escape_controls(reason));
  if (!report.not_waited_for.empty())
    lines.push_back(
        fmt::format("{} {}", fmt::join(report.not_waited_for, ", "),
                    report.sync_requested ? "waited for after the commit (--sync)" : "not waited for (no --sync)"));
  return lines;
}

// A dry run: the plan between the two "dry run" lines (or its --json document).
int render_dry_run(const GlobalOptions& global, const ops::HotfixReport& report, const std::string& what,
                   const std::string& reason) {
  if (global.json) {
    common::print_json(report.to_json());
    return common::exit_ok;
  }
  print_dry_run_top(std::cout, what);
  for (const auto& l : plan_lines(report, reason)) std::cout << "  " << l << "\n";
  print_dry_run_bottom(std::cout,
                       "the database checked the hotfix in a transaction that was rolled back: no version, no "
                       "activation, no journal entry, no receipt");
  return common::exit_ok;
}

struct ListArgs {
  std::string site = "e3";
  bool since_last_release = false;
};

struct ShowArgs {
  std::string id;
  std::string site = "e3";
};

std::string epoch_text(long long epoch) {
  return fmt::format("epoch {} (incarnation {}, #{})", epoch, epoch >> 32, epoch & 0xffffffffLL);
}

std::string label_or_none(const std::optional<std::string>& v) { return v ? *v : std::string("(none)"); }

// A committed hotfix (made or replayed), as text or JSON; messages on stderr.
int render(const GlobalOptions& global, const ops::HotfixReport& report, const std::string& headline) {
  for (const auto& w : report.warnings) std::cerr << "rulectl: warning: " << w << std::endl;
  if (global.json) {
    common::print_json(report.to_json());
  } else {
    const json& r = report.result;
    const json& receipt = report.receipt;
    std::cout << headline << std::endl;
    std::cout << fmt::format("  by {} at {}; reason: {}",
                             common::escape_controls(receipt.value("actor", std::string("?"))),
                             receipt.value("created_at", std::string("?")),
                             common::escape_controls(receipt.value("reason", std::string())))
              << std::endl;
    std::string sl;
    if (r.value("sl_moved", false))
      sl = fmt::format("; sl moved to {} too (it served {})", r["label"].get<std::string>(),
                       r["base_label"].get<std::string>());
    else if (r.contains("annotated") && r["annotated"].is_array() && !r["annotated"].empty()) {
      std::vector<std::string> labels;
      for (const auto& x : r["annotated"]) labels.push_back(x.value("label", std::string("?")));
      sl = fmt::format("; sl stays on {} (annotated: it may undo this hotfix)", fmt::join(labels, ", "));
    }
    std::cout << fmt::format("  prod serves {} now{}; {}", r["label"].get<std::string>(), sl,
                             epoch_text(r.value("epoch", 0LL)))
              << std::endl;
    diff_render::print_table(std::cout, r["diff"], r["base_label"].get<std::string>(), r["label"].get<std::string>(),
                             diff_render::use_colour(false), "  ");
    if (report.receipt_file) std::cout << "receipt: " << *report.receipt_file << std::endl;
    if (!report.sync_summary.empty()) std::cout << report.sync_summary << std::endl;
    if (!report.not_waited_for.empty())
      std::cout << fmt::format("{} not waited for (add --sync to wait until applied there)",
                               fmt::join(report.not_waited_for, ", "))
                << std::endl;
  }
  if (report.sync_requested && report.exit_code == common::exit_refused && global.json)
    std::cerr << "rulectl: " << report.sync_summary << std::endl;
  if (!report.receipt_error.empty())
    std::cerr << "rulectl: the hotfix committed at " << report.site << ", but its receipt could not be written ("
              << report.receipt_error << "); keep this copy:\n"
              << report.receipt.dump(2) << std::endl;
  return report.exit_code;
}

int run_hotfix(const GlobalOptions& global, const HotfixArgs& args) {
  const ops::HotfixRequest& req = args.request;
  std::vector<std::string> missing;
  if (req.site.empty()) missing.push_back("--site");
  if (req.rule.empty()) missing.push_back("--rule");
  if (req.body_file.empty()) missing.push_back("--body-file");
  if (args.reason_option == nullptr || args.reason_option->count() == 0) missing.push_back("--reason");
  if (!missing.empty())
    throw common::ExitError(common::exit_usage,
                            fmt::format("hotfix needs {} (or a subcommand: list, show, replay; see rulectl hotfix "
                                        "--help)",
                                        fmt::join(missing, ", ")));
  const config::Config config = load_config(global);
  common::Progress progress;
  if (req.dry_run)
    return render_dry_run(global, ops::hotfix(config, req, progress),
                          fmt::format("hotfix of rule {} at {}", req.rule, req.site), req.reason);
  ops::HotfixRequest confirmed = req;
  if (!global.yes) {
    // Every check the database makes, in a transaction rolled back; then the
    // question; then the real one, refused if it would differ.
    ops::HotfixRequest preview_request = req;
    preview_request.dry_run = true;
    const ops::HotfixReport preview = ops::hotfix(config, preview_request, progress);
    const json& p = preview.result;
    confirm(global, Plan{"rulectl hotfix",
                         fmt::format("hotfix {} of rule {} at {}: live in prod at once",
                                     p.value("label", std::string("?")), req.rule, preview.site),
                         plan_lines(preview, req.reason)});
    confirmed.expect = ops::HotfixExpectation{p.value("base_label", std::string()), p.value("label", std::string())};
  }
  const ops::HotfixReport report = ops::hotfix(config, confirmed, progress);
  const json& r = report.result;
  return render(global, report,
                fmt::format("hotfix {} of rule {} at {}, on top of {}: {}", r["label"].get<std::string>(), req.rule,
                            report.site, r["base_label"].get<std::string>(), r["hotfix_id"].get<std::string>()));
}

int run_replay(const GlobalOptions& global, const ops::ReplayRequest& given) {
  const config::Config config = load_config(global);
  common::Progress progress;
  ops::ReplayRequest args = given;
  if (args.dry_run) {
    const ops::ReplayReport preview = ops::replay(config, args, progress);
    if (preview.replayed)
      return render_dry_run(global, *preview.replayed,
                            fmt::format("replay of hotfix {} ({}) at {}", preview.hotfix_id, preview.label,
                                        preview.site),
                            "");
  } else if (!global.yes) {
    ops::ReplayRequest preview_request = args;
    preview_request.dry_run = true;
    const ops::ReplayReport preview = ops::replay(config, preview_request, progress);
    if (preview.replayed) {  // else the site holds the content already: nothing to change, nothing to ask
      const json& p = preview.replayed->result;
      confirm(global,
              Plan{"rulectl hotfix replay",
                   fmt::format("replay hotfix {} ({} at {}) at {} as {}: live in prod at once", preview.hotfix_id,
                               preview.label, preview.from_site, preview.site, p.value("label", std::string("?"))),
                   plan_lines(*preview.replayed, "")});
      args.expect = ops::HotfixExpectation{p.value("base_label", std::string()), p.value("label", std::string())};
    }
  }
  const ops::ReplayReport report = ops::replay(config, args, progress);
  if (report.replayed) {
    const json& r = report.replayed->result;
    return render(global, *report.replayed,
                  fmt::format("replayed hotfix {} ({} at {}) at {} as {} of rule {}, on top of {}: same content "
                              "(sha256 {})",
                              report.hotfix_id, report.label, report.from_site, report.site,
                              r["label"].get<std::string>(), report.rule_key, r["base_label"].get<std::string>(),
                              common::abbreviate(report.content_sha256, 16)));
  }
  if (global.json) {
    common::print_json(report.to_json());
    return report.exit_code;
  }
  const std::string prod = report.prod.value_or("");
  if (report.dry_run) print_dry_run_top(std::cout, fmt::format("replay of {} at {}", report.receipt_file, report.site));
  std::cout << fmt::format("site {} already holds this content for rule {} as version {} ({}; {}); nothing to do",
                           report.site, report.rule_key, report.held_as, report.held_qualification,
                           prod.empty() ? "nothing is active in prod" : "prod serves " + prod)
            << std::endl;
  if (prod != report.held_as)
    std::cout << fmt::format(
                     "  note: prod does not serve {}: rulectl activate --site {} --channel prod --rule {} "
                     "--version {} if it should",
                     report.held_as, report.site, report.rule_key, report.held_as)
              << std::endl;
  if (report.dry_run) print_dry_run_bottom(std::cout, "the site holds that content already");
  return report.exit_code;
}

int run_list(const GlobalOptions& global, const ListArgs& args) {
  const config::Config config = load_config(global);
  const ops::HotfixList list = ops::list_hotfixes(config, args.site, args.since_last_release);
  if (global.json) {
    common::print_json(list.to_json());
    return common::exit_ok;
  }
  const std::string scope = args.since_last_release
                                ? fmt::format(" since the last release ({})", list.last_release_at.value_or("none yet"))
                                : std::string();
  std::cout << fmt::format("{} hotfix(es) at {}{}", list.hotfixes.size(), list.site, scope) << std::endl;
  if (list.hotfixes.empty()) return common::exit_ok;
  common::Table t({"id", "created (UTC)", "rule", "base", "label", "made at", "by", "paths", "prod now", "reason"});
  for (const auto& h : list.hotfixes) {
    std::vector<std::string> paths;
    for (const auto& e : h.diff) paths.push_back(e.value("path", std::string()));
    t.add_row({h.hotfix_id.substr(0, 8), h.created_at, h.rule_key, h.base_label, h.label, h.site, h.actor,
               fmt::format("{}", fmt::join(paths, " ")), label_or_none(h.prod_now), common::abbreviate(h.reason, 40)});
  }
  t.print(std::cout);
  std::cout << "(rulectl hotfix show ID for one hotfix's diff; an id prefix will do)" << std::endl;
  return common::exit_ok;
}

int run_show(const GlobalOptions& global, const ShowArgs& args) {
  const config::Config config = load_config(global);
  const ops::HotfixDetail d = ops::show_hotfix(config, args.id, args.site);
  if (global.json) {
    common::print_json(d.to_json());
    return common::exit_ok;
  }
  const auto& h = d.hotfix;
  std::cout << fmt::format(
                   "hotfix {}\n  rule {}: {} -> {}, made at {} by {} at {}\n  reason: {}\n  journal change "
                   "{}; content_sha256 {}\n  now (at {}): prod serves {}, sl serves {}",
                   h.hotfix_id, common::escape_controls(h.rule_key), common::escape_controls(h.base_label),
                   common::escape_controls(h.label), common::escape_controls(h.site), common::escape_controls(h.actor),
                   h.created_at, common::escape_controls(h.reason), h.change_id, label_or_none(h.content_sha256),
                   d.read_at, label_or_none(h.prod_now), label_or_none(h.sl_now))
            << std::endl;
  std::cout << "what it changed:" << std::endl;
  diff_render::print_table(std::cout, h.diff, h.base_label, h.label, diff_render::use_colour(false), "  ");
  const json doc = d.to_json();
  if (!doc["classified_versions"].empty()) {
    std::cout << "planned versions checked against it:" << std::endl;
    common::Table t({"  version", "qualification", "this hotfix", "overall", "prod activation"});
    for (const auto& c : doc["classified_versions"]) {
      const std::string overall = c["hotfix_included"].get<std::string>();
      t.add_row({"  " + c["label"].get<std::string>(), c["qualification"].get<std::string>(),
                 c["classification"].get<std::string>(), overall,
                 overall == "included" ? "allowed" : "needs --acknowledge-hotfix"});
    }
    t.print(std::cout);
  }
  if (!doc["acknowledgements"].empty()) {
    std::cout << "acknowledged (journaled):" << std::endl;
    common::Table t({"  when (UTC)", "by", "action", "channel", "version", "acknowledged"});
    for (const auto& k : doc["acknowledgements"])
      t.add_row({"  " + k["recorded_at"].get<std::string>(), k["actor"].get<std::string>(),
                 k["action"].get<std::string>(), k["channel"].get<std::string>(), k["label"].get<std::string>(),
                 k["what"].get<std::string>()});
    t.print(std::cout);
  }
  return common::exit_ok;
}

void sync_options(CLI::App* cmd, bool& sync, double& timeout) {
  cmd->add_flag("--sync", sync,
                "after the commit, wait until every other E3 site (IPC1) has applied it; exit 3 if one has not "
                "when --sync-timeout runs out");
  cmd->add_option("--sync-timeout", timeout, "seconds --sync waits at most (default 10)")
      ->check(CLI::NonNegativeNumber);
}

}  // namespace

void add_hotfix(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto a = std::make_shared<HotfixArgs>();
  CLI::App* cmd = app.add_subcommand(
      "hotfix",
      "restricted, direct edit at the E3 primary: a new version N.k of what prod serves, live in prod at once "
      "(and in sl when sl serves the same parent), journaled, with a receipt in state_dir");
  cmd->add_option("--site", a->request.site, "e3 (the E3 primary) or the name of the E3 primary");
  cmd->add_option("--rule", a->request.rule, "rule key");
  cmd->add_option("--body-file", a->request.body_file, "the new body: a file holding a JSON object (- for stdin)");
  a->reason_option = cmd->add_option("--reason", a->request.reason, "why (required, not empty; journaled)");
  sync_options(cmd, a->request.sync, a->request.sync_timeout);
  cmd->add_option("--acknowledge-sl-failed", a->request.acknowledge_sl_failed,
                  "the body's content is that of these versions, which failed soft launch (sl_failed): serve it "
                  "again anyway (comma-separated labels, exactly those the refusal names; journaled)");
  cmd->add_flag("--dry-run", a->request.dry_run,
                "check everything (policy, prod, sl, failed content) in a transaction that is rolled back and "
                "show what would change; change nothing, ask nothing");
  cmd->footer(kHotfixFooter);
  cmd->require_subcommand(0, 1);

  auto l = std::make_shared<ListArgs>();
  CLI::App* list = cmd->add_subcommand("list", "the hotfixes a site holds, oldest first");
  list->add_option("--site", l->site, "site to read at, or e3 for the E3 primary (default)");
  list->add_flag("--since-last-release", l->since_last_release,
                 "only those made after the last release was imported there (what the next release is checked "
                 "against)");
  list->footer("Exit: 0 listed; 1 a failure; 2 usage; 4 the site is unreachable.");
  list->callback([&global, &exit_code, l] { exit_code = run_list(global, *l); });

  auto s = std::make_shared<ShowArgs>();
  CLI::App* show = cmd->add_subcommand("show",
                                       "one hotfix: who, when, why, its diff (old and new side by side), "
                                       "the planned versions classified against it, acknowledgements");
  show->add_option("ID", s->id, "hotfix id (a UUID, or the start of one)")->required();
  show->add_option("--site", s->site, "site to read at, or e3 for the E3 primary (default)");
  show->footer(
      "Exit: 0 shown; 1 no such hotfix (or an id prefix that matches several) or another failure; 2 usage; "
      "4 the site is unreachable.");
  show->callback([&global, &exit_code, s] { exit_code = run_show(global, *s); });

  auto r = std::make_shared<ops::ReplayRequest>();
  CLI::App* replay = cmd->add_subcommand(
      "replay",
      "re-apply a hotfix from its receipt at another site (after a failover, at the new E3 primary); "
      "does nothing if the site already holds that content for that rule");
  replay->add_option("RECEIPT", r->receipt_file, "receipt file written by rulectl hotfix (in state_dir)")->required();
  replay->add_option("--site", r->site, "e3 (the E3 primary) or its name")->required();
  sync_options(replay, r->sync, r->sync_timeout);
  replay->add_flag("--dry-run", r->dry_run,
                   "check everything in a transaction that is rolled back and show what would change; change "
                   "nothing, ask nothing");
  replay->footer(
      "Asks before the change on a terminal (--yes: no question; no terminal and no --yes: exit 2). "
      "Exit: 0 replayed, or already held (nothing to do), or (--dry-run) it would be; 3 refused (the receipt's "
      "body does not match its checksum, prod there serves another base version, policy, not the E3 primary, "
      "--sync not applied in time, not confirmed); 2 not a receipt, or no terminal and no --yes; 1 another "
      "failure; 4 unreachable.");
  replay->callback([&global, &exit_code, r] { exit_code = run_replay(global, *r); });

  cmd->callback([&global, &exit_code, a, cmd] {
    if (!cmd->get_subcommands().empty()) return;  // list / show / replay ran
    exit_code = run_hotfix(global, *a);
  });
}

}  // namespace rulekeeper::cli
