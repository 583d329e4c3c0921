// `rulectl patroni-callback ACTION ROLE CLUSTER`: the on_role_change (and
// on_start/on_stop) callback a Patroni configuration names
// (docs/failover.md "With Patroni"). Records the change in rulectl's state
// (ops/patroni.hpp) and says it on stderr, which Patroni keeps in its log.
#include <cstdlib>
#include <iostream>

#include "cli/commands.hpp"
#include "ops/patroni.hpp"

namespace rulekeeper::cli {

void add_patroni_callback(CLI::App& app, GlobalOptions& global, int& exit_code) {
  struct Options {
    ops::patroni::RoleChange change;
    std::string state_dir;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd =
      app.add_subcommand("patroni-callback",
                         "Patroni's on_role_change callback: record the role change Patroni made in rulectl's state "
                         "(<state_dir>/patroni-role-changes.jsonl) and on stderr (Patroni's log)");
  cmd->add_option("action", o->change.action, "what Patroni did (on_role_change, on_start, on_stop, ...)")->required();
  cmd->add_option("role", o->change.role, "the member's new role")->required();
  cmd->add_option("cluster", o->change.cluster, "the Patroni cluster (scope)")->required();
  cmd->add_option("--member", o->change.member, "the member's name (default: $PATRONI_NAME if set)");
  cmd->add_option("--state-dir", o->state_dir, "where to record it (default: rulectl.toml's state_dir)");
  cmd->footer("Exit: 0 recorded; 2 usage or config; 1 the record could not be written.");
  cmd->callback([&global, &exit_code, o] {
    if (o->change.member.empty())
      if (const char* n = std::getenv("PATRONI_NAME")) o->change.member = n;
    const std::string dir = o->state_dir.empty() ? load_config(global).state_dir : o->state_dir;
    const nlohmann::json line = ops::patroni::record_role_change(dir, o->change);
    std::cerr << "rulectl patroni-callback: " << line.dump() << std::endl;
    if (global.json) std::cout << line.dump() << std::endl;
    exit_code = 0;
  });
}

}  // namespace rulekeeper::cli
