// See sandbox.hpp.
#include "sandbox/sandbox.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <sstream>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "site/config.hpp"
#include "pgnode/process.hpp"
#include "pgnode/tools.hpp"
#include "sandbox/detached.hpp"
#include "sandbox/gateways.hpp"
#include "sandbox/patroni.hpp"
#include "sandbox/portal.hpp"

#include <unistd.h>

namespace fs = std::filesystem;

namespace rulekeeper::sandbox {
namespace {

// Written first and checked by `down`: we only ever remove a directory that a
// sandbox `up` made, never an arbitrary --base. It also records the port base,
// so that `down` and a second `up` find the same ports.
constexpr const char* kMarker = ".rulectl-sandbox";

struct Site {
  const char* site;
  const char* environment;
  int port_offset;         // port = port base + offset
  const char* standby_of;  // nullptr: a primary
  bool optional = false;   // ipc2b: only with `up --with-ipc2b`
};

// Order matters: primaries before the standby that copies one.
constexpr Site kSites[] = {
    {"e1", "e1", 0, nullptr},
    {"e2", "e2", 1, nullptr},
    {"ipc2", "e3", 2, nullptr},
    {"ipc1", "e3", 3, "ipc2"},
    // IPC2's synchronous standby in AZ-b (synchronous_standby_names = 'ipc2b').
    {"ipc2b", "e3", 4, "ipc2", true},
};

cluster::NodeOptions node_options(const Site& s, int port_base) {
  return cluster::NodeOptions(s.site, s.environment, port_base + s.port_offset);
}

void write_marker(const fs::path& marker, int port_base, const std::string& ha) {
  common::write_durably(marker, fmt::format("made by rulectl sandbox up\nport_base = {}\n{}", port_base,
                                            ha.empty() ? "" : "ha = " + ha + "\n"));
}

// Whether the sandbox of `marker` runs IPC2/IPC1 under Patroni.
bool marker_says_patroni(const fs::path& marker) {
  return common::read_file(marker).find("\nha = patroni\n") != std::string::npos;
}

// This very binary: Patroni's on_role_change callback runs it.
std::string self_path() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  return n > 0 ? std::string(self, static_cast<std::size_t>(n)) : std::string("rulectl");
}

// The port base recorded in the marker; a marker from before --port-base
// existed has none: the default.
int read_marker_port_base(const fs::path& marker) {
  std::istringstream in(common::read_file(marker));
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

// pg_ctl invocations a person (or rulectl failover/rejoin) can run by hand.
std::string pg_ctl_command(const cluster::Node& n, bool start) {
  std::vector<std::string> args{"-D", n.data_dir().string()};
  if (start)
    args.insert(args.end(), {"-l", n.log_file().string(), "-w", "-o",
                             "-c config_file=" + process::shell_quote(n.conf_file().string()), "start"});
  else
    args.insert(args.end(), {"-m", "fast", "-w", "stop"});
  return pgnode::tool_command(n.cluster_options().bindir, "pg_ctl", args);
}

void write_toml(const cluster::ClusterOptions& co, const std::vector<cluster::Node*>& nodes, const fs::path& path,
                int port_base, bool under_patroni) {
  const int patroni_port_base = under_patroni ? port_base : 0;
  toml::table sites;
  for (const cluster::Node* n : nodes) {
    toml::table t;
    t.insert("conninfo", fmt::format("host=127.0.0.1 port={} user=postgres dbname={}", n->port(), co.database));
    t.insert("environment", n->environment());
    if (n->site() == "ipc1") t.insert("dr", true);
    // The pod gateway of each E3 node (docs/gateway.md, sandbox/gateways.hpp).
    if (co.with_extension && gateways::has_gateway(n->site()))
      t.insert("gateway", toml::table{{"listen", fmt::format("127.0.0.1:{}",
                                                             gateways::port(port_base, under_patroni, n->site()))}});
    const patroni::Member* member = nullptr;
    for (const auto& m : patroni::members())
      if (patroni_port_base != 0 && m.site == n->site()) member = &m;
    if (member != nullptr) {
      // Patroni starts, stops, promotes and rewinds it: no commands here.
      t.insert("ha", "patroni");
      t.insert("patroni_cluster", member->cluster);
      t.insert("patroni_url", patroni::rest_url(patroni_port_base, *member));
      sites.insert(n->site(), std::move(t));
      continue;
    }
    t.insert("pgdata", n->data_dir().string());
    t.insert("start_command", pg_ctl_command(*n, true));
    t.insert("stop_command", pg_ctl_command(*n, false));
    // What would run on the node's host if it were another one (issue #16
    // item 4): the sandbox drives its nodes through the same templates as a
    // deployment whose rulectl runs elsewhere (there: `ssh HOST ...`).
    t.insert("controldata_command", pgnode::tool_command(co.bindir, "pg_controldata", {"-D", n->data_dir().string()}));
    t.insert("rewind_command", pgnode::tool_command(co.bindir, "pg_rewind", {"-D", n->data_dir().string()}) +
                                   " --source-server={source_conninfo} {dry_run}");
    t.insert("standby_command",
             fmt::format("{} node standby --pgdata {} --conf-file {} --primary-conninfo {{primary_conninfo}} "
                         "--slot {{slot_name}}",
                         process::shell_quote(rulectl_binary()), process::shell_quote(n->data_dir().string()),
                         process::shell_quote(n->conf_file().string())));
    t.insert("bindir", co.bindir);
    // Where failover/rejoin rewrite primary_conninfo/primary_slot_name.
    t.insert("conf_file", n->conf_file().string());
    sites.insert(n->site(), std::move(t));
  }
  toml::table root;
  root.insert("rulectl", toml::table{{"state_dir", (co.base / "state").string()}});
  root.insert("sites", std::move(sites));
  std::ostringstream out;
  out << "# rulectl.toml of the sandbox made by `rulectl sandbox up`.\n"
         "# Remove everything with `rulectl sandbox down --base "
      << process::shell_quote(co.base.string()) << "`.\n\n"
      << root << "\n";
  common::write_durably(path, out.str());
}

void stop_node(cluster::Node& n) {
  if (!n.running()) return;
  try {
    n.stop(cluster::StopMode::immediate);
  } catch (const std::exception&) {
    n.kill9();
  }
}

}  // namespace

cluster::ClusterOptions cluster_options(const Options& options) {
  cluster::ClusterOptions co;
  co.base = fs::absolute(options.base).lexically_normal();
  co.with_extension = options.with_extension;
  return co;
}

std::vector<cluster::NodeOptions> nodes(int port_base, bool with_ipc2b) {
  std::vector<cluster::NodeOptions> out;
  for (const auto& s : kSites)
    if (!s.optional || with_ipc2b) out.push_back(node_options(s, port_base));
  return out;
}

bool exists(const fs::path& base) { return fs::exists(base / kMarker); }

// The admin portal (issue #19, sandbox/portal.hpp) on the port after the
// pod gateways' (+8, with Patroni +13: tests/ports.txt sandbox_default). A
// portal that does not start leaves the sandbox up, said in the result.
static void start_portal(UpResult& result, int port_base, bool under_patroni, const common::ProgressSink& progress) {
  if (!result.cluster.with_extension) return;
  try {
    result.portal_url = portal::start(result.cluster.base, result.config_file, port_base, under_patroni, progress);
  } catch (const std::exception& e) {
    result.portal_error = e.what();
  }
}

UpResult up(const Options& options, const common::ProgressSink& progress) {
  UpResult result;
  result.cluster = cluster_options(options);
  const cluster::ClusterOptions& co = result.cluster;
  const fs::path marker = co.base / kMarker;
  result.config_file = co.base / "rulectl.toml";
  result.export_line = "export RULECTL_CONFIG=" + process::shell_quote(result.config_file.string());

  // --ha patroni: REST APIs and etcd too (sandbox/patroni.hpp); the pod gateways after them (sandbox/gateways.hpp).
  const int span = gateways::last_port_offset(!options.ha.empty());
  if (options.port_base < 1024 || options.port_base > 65535 - span)
    throw common::ExitError(common::exit_usage, fmt::format("--port-base {}: must be between 1024 and {}",
                                                            options.port_base, 65535 - span));
  if (fs::exists(marker) && fs::exists(result.config_file)) {
    const int port_base = read_marker_port_base(marker);
    if (options.port_base_given && options.port_base != port_base)
      throw common::ExitError(common::exit_refused,
                              fmt::format("the sandbox in {} already uses ports {}..{}; not moving it to "
                                          "--port-base {} (run `rulectl sandbox down --base {}` first)",
                                          co.base.string(), port_base, port_base + 3, options.port_base,
                                          process::shell_quote(co.base.string())));
    progress.step("sandbox already up at " + co.base.string() + "; making sure every node runs");
    const bool under_patroni = marker_says_patroni(marker);
    if (under_patroni) {
      progress.step("start etcd and Patroni where they do not run");
      patroni::start_daemon(co.base, "etcd");
      for (const auto& m : patroni::members()) patroni::start_daemon(co.base, m.site);
    }
    for (const auto& s : kSites) {
      cluster::Node n(co, node_options(s, port_base));
      if (s.optional && !fs::exists(n.data_dir())) continue;              // ipc2b was not asked for
      if (under_patroni && std::string(s.environment) == "e3") continue;  // Patroni starts them
      if (!n.running()) {
        progress.step(fmt::format("starting {} (port {})", s.site, n.port()));
        n.start();
      }
    }
    // The gateways its rulectl.toml configures (none in a sandbox made
    // before there were any, or without the extension).
    std::vector<std::string> with_gateway;
    for (const auto& site : config::load(result.config_file.string()).sites)
      if (site.gateway) with_gateway.push_back(site.name);
    gateways::start(co.base, result.config_file, port_base, under_patroni, with_gateway, progress);
    result.already_up = true;
    start_portal(result, port_base, under_patroni, progress);
    return result;
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
    gateways::stop(co.base, progress);
    patroni::stop_all(co.base);
    for (auto it = std::rbegin(kSites); it != std::rend(kSites); ++it) {
      cluster::Node n(co, node_options(*it, old_base));
      stop_node(n);
    }
    fs::remove_all(co.base);
  }

  // Until keep() below, a failure tears down whatever was started.
  if (!options.ha.empty() && options.ha != "patroni")
    throw common::ExitError(common::exit_usage, fmt::format("--ha {}: only patroni is known", options.ha));
  const bool under_patroni = options.ha == "patroni";
  cluster::ClusterSet set(co, cluster::ClusterSet::Teardown::destroy);
  // Destroyed before `set`: Patroni and etcd stop before the nodes go.
  patroni::Guard daemons(co.base);
  write_marker(marker, options.port_base, options.ha);
  std::vector<cluster::Node*> made;
  for (const auto& s : kSites) {
    if (s.optional && !options.with_ipc2b) continue;
    if (under_patroni && std::string(s.environment) == "e3") continue;  // below, under Patroni
    cluster::Node& n = set.add(node_options(s, options.port_base));
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
      progress.step(fmt::format("base backup of {} into {} (port {}), slot '{}', start streaming", s.standby_of, s.site,
                                n.port(), s.site));
      n.init_standby_of(primary);
      n.wait_replayed(primary);
      n.wait_ready();
      if (std::string(s.site) == "ipc2b") {
        // Every acknowledged commit at ipc2 is in both AZs from now on.
        progress.step("make ipc2b ipc2's synchronous standby (synchronous_standby_names = 'ipc2b')");
        primary.options().synchronous_standby_names = "ipc2b";
        primary.write_config();
        primary.reload();
      }
    }
    made.push_back(&n);
  }
  if (under_patroni) {
    if (!co.with_extension)
      throw common::ExitError(common::exit_usage, "--ha patroni needs the extension (no --without-extension)");
    patroni::up(set, options.port_base, self_path(), progress);
    for (const auto& m : patroni::members()) made.push_back(&set.node(m.site));
  }
  if (co.with_extension) {
    // Each site signs what it exports with its own key (made with its node
    // conf; a standby has a copy of its primary's): register each where its
    // bundles are imported (docs/keys.md).
    progress.step("trust signing keys: e1's at e2, e2's and E3's at ipc2");
    cluster::trust_signing_keys(set);
  }
  write_toml(co, made, result.config_file, options.port_base, under_patroni);
  if (co.with_extension) {
    std::vector<std::string> e3;
    for (const cluster::Node* n : made)
      if (n->environment() == "e3") e3.push_back(n->site());
    gateways::start(co.base, result.config_file, options.port_base, under_patroni, e3, progress);
  }
  set.set_teardown(cluster::ClusterSet::Teardown::keep);
  daemons.release();
  start_portal(result, options.port_base, under_patroni, progress);
  progress.step("sandbox up");
  return result;
}

