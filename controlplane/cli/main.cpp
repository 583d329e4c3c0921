// rulectl entry point: global flags, verb registration, and the one place
// that turns exceptions into a one-line message (and, with --json, one JSON
// document on stdout) and an exit code.
#include <algorithm>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <pqxx/pqxx>

#include "cli/commands.hpp"
#include "cli/error_report.hpp"
#include "common/application_name.hpp"
#include "common/errors.hpp"
#include "common/terminal.hpp"
#include "common/text.hpp"
#include "site/config.hpp"
#include "site/extension_check.hpp"

namespace {

using namespace rulekeeper;

// The verb path of a parsed command line: "rulectl hotfix list".
std::string verb_path(const CLI::App& app) {
  std::string path = "rulectl";
  const CLI::App* at = &app;
  while (true) {
    const auto subs = at->get_subcommands();
    if (subs.empty()) break;
    at = subs.front();
    path += " " + at->get_name();
  }
  return path;
}

// The first word of the command line that is not a global flag (or its
// value): the verb, if any.
std::optional<std::size_t> verb_position(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--config") {
      ++i;
      continue;
    }
    if (a.rfind("-", 0) == 0) continue;
    return i;
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  // Whatever a code path prints from the database, no control sequence but
  // rulectl's own colours reaches the terminal (common/terminal.hpp).
  const common::TerminalGuard stdout_guard(std::cout);
  const common::TerminalGuard stderr_guard(std::cerr);
  cli::GlobalOptions global;
  int exit_code = common::exit_ok;

  std::vector<std::string> args(argv + 1, argv + argc);
  // --json is known before parsing, so that even a usage error is one JSON
  // document for a script.
  global.json = std::find(args.begin(), args.end(), "--json") != args.end();
  cli::ErrorReport errors(global.json);

  CLI::App app{"rulectl: the control plane of rulekeeper (sites e1, e2, ipc2, ipc1)", "rulectl"};
  // Global flags may come after the verb too (`rulectl status --json`).
  app.fallthrough();
  app.add_option("--config", global.config_file,
                 "rulectl.toml to read (default: $RULECTL_CONFIG, else ./rulectl.toml)");
  app.add_flag("--json", global.json, "stdout holds exactly one JSON document; messages go to stderr");
  app.add_flag("--yes", global.yes, "do not ask for confirmation");
  app.add_flag("--version", "rulectl's version (the same as `rulectl version`)");
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
  cli::add_rules(app, global, exit_code);
  cli::add_portal(app, global, exit_code);
  cli::add_patroni_callback(app, global, exit_code);
  cli::add_notify(app, global, exit_code);
  cli::add_version(app, global, exit_code);
  cli::add_node(app, global, exit_code);

  // Connections carry "rulectl <verb>" as application_name; the name is known
  // once parsing completes, before any verb's callback runs.
  // Which verbs refuse a site at another extension version and which only
  // report it (site/extension_check.hpp): status, version and watch show an
  // upgrade half done; every other verb reads or writes through the SQL API
  // of the version this rulectl drives, and refuses.
  app.parse_complete_callback([&app] {
    const std::string path = verb_path(app);
    common::set_application_name(path);
    const bool reports = path == "rulectl status" || path == "rulectl version" || path == "rulectl watch";
    site::set_extension_check(reports ? site::ExtensionCheck::report : site::ExtensionCheck::refuse);
  });

  const auto verb = verb_position(args);
  if (!verb && std::find(args.begin(), args.end(), "--version") != args.end()) args.push_back("version");
  if (verb) {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), args[*verb]) == names.end())
      return errors.report(common::ExitError(common::exit_usage, cli::unknown_command_message(args[*verb], names)));
  }

  try {
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? common::exit_ok : common::exit_usage;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e) == 0 ? common::exit_ok : common::exit_usage;
  } catch (const CLI::ParseError& e) {
    // Every real parse error is a usage error.
    if (e.get_exit_code() == 0) return common::exit_ok;
    return errors.report(common::ExitError(common::exit_usage, e.what()));
  } catch (const config::ConfigError& e) {
    return errors.report(common::ExitError(common::exit_usage, std::string("bad config: ") + e.what()));
  } catch (const common::ExitError& e) {
    return errors.report(e);
  } catch (const pqxx::broken_connection& e) {
    return errors.report(common::ExitError(common::exit_unreachable, std::string("site unreachable: ") + e.what()));
  } catch (const std::exception& e) {
    return errors.report(common::ExitError(common::exit_failed, e.what()));
  } catch (...) {
    return errors.report(common::ExitError(common::exit_failed, "unknown error"));
  }
  return exit_code;
}
