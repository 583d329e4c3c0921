// `rulectl release --from S --to S|e3`: options, ops::release, and the
// report as text or --json (ops/release.hpp says what a release does).
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/confirmation.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "common/text.hpp"
#include "ops/release.hpp"
#include "rulekeeper/lifecycle.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

struct ReleaseArgs {
  std::string from;
  std::string to;
  std::vector<std::string> rules;
  std::string expected_checksum;
  bool allow_dr_site = false;
  bool dry_run = false;
  double wait_seconds = 0;
  CLI::Option* wait_option = nullptr;
  CLI::Option* expected_option = nullptr;
};

std::string short_sum(const std::optional<std::string>& v) { return v ? common::abbreviate(*v, 16) : "-"; }

std::string annotation_text(const json& annotations) {
  if (!annotations.is_object() || annotations.empty()) return "";
  std::vector<std::string> labels;
  if (annotations.contains("hotfixes") && annotations["hotfixes"].is_array())
    for (const auto& h : annotations["hotfixes"])
      labels.push_back(h.value("label", std::string("?")) + " " + h.value("classification", std::string("?")));
  std::string s = "hotfix_included " + annotations.value("hotfix_included", std::string("?"));
  if (!labels.empty()) s += fmt::format(" (hotfixes: {})", fmt::join(labels, ", "));
  if (annotations.value("needs_manual_verification", false)) s += "; needs manual verification";
  return s;
}

void print_report(const ops::ReleaseReport& r) {
  if (!r.import) {
    std::cout << r.summary << std::endl;
    return;
  }
  const auto& report = *r.import;
  if (r.dry_run) std::cout << "dry run: the import below was rolled back; nothing was changed anywhere\n";
  std::cout << fmt::format("release {} ({}) -> {} ({}): {} {}, {} already there\n", r.source, r.source_environment,
                           r.target, r.target_environment, report.imported,
                           r.dry_run ? "would be imported" : "imported", report.skipped);
  std::cout << fmt::format("checksum at {}: before {}  after {}  ({})\n", r.target, short_sum(report.pre_checksum),
                           short_sum(report.post_checksum), report.algorithm.value_or("?"));
  if (report.unsigned_warning)
    std::cout << "WARNING: " << common::one_line(*report.unsigned_warning) << "\n";
  else if (report.signed_by)
    std::cout << fmt::format("signature: verified at {}, key {}\n", r.target, report.signed_by->substr(0, 16));
  if (report.drift)
    std::cout << fmt::format(
        "DRIFT: {} changed since the last release ({}); the release {}, "
        "annotated\n",
        r.target,
        report.drifted_rules.empty() ? std::string("no rule identified")
                                     : fmt::format("{}", fmt::join(report.drifted_rules, ", ")),
        r.dry_run ? "would go through" : "went through");
  else
    std::cout << "drift: none\n";
  common::Table t({"rule", "version", "status", "annotation"});
  for (const auto& v : r.versions)
    t.add_row({v.rule_key, v.label, v.already_there ? "already there" : (r.dry_run ? "would be imported" : "imported"),
               annotation_text(v.annotations)});
  t.print(std::cout);
  if (r.dry_run)
    std::cout << fmt::format("{} version(s) would be marked {} at {}\n", r.versions.size(), released_qualification(),
                             r.source);
  else
    std::cout << fmt::format("{} version(s) marked {} at {}\n", r.promoted, released_qualification(), r.source);
  std::cout << r.summary << std::endl;
}

int run_release(const GlobalOptions& global, const ReleaseArgs& args) {
  ops::ReleaseRequest request{args.from,          args.to,      args.rules,   std::nullopt,
                              args.allow_dr_site, std::nullopt, args.dry_run, {}};
  if (!global.yes)
    request.confirm = [&global](const ops::ProductionPlan& p) {
      confirm(global, Plan{"rulectl release", p.summary, p.lines});
    };
  if (args.expected_option->count() > 0) request.expected_checksum = args.expected_checksum;
  if (args.wait_option->count() > 0) request.wait_replicated_seconds = args.wait_seconds;
  // Before the config is even read: nothing is sent with a malformed checksum.
  ops::check_expected_checksum(request.expected_checksum);

  const config::Config config = load_config(global);
  if (args.dry_run && !global.json)
    std::cout << fmt::format(
                     "dry run: rulectl release --from {} --to {} (the import runs in a transaction that is "
                     "rolled back)",
                     args.from, args.to)
              << std::endl;
  ops::ReleaseReport report;
  try {
    report = ops::release(config, request, common::Progress());
  } catch (const common::ExitError&) {
    if (args.dry_run && !global.json)
      std::cout << "dry run: refused, as the real run would be; nothing was changed" << std::endl;
    throw;
  }
  if (global.json) {
    common::print_json(report.to_json());
    if (report.exit_code != common::exit_ok) std::cerr << "rulectl: " << report.summary << std::endl;
  } else {
    print_report(report);
    if (args.dry_run && !report.import) std::cout << "dry run: nothing was changed" << std::endl;
  }
  return report.exit_code;
}

}  // namespace

void add_release(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto args = std::make_shared<ReleaseArgs>();
  CLI::App* cmd = app.add_subcommand(
      "release", "carry versions one environment forward: export at --from, import at --to, mark them promoted");
  cmd->add_option("--from", args->from, "source site (e1 or e2 environment)")->required();
  cmd->add_option("--to", args->to, "target site, or e3 for the E3 primary")->required();
  cmd->add_option("--rule", args->rules, "only these rules (repeat the flag)");
  args->expected_option =
      cmd->add_option("--expected-checksum", args->expected_checksum,
                      "the target's snapshot checksum you expect before the import, 64 lowercase hex digits "
                      "(a mismatch is drift: reported, not refused)");
  cmd->add_flag("--dry-run", args->dry_run,
                "export, then import in a transaction at the target that is rolled back: report what would be "
                "imported, the signature, drift; nothing is changed at either site, nothing asked");
  cmd->add_flag("--allow-dr-site", args->allow_dr_site,
                "allow a planned release to the site marked dr while it acts as the E3 primary");
  args->wait_option = cmd->add_option("--wait-replicated", args->wait_seconds,
                                      "after the commit, wait up to SECONDS until every other E3 site holds the "
                                      "release (exit 3 if one does not)")
                          ->check(CLI::NonNegativeNumber);
  cmd->footer(
      "Exit: 0 committed (drift is reported, not refused); 3 refused: a tampered bundle, a wrong environment, a "
      "label with different content at the target, a standby or split-brain target, the DR site without "
      "--allow-dr-site, not confirmed at the question (a release into E3), or --wait-replicated ran out; 2 usage "
      "(e.g. an --expected-checksum that is not 64 lowercase hex digits: nothing is sent), or a release into E3 "
      "without --yes and no terminal to ask on (nothing changed); 4 a site is unreachable; 1 any other failure.");
  cmd->callback([&global, &exit_code, args] { exit_code = run_release(global, *args); });
}

}  // namespace rulekeeper::cli