DownResult down(const Options& options, const common::ProgressSink& progress) {
  const cluster::ClusterOptions co = cluster_options(options);
  if (!fs::exists(co.base)) return DownResult::absent;
  if (!sandbox::exists(co.base))
    throw common::ExitError(common::exit_refused,
                            fmt::format("{} was not made by `rulectl sandbox up` (no {}); not removing it",
                                        co.base.string(), kMarker));
  // The ports the sandbox was made with, whatever --port-base says now.
  const int port_base = read_marker_port_base(co.base / kMarker);
  portal::stop(co.base, progress);  // before the sites it connects to
  // The gateways next: none outlives its node, nor the sandbox.
  gateways::stop(co.base, progress);
  if (marker_says_patroni(co.base / kMarker)) {
    progress.step("stopping Patroni (it stops its PostgreSQL) and etcd");
    patroni::stop_all(co.base);
  }
  for (auto it = std::rbegin(kSites); it != std::rend(kSites); ++it) {
    cluster::Node n(co, node_options(*it, port_base));
    if (n.running()) {
      progress.step(fmt::format("stopping {}", it->site));
      stop_node(n);
    }
  }
  progress.step("removing " + co.base.string());
  fs::remove_all(co.base);
  return DownResult::removed;
}

}  // namespace rulekeeper::sandbox
