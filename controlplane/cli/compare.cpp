// `rulectl compare A B [--scope all|prod|sl]`: options, ops::compare
// (how the sites are compared is there), and the differences as a table or
// --json.
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/output.hpp"
#include "common/text.hpp"
#include "ops/compare.hpp"
#include "rulekeeper/lifecycle.hpp"

namespace rulekeeper::cli {
namespace {

// The history half (docs/tamper-evidence.md): chain heads and verify_history().
void print_history(const ops::CompareReport& r) {
  std::size_t tampered = 0;
  for (const auto& c : r.chains) tampered += c.tampered() ? 1 : 0;
  if (tampered == 0)
    std::cout << fmt::format("journal chains: every origin both hold is the same chain ({} origins on {}, {} on {})\n",
                             r.origins_a, r.a, r.origins_b, r.b);
  else
    std::cout << fmt::format("journal chains DIFFER: {} origin{} whose history is not the same on {} and {}\n",
                             tampered, tampered == 1 ? "" : "s", r.a, r.b);
  if (!r.chains.empty()) {
    common::Table t({"origin", r.a + " seq", r.b + " seq", "finding"});
    for (const auto& c : r.chains)
      t.add_row({common::one_line(c.origin), std::to_string(c.seq_a), std::to_string(c.seq_b),
                 c.finding == "differs" ? fmt::format("differs at seq {}", c.at_seq) : c.finding});
    t.print(std::cout);
  }
  if (!r.history_verified) {
    std::cout << "history: verify_history() not run (--no-verify-history); chain heads compared only\n";
    return;
  }
  for (const auto& [site, problems] : {std::pair{&r.a, &r.history_a}, std::pair{&r.b, &r.history_b}}) {
    if (problems->empty()) {
      std::cout << fmt::format("history at {}: intact (verify_history found nothing)\n", *site);
      continue;
    }
    std::cout << fmt::format("history at {}: {} finding{} of verify_history\n", *site, problems->size(),
                             problems->size() == 1 ? "" : "s");
    common::Table t({"problem", "origin", "seq", "rule", "label", "detail"});
    for (const auto& p : *problems)
      t.add_row({p.problem, common::one_line(p.origin), p.origin.empty() ? "" : std::to_string(p.origin_seq),
                 common::one_line(p.rule_key), common::one_line(p.label), common::one_line(p.detail)});
    t.print(std::cout);
  }
}

void print_report(const ops::CompareReport& r) {
  if (r.checksums_equal()) {
    std::cout << fmt::format("{} and {} {} (scope {}): snapshot checksum {}\n", r.a, r.b,
                             r.equal() ? "are equal" : "hold the same versions", r.scope, r.checksum_a);
    print_history(r);
    return;
  }
  std::cout << fmt::format("{} and {} differ (scope {}): {} of 4096 buckets, {} rule{}\n", r.a, r.b, r.scope,
                           r.differing_buckets.size(), r.rules.size(), r.rules.size() == 1 ? "" : "s");
  auto join = [](const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ",")); };
  common::Table t({"rule", r.a + " holds", r.b + " holds", "only on " + r.a, "only on " + r.b, "content differs"});
  for (const auto& d : r.rules)
    t.add_row(
        {d.rule_key, join(d.labels_a), join(d.labels_b), join(d.only_a), join(d.only_b), join(d.content_differs)});
  t.print(std::cout);
  print_history(r);
}

int run_compare(const GlobalOptions& global, const ops::CompareRequest& request) {
  const config::Config config = load_config(global);
  const ops::CompareReport report = ops::compare(config, request);
  if (global.json)
    common::print_json(report.to_json());
  else
    print_report(report);
  return report.exit_code();
}

}  // namespace

void add_compare(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto request = std::make_shared<ops::CompareRequest>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "site-to-site difference via snapshot checksum, bucket sums, then only the differing buckets' rules; "
      "and the history: each journal origin's chain head side by side and verify_history() on both sites "
      "(exit 0 equal, 3 different or history altered, 4 a site is unreachable)");
  cmd->add_option("A", request->a, "first site")->required();
  cmd->add_option("B", request->b, "second site")->required();
  std::vector<std::string> scopes{"all"};
  for (std::string_view c : channels()) scopes.emplace_back(c);
  cmd->add_option("--scope", request->scope, "all (every version), prod or sl (the activated versions)")
      ->check(CLI::IsMember(scopes))
      ->capture_default_str();
  cmd->add_flag_callback(
      "--no-verify-history", [request] { request->verify_history = false; },
      "compare the journal chain heads only, without verify_history() at both sites (which reads every journal "
      "entry: about 1.5 s per 100,000)");
  cmd->callback([&global, &exit_code, request] { exit_code = run_compare(global, *request); });
}

}  // namespace rulekeeper::cli
