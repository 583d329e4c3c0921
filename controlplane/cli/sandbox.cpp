// `rulectl sandbox up|down`: the embedded default topology on loopback —
// e1, e2, ipc2 (E3 primary) and ipc1 (its streaming standby, the DR site) —
// built with the same cluster fixture the integration tests use.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "sandbox/cluster.hpp"
#include "cli/commands.hpp"
#include "sandbox/demo.hpp"
#include "common/errors.hpp"
#include "common/output.hpp"
#include "pgnode/process.hpp"

namespace fs = std::filesystem;

namespace rulekeeper::cli {
namespace {

// Written first and checked by `down`: we only ever remove a directory that a
// sandbox `up` made, never an arbitrary --base. It also records the port base,
// so that `down` and a second `up` find the same ports.
constexpr const char* kMarker = ".rulectl-sandbox";
constexpr int kDefaultPortBase = 54311;

struct SandboxSite {
  const char* site;
  const char* environment;
  int port_offset;         // port = port base + offset
  const char* standby_of;  // nullptr: a primary
  bool optional = false;   // ipc2b: only with `up --with-ipc2b`
};

// Order matters: primaries before the standby that copies one.
constexpr SandboxSite kSites[] = {
    {"e1", "e1", 0, nullptr},
    {"e2", "e2", 1, nullptr},
    {"ipc2", "e3", 2, nullptr},
    {"ipc1", "e3", 3, "ipc2"},
    // IPC2's synchronous standby in AZ-b (synchronous_standby_names = 'ipc2b').
    {"ipc2b", "e3", 4, "ipc2", true},
};

struct SandboxOptions {
  std::string base = "/tmp/rulekeeper-sandbox";
  bool without_extension = false;
  int port_base = kDefaultPortBase;
  bool port_base_given = false;  // set from CLI11's count() in the callback
  bool with_ipc2b = false;       // add ipc2b, IPC2's synchronous standby in AZ-b
};

cluster::NodeOptions node_options(const SandboxSite& s, int port_base) {
  cluster::NodeOptions o;
  o.site = s.site;
  o.environment = s.environment;
  o.port = port_base + s.port_offset;
  return o;
}

void write_marker(const fs::path& marker, int port_base) {
  std::ofstream out(marker, std::ios::trunc);
  out << "made by rulectl sandbox up\nport_base = " << port_base << "\n";
  if (!out.flush()) throw std::runtime_error("cannot write " + marker.string());
}

// The port base recorded in the marker; a marker from before --port-base
// existed has none: the default.
int read_marker_port_base(const fs::path& marker) {
  std::ifstream in(marker);
  std::string line;
  while (std::getline(in, line)) {
    const std::string key = "port_base = ";
    if (line.rfind(key, 0) == 0) {
      try {
        return std::stoi(line.substr(key.size()));
      } catch (const std::exception&) {
        throw common::ExitError(common::exit_failed, fmt::format("{}: unreadable line '{}'", marker.string(), line));
      }
    }
  }
  return kDefaultPortBase;
}

cluster::ClusterOptions cluster_options(const SandboxOptions& opts) {
  cluster::ClusterOptions co;
  co.base = fs::absolute(opts.base).lexically_normal();
  co.with_extension = !opts.without_extension;
  return co;
}

// pg_ctl invocations a person (or rulectl failover/rejoin) can run by hand.
std::string pg_ctl_command(const cluster::Node& n, bool start) {
  std::vector<std::string> argv;
  if (process::running_as_root()) argv = {"runuser", "-u", "postgres", "--"};
  argv.push_back((fs::path(n.cluster_options().bindir) / "pg_ctl").string());
  argv.insert(argv.end(), {"-D", n.data_dir().string()});
  if (start) {
    argv.insert(argv.end(), {"-l", n.log_file().string(), "-w", "-o",
                             "-c config_file=" + process::shell_quote(n.conf_file().string()), "start"});
  } else {
    argv.insert(argv.end(), {"-m", "fast", "-w", "stop"});
  }
  return process::quote_command(argv);
}

void write_toml(const cluster::ClusterOptions& co, const std::vector<cluster::Node*>& nodes,
                const fs::path& path) {
  toml::table sites;
  for (const cluster::Node* n : nodes) {
    toml::table t;
    t.insert("conninfo", fmt::format("host=127.0.0.1 port={} user=postgres dbname={}", n->port(),
                                     co.database));
    t.insert("environment", n->environment());
    if (n->site() == "ipc1") t.insert("dr", true);
    t.insert("pgdata", n->data_dir().string());
    t.insert("start_command", pg_ctl_command(*n, true));
    t.insert("stop_command", pg_ctl_command(*n, false));
    t.insert("bindir", co.bindir);
    // Where failover/rejoin rewrite primary_conninfo/primary_slot_name.
    t.insert("conf_file", n->conf_file().string());
    sites.insert(n->site(), std::move(t));
  }
  toml::table root;
  root.insert("rulectl", toml::table{{"state_dir", (co.base / "state").string()}});
  root.insert("sites", std::move(sites));
  std::ofstream out(path, std::ios::trunc);
  out << "# rulectl.toml of the sandbox made by `rulectl sandbox up`.\n"
         "# Remove everything with `rulectl sandbox down --base "
      << process::shell_quote(co.base.string()) << "`.\n\n"
      << root << "\n";
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

// Prints where the sandbox is, then its status. Returns status's exit code.
int print_sandbox(const cluster::ClusterOptions& co, bool json, const std::string& headline) {
  const fs::path toml_path = co.base / "rulectl.toml";
  config::Config config = config::load(toml_path.string());
  const std::string export_line = "export RULECTL_CONFIG=" + process::shell_quote(toml_path.string());
  if (json) {
    nlohmann::json status;
    int rc = report_status(config, &status);
    common::print_json({{"base", co.base.string()},
                        {"config", toml_path.string()},
                        {"export", export_line},
                        {"status", status}});
    std::cerr << headline << std::endl;
    return rc;
  }
  std::cout << headline << "\n  " << export_line << "\n\n";
  return report_status(config, nullptr);
}

void stop_node(cluster::Node& n) {
  if (!n.running()) return;
  try {
    n.stop(cluster::StopMode::immediate);
  } catch (const std::exception&) {
    n.kill9();
  }
}

int sandbox_up(const GlobalOptions& global, const SandboxOptions& opts) {
  common::Progress progress;
  const cluster::ClusterOptions co = cluster_options(opts);
  const fs::path marker = co.base / kMarker;
  const fs::path toml_path = co.base / "rulectl.toml";

  if (opts.port_base < 1024 || opts.port_base > 65535 - 4)
    throw common::ExitError(common::exit_usage, fmt::format("--port-base {}: must be between 1024 and 65531", opts.port_base));
  if (fs::exists(marker) && fs::exists(toml_path)) {
    const int port_base = read_marker_port_base(marker);
    if (opts.port_base_given && opts.port_base != port_base)
      throw common::ExitError(common::exit_refused, fmt::format("the sandbox in {} already uses ports {}..{}; not moving it to "
                                            "--port-base {} (run `rulectl sandbox down --base {}` first)",
                                            co.base.string(), port_base, port_base + 3, opts.port_base,
                                            process::shell_quote(co.base.string())));
    progress.step("sandbox already up at " + co.base.string() + "; making sure every node runs");
    for (const auto& s : kSites) {
      cluster::Node n(co, node_options(s, port_base));
      if (s.optional && !fs::exists(n.data_dir())) continue;  // ipc2b was not asked for
      if (!n.running()) {
        progress.step(fmt::format("starting {} (port {})", s.site, n.port()));
        n.start();
      }
    }
    return print_sandbox(co, global.json, "sandbox already up in " + co.base.string());
  }
  if (co.with_extension && !cluster::extension_installed())
    throw common::ExitError(common::exit_failed,
                fmt::format("the rulekeeper extension is not installed (no rulekeeper.so in {}): "
                            "build and `cmake --install` it first, or pass --without-extension",
                            RULEKEEPER_PG_PKGLIBDIR));
  if (fs::exists(co.base) && !fs::is_empty(co.base) && !fs::exists(marker))
    throw common::ExitError(common::exit_refused, fmt::format("{} exists and was not made by `rulectl sandbox up`; "
                                          "choose another --base or remove it yourself",
                                          co.base.string()));
  if (fs::exists(marker)) {
    // An earlier `up` died half-way: nothing in it is worth keeping.
    progress.step("removing a half-made sandbox in " + co.base.string());
    const int old_base = read_marker_port_base(marker);
    for (auto it = std::rbegin(kSites); it != std::rend(kSites); ++it) {
      cluster::Node n(co, node_options(*it, old_base));
      stop_node(n);
    }
    fs::remove_all(co.base);
  }

  // Until keep() below, a failure tears down whatever was started.
  cluster::ClusterSet set(co, cluster::ClusterSet::Teardown::destroy);
  write_marker(marker, opts.port_base);
  std::vector<cluster::Node*> nodes;
  for (const auto& s : kSites) {
    if (s.optional && !opts.with_ipc2b) continue;
    cluster::Node& n = set.add(node_options(s, opts.port_base));
    if (s.standby_of == nullptr) {
      progress.step(fmt::format("initdb and start {} (port {}, {})", s.site, n.port(), s.environment));
      n.init_primary();
      progress.step(fmt::format("create database {}{} on {}", co.database,
                                co.with_extension ? " and extension rulekeeper" : "", s.site));
      n.create_database();
    } else {
      // The database and extension already exist on the primary, so the
      // base backup carries them.
      cluster::Node& primary = set.node(s.standby_of);
      progress.step(fmt::format("base backup of {} into {} (port {}), slot '{}', start streaming",
                                s.standby_of, s.site, n.port(), s.site));
      n.init_standby_of(primary);
      n.wait_replayed(primary);
      n.wait_ready();
      if (std::string(s.site) == "ipc2b") {
        // Every acknowledged commit at ipc2 is in both AZs from now on.
        progress.step("make ipc2b ipc2's synchronous standby (synchronous_standby_names = 'ipc2b')");
        primary.options().synchronous_standby_names = "ipc2b";
        primary.write_config();
        primary.exec("SELECT pg_reload_conf()", "postgres");
      }
    }
    nodes.push_back(&n);
  }
  write_toml(co, nodes, toml_path);
  set.set_teardown(cluster::ClusterSet::Teardown::keep);
  progress.step("sandbox up");
  return print_sandbox(co, global.json, "sandbox up in " + co.base.string());
}

int sandbox_down(const GlobalOptions& global, const SandboxOptions& opts) {
  common::Progress progress;
  const cluster::ClusterOptions co = cluster_options(opts);
  auto report = [&](const std::string& what) {
    if (global.json)
      common::print_json({{"base", co.base.string()}, {"result", what}});
    else
      std::cout << what << std::endl;
  };
  if (!fs::exists(co.base)) {
    report("no sandbox at " + co.base.string());
    return common::exit_ok;
  }
  if (!fs::exists(co.base / kMarker))
    throw common::ExitError(common::exit_refused, fmt::format("{} was not made by `rulectl sandbox up` (no {}); not removing it",
                                          co.base.string(), kMarker));
  // The ports the sandbox was made with, whatever --port-base says now.
  const int port_base = read_marker_port_base(co.base / kMarker);
  for (auto it = std::rbegin(kSites); it != std::rend(kSites); ++it) {
    cluster::Node n(co, node_options(*it, port_base));
    if (n.running()) {
      progress.step(fmt::format("stopping {}", it->site));
      stop_node(n);
    }
  }
  progress.step("removing " + co.base.string());
  fs::remove_all(co.base);
  report("sandbox removed from " + co.base.string());
  return common::exit_ok;
}

// A fresh sandbox (the tour tells a story from an empty start), then the tour.
int sandbox_demo(const GlobalOptions& global, SandboxOptions opts) {
  const cluster::ClusterOptions co = cluster_options(opts);
  if (fs::exists(co.base / kMarker)) sandbox_down(global, opts);
  GlobalOptions quiet = global;
  quiet.json = false;
  int rc = sandbox_up(quiet, opts);
  if (rc != common::exit_ok) return rc;
  std::vector<cluster::NodeOptions> nodes;
  for (const auto& s : kSites)
    if (!s.optional || opts.with_ipc2b) nodes.push_back(node_options(s, opts.port_base));
  return run_demo(co.base, co, nodes);
}

}  // namespace

void add_sandbox(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* sandbox = app.add_subcommand(
      "sandbox", "local e1, e2, ipc2 and its streaming standby ipc1 on loopback, for trying things");
  sandbox->require_subcommand(1);
  auto opts = std::make_shared<SandboxOptions>();

  CLI::App* up = sandbox->add_subcommand("up", "create and start the sandbox (or start it again)");
  up->add_option("--base", opts->base, "directory for the clusters")->capture_default_str();
  up->add_flag("--without-extension", opts->without_extension,
               "plain clusters (no shared_preload_libraries, no CREATE EXTENSION)");
  CLI::Option* port_base =
      up->add_option("--port-base", opts->port_base,
                     "ports of e1, e2, ipc2, ipc1: N, N+1, N+2, N+3 (kept in the sandbox: `down` and a "
                     "second `up` use the same)")
          ->capture_default_str();
  up->add_flag("--with-ipc2b", opts->with_ipc2b,
               "also ipc2b (port N+4): IPC2's synchronous standby in AZ-b (synchronous_standby_names = 'ipc2b')");
  up->callback([&global, &exit_code, opts, port_base] {
    opts->port_base_given = port_base->count() > 0;
    exit_code = sandbox_up(global, *opts);
  });

  CLI::App* demo = sandbox->add_subcommand(
      "demo", "a narrated tour on a fresh sandbox: author, test, release, SL1-SL4, cutover, hotfix, drift, "
              "failover with an orphan, rejoin, reconcile, compare (the sandbox keeps running)");
  demo->add_option("--base", opts->base, "directory for the clusters")->capture_default_str();
  demo->add_option("--port-base", opts->port_base, "ports of e1, e2, ipc2, ipc1: N .. N+3")->capture_default_str();
  demo->callback([&global, &exit_code, opts] {
    opts->port_base_given = true;
    exit_code = sandbox_demo(global, *opts);
  });

  CLI::App* down = sandbox->add_subcommand("down", "stop every sandbox node and remove its directory");
  down->add_option("--base", opts->base, "directory of the clusters")->capture_default_str();
  down->callback([&global, &exit_code, opts] { exit_code = sandbox_down(global, *opts); });
}

}  // namespace rulekeeper::cli
