// `rulectl node standby`: ops/node.hpp — run on a site's own host (a
// standby_command template in rulectl.toml runs it there, e.g. through ssh).
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "ops/node.hpp"

namespace rulekeeper::cli {

void add_node(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* node =
      app.add_subcommand("node",
                         "on a site's own host: what rulectl.toml's command templates run there (docs/ha-managers.md)");
  node->require_subcommand(1);
  auto request = std::make_shared<ops::NodeStandbyRequest>();
  auto conf_file = std::make_shared<std::string>();
  CLI::App* standby = node->add_subcommand(
      "standby",
      "make a STOPPED node a standby of an upstream: primary_conninfo and primary_slot_name in its settings file "
      "(empty values: no upstream), standby.signal (a standby_command: rulectl node standby --pgdata DIR "
      "--conf-file FILE --primary-conninfo {primary_conninfo} --slot {slot_name})");
  standby->add_option("--pgdata", request->pgdata, "the node's data directory")->required();
  standby->add_option("--conf-file", *conf_file, "the node's own settings file (default: PGDATA/postgresql.auto.conf)");
  standby->add_option("--primary-conninfo", request->primary_conninfo, "whom it follows ('' : no upstream)")
      ->required();
  standby->add_option("--slot", request->slot_name, "its slot at the upstream ('' : none)")->required();
  standby->callback([&global, &exit_code, request, conf_file] {
    if (!conf_file->empty()) request->conf_file = *conf_file;
    const std::string file = ops::node_standby(*request);
    if (global.json)
      common::print_json({{"pgdata", request->pgdata},
                          {"settings_file", file},
                          {"primary_conninfo", request->primary_conninfo},
                          {"slot_name", request->slot_name}});
    else
      std::cout << fmt::format("{}: standby.signal; {} in {}", request->pgdata,
                               request->primary_conninfo.empty() ? "no upstream" : "primary_conninfo set", file)
                << std::endl;
    exit_code = common::exit_ok;
  });
}

}  // namespace rulekeeper::cli
