// `rulectl diff --site S|e3 --rule K --from V --to V`: what changes from one
// version of a rule to another, as rulekeeper.diff() computes it at the site
// (RFC 6901 paths), old and new side by side (colour on a terminal). Reading
// only: any site will do, a standby too; `e3` is the E3 primary.
#include <iostream>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "cli/commands.hpp"
#include "cli/diff_render.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "site/topology.hpp"
#include "site/server_error.hpp"
#include "site/waiter.hpp"
#include "site/client/waits.hpp"
#include "rulekeeper/version_vector.hpp"

namespace rulekeeper::cli {
namespace {

using nlohmann::json;

struct DiffArgs {
  std::string site;
  std::string rule;
  std::string from;
  std::string to;
};

int run_diff(const GlobalOptions& global, const DiffArgs& args) {
  const config::Config config = load_config(global);
  site::Site site = args.site == "e3" && config.find("e3") == nullptr ? site::writer(config, "e3", "diff")
                                                                           : site::reader(config, args.site);
  json diff = json::array();
  try {
    pqxx::read_transaction tx(*site.conn);
    pqxx::result r = tx.exec_params(
        "SELECT path, op, old_value::text, new_value::text FROM rulekeeper.diff($1, $2, $3)", args.rule,
        args.from, args.to);
    for (const auto& row : r)
      diff.push_back(diff_render::entry(row[0].c_str(), row[1].c_str(), row[2].is_null() ? nullptr : row[2].c_str(),
                                        row[3].is_null() ? nullptr : row[3].c_str()));
  } catch (const pqxx::sql_error& e) {
    throw site::sql_failure(fmt::format("diff at {}", site.name()), e);
  }
  if (global.json) {
    common::print_json({{"site", site.name()}, {"rule_key", args.rule}, {"from", args.from}, {"to", args.to},
                        {"diff", diff}});
    return common::exit_ok;
  }
  std::cout << fmt::format("rule {} at {}: {} -> {}, {} path(s) differ", args.rule, site.name(), args.from,
                           args.to, diff.size())
            << std::endl;
  diff_render::print_table(std::cout, diff, args.from, args.to, diff_render::use_colour(global.json), "  ");
  return common::exit_ok;
}

}  // namespace

void add_diff(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto a = std::make_shared<DiffArgs>();
  CLI::App* cmd = app.add_subcommand("diff", "what changes between two versions of a rule (JSON paths, old and new "
                                             "side by side)");
  cmd->add_option("--site", a->site, "site to read at, or e3 for the E3 primary")->required();
  cmd->add_option("--rule", a->rule, "rule key")->required();
  cmd->add_option("--from", a->from, "version label (N or N.k): the old side")->required();
  cmd->add_option("--to", a->to, "version label (N or N.k): the new side")->required();
  cmd->footer("Exit: 0 shown (also when they differ); 1 unknown rule or version; 4 the site is unreachable.");
  cmd->callback([&global, &exit_code, a] { exit_code = run_diff(global, *a); });
}

}  // namespace rulekeeper::cli
