// rulectl entry point: global flags, verb registration, and the one place
// that turns exceptions into a one-line message and an exit code.
#include <iostream>

#include <CLI/CLI.hpp>
#include <pqxx/pqxx>

#include "cli/commands.hpp"
#include "site/config.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"

int main(int argc, char** argv) {
  using namespace rulekeeper;
  cli::GlobalOptions global;
  int exit_code = common::exit_ok;

  CLI::App app{"rulectl: the control plane of rulekeeper (sites e1, e2, ipc2, ipc1)", "rulectl"};
  // Global flags may come after the verb too (`rulectl status --json`).
  app.fallthrough();
  app.add_option("--config", global.config_file,
                 "rulectl.toml to read (default: $RULECTL_CONFIG, else ./rulectl.toml)");
  app.add_flag("--json", global.json, "stdout holds exactly one JSON document; messages go to stderr");
  app.add_flag("--yes", global.yes, "do not ask for confirmation");
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 failed, 2 usage, 3 refused, 4 a site is unreachable.");

  cli::add_status(app, global, exit_code);
  cli::add_sandbox(app, global, exit_code);
  cli::add_at_risk(app, global, exit_code);
  cli::add_compare(app, global, exit_code);
  cli::add_release(app, global, exit_code);
  cli::add_channels(app, global, exit_code);
  cli::add_hotfix(app, global, exit_code);
  cli::add_diff(app, global, exit_code);
  cli::add_failover(app, global, exit_code);
  cli::add_rejoin(app, global, exit_code);
  cli::add_reconcile(app, global, exit_code);
  cli::add_watch(app, global, exit_code);
  cli::add_keys(app, global, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and friends exit 0; every real parse error is a usage error.
    int rc = app.exit(e);
    return rc == 0 ? common::exit_ok : common::exit_usage;
  } catch (const config::ConfigError& e) {
    std::cerr << "rulectl: bad config: " << common::one_line(e.what()) << std::endl;
    return common::exit_usage;
  } catch (const common::ExitError& e) {
    std::cerr << "rulectl: " << common::one_line(e.what()) << std::endl;
    return e.code();
  } catch (const pqxx::broken_connection& e) {
    std::cerr << "rulectl: site unreachable: " << common::one_line(e.what()) << std::endl;
    return common::exit_unreachable;
  } catch (const std::exception& e) {
    std::cerr << "rulectl: " << common::one_line(e.what()) << std::endl;
    return common::exit_failed;
  } catch (...) {
    std::cerr << "rulectl: unknown error" << std::endl;
    return common::exit_failed;
  }
  return exit_code;
}
