// `rulectl release --from S --to S|e3`: options, ops::release, and the
// report as text or --json (ops/release.hpp says what a release does).
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
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
  std::cout << fmt::format("release {} ({}) -> {} ({}): {} imported, {} already there\n", r.source,
                           r.source_environment, r.target, r.target_environment, report.imported, report.skipped);
  std::cout << fmt::format("checksum at {}: before {}  after {}  ({})\n", r.target, short_sum(report.pre_checksum),
                           short_sum(report.post_checksum), report.algorithm.value_or("?"));
  if (report.unsigned_warning)
    std::cout << "WARNING: " << common::one_line(*report.unsigned_warning) << "\n";
  else if (report.signed_by)
    std::cout << fmt::format("signature: verified at {}, key {}\n", r.target, report.signed_by->substr(0, 16));
  if (report.drift)
    std::cout << fmt::format(
        "DRIFT: {} changed since the last release ({}); the release went through, "
        "annotated\n",
        r.target,
        report.drifted_rules.empty() ? std::string("no rule identified")
                                     : fmt::format("{}", fmt::join(report.drifted_rules, ", ")));
  else
    std::cout << "drift: none\n";
  common::Table t({"rule", "version", "status", "annotation"});
  for (const auto& v : r.versions)
    t.add_row({v.rule_key, v.label, v.already_there ? "already there" : "imported", annotation_text(v.annotations)});
  t.print(std::cout);
  std::cout << fmt::format("{} version(s) marked {} at {}\n", r.promoted, released_qualification(), r.source);
  std::cout << r.summary << std::endl;
}

int run_release(const GlobalOptions& global, const ReleaseArgs& args) {
  ops::ReleaseRequest request{args.from, args.to, args.rules, std::nullopt, args.allow_dr_site, std::nullopt};
  if (args.expected_option->count() > 0) request.expected_checksum = args.expected_checksum;
  if (args.wait_option->count() > 0) request.wait_replicated_seconds = args.wait_seconds;
  // Before the config is even read: nothing is sent with a malformed checksum.
  ops::check_expected_checksum(request.expected_checksum);

  const config::Config config = load_config(global);
  const ops::ReleaseReport report = ops::release(config, request, common::Progress());
  if (global.json) {
    common::print_json(report.to_json());
    if (report.exit_code != common::exit_ok) std::cerr << "rulectl: " << report.summary << std::endl;
  } else {
    print_report(report);
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
  cmd->add_flag("--allow-dr-site", args->allow_dr_site,
                "allow a planned release to the site marked dr while it acts as the E3 primary");
  args->wait_option = cmd->add_option("--wait-replicated", args->wait_seconds,
                                      "after the commit, wait up to SECONDS until every other E3 site holds the "
                                      "release (exit 3 if one does not)")
                          ->check(CLI::NonNegativeNumber);
  cmd->footer(
      "Exit: 0 committed (drift is reported, not refused); 3 refused: a tampered bundle, a wrong environment, a "
      "label with different content at the target, a standby or split-brain target, the DR site without "
      "--allow-dr-site, or --wait-replicated ran out; 2 usage (e.g. an --expected-checksum that is not 64 "
      "lowercase hex digits: nothing is sent); 4 a site is unreachable; 1 any other failure.");
  cmd->callback([&global, &exit_code, args] { exit_code = run_release(global, *args); });
}

}  // namespace rulekeeper::cli
