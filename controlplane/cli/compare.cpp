// `rulectl compare A B [--scope all|prod|sl]`: options, ops::compare
// (how the sites are compared is there), and the differences as a table or
// --json.
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/output.hpp"
#include "ops/compare.hpp"
#include "rulekeeper/lifecycle.hpp"

namespace rulekeeper::cli {
namespace {

void print_report(const ops::CompareReport& r) {
  if (r.equal()) {
    std::cout << fmt::format("{} and {} are equal (scope {}): snapshot checksum {}\n", r.a, r.b, r.scope, r.checksum_a);
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
      "site-to-site difference via snapshot checksum, bucket sums, then only the differing buckets' rules "
      "(exit 0 equal, 3 different, 4 a site is unreachable)");
  cmd->add_option("A", request->a, "first site")->required();
  cmd->add_option("B", request->b, "second site")->required();
  std::vector<std::string> scopes{"all"};
  for (std::string_view c : channels()) scopes.emplace_back(c);
  cmd->add_option("--scope", request->scope, "all (every version), prod or sl (the activated versions)")
      ->check(CLI::IsMember(scopes))
      ->capture_default_str();
  cmd->callback([&global, &exit_code, request] { exit_code = run_compare(global, *request); });
}

}  // namespace rulekeeper::cli
