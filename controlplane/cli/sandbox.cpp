// `rulectl sandbox up|down|demo`: options and rendering; the sandbox itself
// (sites, marker, rulectl.toml, clusters) is sandbox/sandbox.hpp.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "sandbox/demo.hpp"
#include "sandbox/portal.hpp"
#include "sandbox/sandbox.hpp"

namespace rulekeeper::cli {
namespace {

struct SandboxOptions {
  sandbox::Options sandbox;
  std::string base = sandbox::Options().base.string();
  bool without_extension = false;
};

sandbox::Options options_of(const SandboxOptions& o) {
  sandbox::Options s = o.sandbox;
  s.base = o.base;
  s.with_extension = !o.without_extension;
  return s;
}

// Prints where the sandbox is, then its status. Returns status's exit code.
int print_sandbox(const sandbox::UpResult& up, bool json, const std::string& headline) {
  config::Config config = config::load(up.config_file.string());
  const std::string& export_line = up.export_line;
  if (json) {
    nlohmann::json status;
    int rc = report_status(config, &status);
    common::print_json({{"base", up.cluster.base.string()},
                        {"config", up.config_file.string()},
                        {"export", export_line},
                        {"portal", up.portal_url.empty() ? nlohmann::json() : nlohmann::json(up.portal_url)},
                        {"status", status}});
    std::cerr << headline << std::endl;
    return rc;
  }
  std::cout << headline << "\n  " << export_line << "\n" << sandbox::portal::hint(up.cluster.base) << "\n";
  if (!up.portal_error.empty())
    std::cerr << "rulectl: the admin portal did not start: " << up.portal_error << std::endl;
  return report_status(config, nullptr);
}

int sandbox_up(const GlobalOptions& global, const SandboxOptions& opts) {
  common::Progress progress;
  const sandbox::UpResult up = sandbox::up(options_of(opts), progress);
  const std::string base = up.cluster.base.string();
  return print_sandbox(up, global.json, (up.already_up ? "sandbox already up in " : "sandbox up in ") + base);
}

// `sandbox down` without --base: the sandbox whose rulectl.toml is the
// config in use (--config, $RULECTL_CONFIG) when that file is a sandbox's —
// the one the person has been working with — never the default directory
// behind their back (issue 15 item 24). Otherwise the default, as before.
std::string base_for_down(const GlobalOptions& global) {
  std::string config = global.config_file;
  if (config.empty())
    if (const char* env = std::getenv("RULECTL_CONFIG"); env != nullptr) config = env;
  if (config.empty()) return sandbox::Options().base.string();
  const std::filesystem::path dir = std::filesystem::absolute(config).lexically_normal().parent_path();
  if (sandbox::exists(dir)) return dir.string();
  return sandbox::Options().base.string();
}

int sandbox_down(const GlobalOptions& global, const SandboxOptions& opts) {
  common::Progress progress;
  const sandbox::Options o = options_of(opts);
  const std::string base = sandbox::cluster_options(o).base.string();
  const std::string what = sandbox::down(o, progress) == sandbox::DownResult::absent ? "no sandbox at " + base
                                                                                     : "sandbox removed from " + base;
  if (global.json)
    common::print_json({{"base", base}, {"result", what}});
  else
    std::cout << what << std::endl;
  return common::exit_ok;
}

// A fresh sandbox (the tour tells a story from an empty start), then the tour.
int sandbox_demo(const GlobalOptions& global, const SandboxOptions& opts) {
  const sandbox::Options o = options_of(opts);
  const cluster::ClusterOptions co = sandbox::cluster_options(o);
  if (sandbox::exists(co.base)) sandbox_down(global, opts);
  GlobalOptions quiet = global;
  quiet.json = false;
  int rc = sandbox_up(quiet, opts);
  if (rc != common::exit_ok) return rc;
  const bool under_patroni = o.ha == "patroni";
  return sandbox::run_demo(co.base, co, sandbox::nodes(o.port_base, o.with_ipc2b || under_patroni), under_patroni);
}

}  // namespace

void add_sandbox(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* sandbox =
      app.add_subcommand("sandbox", "local e1, e2, ipc2 and its streaming standby ipc1 on loopback, for trying things");
  sandbox->require_subcommand(1);
  auto opts = std::make_shared<SandboxOptions>();

  CLI::App* up = sandbox->add_subcommand("up", "create and start the sandbox (or start it again)");
  up->add_option("--base", opts->base, "directory for the clusters")->capture_default_str();
  up->add_flag("--without-extension", opts->without_extension,
               "plain clusters (no shared_preload_libraries, no CREATE EXTENSION)");
  CLI::Option* port_base =
      up->add_option("--port-base", opts->sandbox.port_base,
                     "ports of e1, e2, ipc2, ipc1: N, N+1, N+2, N+3 (kept in the sandbox: `down` and a "
                     "second `up` use the same)")
          ->capture_default_str();
  up->add_flag("--with-ipc2b", opts->sandbox.with_ipc2b,
               "also ipc2b (port N+4): IPC2's synchronous standby in AZ-b (synchronous_standby_names = 'ipc2b')");
  up->add_option("--ha", opts->sandbox.ha,
                 "patroni: IPC2 (ipc2 + ipc2b, synchronous_mode) and IPC1 (a standby cluster) run by Patroni with "
                 "one etcd on loopback; REST APIs on N+5 (ipc2), N+6 (ipc1), N+7 (ipc2b), etcd on N+8/N+9 "
                 "(docs/failover.md \"With Patroni\")")
      ->check(CLI::IsMember({"patroni"}));
  up->callback([&global, &exit_code, opts, port_base] {
    opts->sandbox.port_base_given = port_base->count() > 0;
    exit_code = sandbox_up(global, *opts);
  });

  CLI::App* demo = sandbox->add_subcommand(
      "demo",
      "a narrated tour on a fresh sandbox: author, test, release, SL1-SL4, cutover, hotfix, drift, "
      "failover with an orphan, rejoin, reconcile, compare (the sandbox keeps running)");
  demo->add_option("--base", opts->base, "directory for the clusters")->capture_default_str();
  demo->add_option("--port-base", opts->sandbox.port_base, "ports of e1, e2, ipc2, ipc1: N .. N+3")
      ->capture_default_str();
  demo->add_option("--ha", opts->sandbox.ha,
                   "patroni: the tour on `sandbox up --ha patroni` (Patroni fails over inside IPC2; failover and "
                   "rejoin through Patroni)")
      ->check(CLI::IsMember({"patroni"}));
  demo->callback([&global, &exit_code, opts] {
    opts->sandbox.port_base_given = true;
    exit_code = sandbox_demo(global, *opts);
  });

  CLI::App* down = sandbox->add_subcommand("down", "stop every sandbox node and remove its directory");
  CLI::Option* down_base = down->add_option(
      "--base", opts->base,
      "directory of the clusters (default: the sandbox of --config / $RULECTL_CONFIG when it is one, else " +
          sandbox::Options().base.string() + ")");
  down->callback([&global, &exit_code, opts, down_base] {
    if (down_base->count() == 0) opts->base = base_for_down(global);
    exit_code = sandbox_down(global, *opts);
  });
}

}  // namespace rulekeeper::cli
