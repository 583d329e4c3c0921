// The throwaway-cluster fixture: initdb, pg_ctl, pg_basebackup and the waits
// around them. See cluster.hpp for the layout and why it is shaped this way.
#include "sandbox/cluster.hpp"

#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

#include "common/application_name.hpp"
#include "common/files.hpp"
#include "common/poll.hpp"
#include "pgnode/postmaster.hpp"
#include "pgnode/process.hpp"
#include "pgnode/tools.hpp"
#include "rulekeeper/signature.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace rulekeeper::cluster {
namespace {

// Settings and small files of the fixture belong to the server's OS user;
// written durably like every settings file (pgnode/settings.hpp).
void write_file(const fs::path& path, const std::string& text, unsigned mode = 0644) {
  common::write_durably(path, text, {mode, true});
}

void make_dir(const fs::path& path) {
  fs::create_directories(path);
  process::chown_to_postgres(path, false);
}

const char* mode_name(StopMode m) {
  switch (m) {
    case StopMode::smart: return "smart";
    case StopMode::fast: return "fast";
    case StopMode::immediate: return "immediate";
  }
  return "fast";
}

// Polls `ready` every 100 ms until it says yes or `timeout` passes; then
// throws naming what was waited for (and the last error seen, if any).
template <class F>
void wait_until(const std::string& what, seconds timeout, F ready) {
  std::string last_error;
  if (common::poll_until(timeout, 100ms, ready, &last_error)) return;
  std::string msg = fmt::format("timed out after {}s waiting for {}", timeout.count(), what);
  if (!last_error.empty()) msg += " (last error: " + last_error + ")";
  throw std::runtime_error(msg);
}

}  // namespace

bool extension_installed() { return fs::exists(fs::path(RULEKEEPER_PG_PKGLIBDIR) / "rulekeeper.so"); }

void prepare_base(const ClusterOptions& options) {
  if (options.base.empty()) throw std::invalid_argument("cluster base directory is empty");
  make_dir(options.base);
  make_dir(options.base / "sock");
}

void write_common_conf(const ClusterOptions& options) {
  std::string text =
      "# Settings shared by every node under this base directory (written by the\n"
      "# rulekeeper cluster fixture). Node-specific settings live in\n"
      "# <site>/conf/postgresql.conf, which includes this file.\n";
  if (options.with_extension) text += "shared_preload_libraries = 'rulekeeper'\n";
  text += fmt::format("rulekeeper.database = {}\n", conf_quote(options.database));
  text +=
      "wal_level = replica\n"
      "wal_log_hints = on                 # pg_rewind needs it\n"
      "max_wal_senders = 10\n"
      "max_replication_slots = 10\n"
      "hot_standby = on\n"
      "hot_standby_feedback = on\n"
      "wal_keep_size = '256MB'\n"
      "max_slot_wal_keep_size = '1GB'\n"
      "logging_collector = off            # the server log is <site>/log (pg_ctl -l)\n"
      "# After a crash, sync the data directory with one syncfs() instead of an\n"
      "# fsync per file (seconds per restart in kill -9 tests); still durable.\n"
      "recovery_init_sync_method = syncfs\n"
      "# fsync stays on: crash tests (kill -9) must see what a real crash leaves.\n";
  write_file(options.base / "common.conf", text);
}

Node::Node(ClusterOptions cluster, NodeOptions node) : cluster_(std::move(cluster)), node_(std::move(node)) {
  if (node_.site.empty()) throw std::invalid_argument("cluster node needs a site name");
  if (node_.port <= 0) throw std::invalid_argument("cluster node " + node_.site + " needs a port");
}

fs::path Node::node_dir() const { return cluster_.base / node_.site; }
fs::path Node::data_dir() const { return node_dir() / "data"; }
fs::path Node::conf_file() const { return node_dir() / "conf" / "postgresql.conf"; }
fs::path Node::log_file() const { return node_dir() / "log"; }
fs::path Node::signing_key_file() const { return node_dir() / "conf" / "signing_key.pem"; }
fs::path Node::socket_dir() const { return cluster_.base / "sock"; }

std::string Node::conninfo(const std::string& dbname) const {
  return fmt::format("host=127.0.0.1 port={} user=postgres dbname={} connect_timeout=5", node_.port,
                     dbname.empty() ? cluster_.database : dbname);
}

void Node::prepare_node_dir() const {
  prepare_base(cluster_);
  make_dir(node_dir());
  make_dir(node_dir() / "conf");
  if (!fs::exists(log_file())) write_file(log_file(), "");
}

void Node::run_tool(const std::string& tool, const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout) const {
  pgnode::run_tool_checked(cluster_.bindir, tool, args, {log_file(), timeout, node_dir()}, node_.site);
}

void Node::write_hba() const {
  write_file(data_dir() / "pg_hba.conf",
             "# Sandbox/test clusters only: trust on loopback and the local socket —\n"
             "# except members of sandbox_password_login (the admin portal's sandbox\n"
             "# logins, sandbox/portal.hpp): their password is checked (issue #19).\n"
             "local   all             +sandbox_password_login scram-sha-256\n"
             "host    all             +sandbox_password_login 127.0.0.1/32 scram-sha-256\n"
             "local   all             all                     trust\n"
             "local   replication     all                     trust\n"
             "host    all             all     127.0.0.1/32    trust\n"
             "host    replication     all     127.0.0.1/32    trust\n",
             0600);
}

void Node::write_config() {
  prepare_node_dir();
  write_common_conf(cluster_);
  // Each node its own signing key, made once, readable only by the server's
  // OS user (the server refuses a key file with group or other access).
  if (!fs::exists(signing_key_file())) write_file(signing_key_file(), SigningKey::generate_pem(), 0600);
  std::string text = fmt::format(
      "# Node settings of site {} (written by the rulekeeper cluster fixture).\n"
      "# Outside PGDATA on purpose: pg_basebackup and pg_rewind copy the source's\n"
      "# config files into PGDATA, and must never change who this node is.\n"
      "include {}\n"
      "port = {}\n"
      "cluster_name = {}\n"
      "listen_addresses = '127.0.0.1'\n"
      "unix_socket_directories = {}\n"
      "rulekeeper.site = {}\n"
      "rulekeeper.environment = {}\n"
      "rulekeeper.signing_key_file = {}\n",
      node_.site, conf_quote((cluster_.base / "common.conf").string()), node_.port, conf_quote(node_.site),
      conf_quote(socket_dir().string()), conf_quote(node_.site), conf_quote(node_.environment),
      conf_quote(signing_key_file().string()));
  if (!node_.primary_conninfo.empty())
    text += fmt::format("primary_conninfo = {}\n", conf_quote(node_.primary_conninfo));
  if (!node_.primary_slot_name.empty())
    text += fmt::format("primary_slot_name = {}\n", conf_quote(node_.primary_slot_name));
  if (!node_.synchronous_standby_names.empty())
    text += fmt::format("synchronous_standby_names = {}\n", conf_quote(node_.synchronous_standby_names));
  for (const auto& [name, value] : node_.extra_settings) text += name + " = " + value + "\n";
  write_file(conf_file(), text);
}

void Node::init_primary() {
  prepare_node_dir();
  if (fs::exists(data_dir()) && !fs::is_empty(data_dir()))
    throw std::runtime_error(fmt::format("site {}: {} already holds a cluster", node_.site, data_dir().string()));
  // --no-sync: only initdb's own flush of a brand-new throwaway cluster.
  run_tool("initdb",
           {"-D", data_dir().string(), "-E", "UTF8", "--locale=C.UTF-8", "-U", "postgres", "--auth=trust", "--no-sync"},
           120s);
  write_hba();
  write_config();
  start();
}

void Node::init_standby_of(Node& primary) {
  prepare_node_dir();
  if (fs::exists(data_dir()))
    throw std::runtime_error(fmt::format("site {}: {} already exists", node_.site, data_dir().string()));
  // A physical slot named after the standby, reserving WAL from now on, so
  // the primary keeps what this standby has not received (bounded by
  // max_slot_wal_keep_size).
  {
    auto c = primary.connect("postgres");
    pqxx::nontransaction tx(*c);
    tx.exec_params(
        "SELECT pg_create_physical_replication_slot($1, true) "
        "WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
        node_.site);
  }
  run_tool("pg_basebackup",
           {"-D", data_dir().string(), "-h", "127.0.0.1", "-p", std::to_string(primary.port()), "-U", "postgres", "-X",
            "stream", "-S", node_.site, "-c", "fast", "--no-sync"},
           300s);
  pgnode::write_standby_signal(data_dir());
  // A standby signs with its primary's key (its own copy on disk): after a
  // failover the new primary's bundles verify with the key E3 already trusts.
  if (!fs::exists(signing_key_file()) && fs::exists(primary.signing_key_file()))
    write_file(signing_key_file(), common::read_file(primary.signing_key_file()), 0600);
  node_.primary_conninfo =
      fmt::format("host=127.0.0.1 port={} user=postgres application_name={}", primary.port(), node_.site);
  node_.primary_slot_name = node_.site;
  write_config();
  start();
}

void Node::create_database(const std::string& dbname_in) {
  const std::string dbname = dbname_in.empty() ? cluster_.database : dbname_in;
  {
    auto c = connect("postgres");
    pqxx::nontransaction tx(*c);
    if (tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", dbname).empty())
      tx.exec0("CREATE DATABASE " + tx.quote_name(dbname));  // an identifier cannot be a parameter
  }
  if (cluster_.with_extension) {
    auto c = connect(dbname);
    pqxx::nontransaction tx(*c);
    tx.exec0("CREATE EXTENSION IF NOT EXISTS rulekeeper" +
             (cluster_.extension_version.empty() ? std::string() : " VERSION " + tx.quote(cluster_.extension_version)));
  }
}

void Node::start(seconds timeout) {
  if (running()) return;
  // A postmaster killed by someone else may still be a zombie: its PID in
  // postmaster.pid counts as alive and the new server would refuse to start.
  pgnode::wait_zombie_reaped(data_dir(), node_.site);
  // pg_ctl hands -o to /bin/sh: the path must be shell-quoted inside it.
  run_tool("pg_ctl",
           {"-D", data_dir().string(), "-l", log_file().string(), "-w", "-t", std::to_string(timeout.count()), "-o",
            "-c config_file=" + process::shell_quote(conf_file().string()), "start"},
           timeout + 15s);
}

void Node::stop(StopMode mode, seconds timeout) {
  if (!running()) return;
  run_tool("pg_ctl",
           {"-D", data_dir().string(), "-m", mode_name(mode), "-w", "-t", std::to_string(timeout.count()), "stop"},
           timeout + 15s);
}

void Node::restart(seconds timeout) {
  stop(StopMode::fast, timeout);
  start(timeout);
}

int Node::postmaster_pid() const { return pgnode::postmaster_pid(data_dir()); }

void Node::kill9(seconds timeout) {
  const auto t0 = std::chrono::steady_clock::now();
  const int pid = postmaster_pid();
  const int children = pgnode::kill_postmaster(data_dir(), node_.site, timeout);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  common::append_file(log_file(), fmt::format("\n--- rulekeeper fixture: kill -9 of postmaster PID {} and {} "
                                              "children; all gone after {:.2f}s\n",
                                              pid, children, waited));
}

std::unique_ptr<pqxx::connection> Node::connect(const std::string& dbname) const {
  return std::make_unique<pqxx::connection>(
      fmt::format("{} fallback_application_name='{}'", conninfo(dbname), common::application_name()));
}

pqxx::result Node::exec(const std::string& sql, const std::string& dbname) const {
  auto c = connect(dbname);
  pqxx::nontransaction tx(*c);
  return tx.exec(sql);
}

std::string Node::query_value(const std::string& sql, const std::string& dbname) const {
  pqxx::result r = exec(sql, dbname);
  if (r.empty() || r[0].empty() || r[0][0].is_null()) return {};
  return r[0][0].c_str();
}

bool Node::in_recovery() const { return query_value("SELECT pg_is_in_recovery()", "postgres") == "t"; }

std::string Node::current_lsn() const { return query_value("SELECT pg_current_wal_lsn()", "postgres"); }

std::string Node::replay_lsn() const { return query_value("SELECT pg_last_wal_replay_lsn()", "postgres"); }

void Node::promote(seconds timeout) {
  auto c = connect("postgres");
  pqxx::nontransaction tx(*c);
  auto r = tx.exec_params("SELECT pg_promote(true, $1)", static_cast<int>(timeout.count()));
  if (r[0][0].as<bool>() != true)
    throw std::runtime_error(
        fmt::format("promotion of site {} did not finish within {}s", node_.site, timeout.count()));
}

void Node::reload() { exec("SELECT pg_reload_conf()", "postgres"); }

void Node::pause_replay(seconds timeout) {
  exec("SELECT pg_wal_replay_pause()", "postgres");
  wait_until(fmt::format("WAL replay on site {} to be paused", node_.site), timeout,
             [&] { return query_value("SELECT pg_get_wal_replay_pause_state()", "postgres") == "paused"; });
}

void Node::resume_replay() { exec("SELECT pg_wal_replay_resume()", "postgres"); }

void Node::wait_replayed(const Node& primary, seconds timeout) const {
  const std::string target = primary.current_lsn();
  std::string seen;
  try {
    wait_until(fmt::format("site {} to replay {}'s WAL up to {}", node_.site, primary.site(), target), timeout, [&] {
      auto c = connect("postgres");
      pqxx::nontransaction tx(*c);
      auto r = tx.exec_params(
          "SELECT pg_last_wal_replay_lsn()::text, "
          "       coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)",
          target);
      seen = r[0][0].is_null() ? "nothing" : r[0][0].c_str();
      return r[0][1].as<bool>();
    });
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) + "; last replayed: " + seen);
  }
}

void Node::wait_ready(const std::string& dbname, seconds timeout) const {
  const std::string db = dbname.empty() ? cluster_.database : dbname;
  wait_until(fmt::format("site {} (port {}) to accept connections to database {}", node_.site, node_.port, db), timeout,
             [&] {
               auto c = connect(db);
               return c->is_open();
             });
}

void Node::destroy() {
  if (running()) {
    try {
      stop(StopMode::immediate, 30s);
    } catch (const std::exception&) {
      kill9();
    }
  }
  fs::remove_all(node_dir());
}

ClusterSet::ClusterSet(ClusterOptions options, Teardown teardown) : options_(std::move(options)), teardown_(teardown) {
  // Keep a failed test's clusters for a post-mortem (logs, data) on request.
  if (const char* keep = std::getenv("RULEKEEPER_KEEP_CLUSTERS");
      keep != nullptr && std::string(keep) == "1" && teardown_ == Teardown::destroy)
    teardown_ = Teardown::stop_only;
  prepare_base(options_);
}

ClusterSet::~ClusterSet() {
  if (teardown_ == Teardown::keep) return;
  // Standbys first (added after their primaries): no reconnect noise.
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    Node& n = **it;
    try {
      if (n.running()) n.stop(StopMode::immediate, 30s);
    } catch (...) {
      try {
        if (n.running()) n.kill9();
      } catch (...) {
        // A destructor must not throw; nothing more we can do here.
      }
    }
  }
  if (teardown_ == Teardown::destroy) {
    std::error_code ec;
    fs::remove_all(options_.base, ec);
  }
}

Node& ClusterSet::add(NodeOptions node) {
  for (const auto& n : nodes_)
    if (n->site() == node.site) throw std::invalid_argument("site " + node.site + " added twice");
  nodes_.push_back(std::make_unique<Node>(options_, std::move(node)));
  return *nodes_.back();
}

Node& ClusterSet::node(const std::string& site) {
  for (auto& n : nodes_)
    if (n->site() == site) return *n;
  throw std::out_of_range("no node for site " + site);
}

namespace {
// The environment whose release bundles `environment` imports.
std::string previous_environment(const std::string& environment) {
  if (environment == "e2") return "e1";
  if (environment == "e3") return "e2";
  return "";
}
}  // namespace

void trust_signing_keys(ClusterSet& set) {
  // Who vouches for whom (docs/keys.md): e2 trusts e1's keys, e3 trusts e2's
  // and its own sites' (reconcile). Registered at primaries; a standby gets
  // them by replication, and its own key is registered at its primary.
  for (auto& at : set.nodes()) {
    if (!at->running() || at->in_recovery()) continue;
    for (auto& from : set.nodes()) {
      const bool trusted = from->environment() == previous_environment(at->environment()) ||
                           (at->environment() == "e3" && from->environment() == "e3");
      if (!trusted || !from->running()) continue;
      const std::string pem = from->query_value("SELECT public_key FROM rulekeeper.signing_public_key()");
      auto c = at->connect();
      pqxx::nontransaction tx(*c);
      tx.exec_params("SELECT rulekeeper.trust_key($1, $2, $3)", from->environment(), pem,
                     "sandbox: the key of site " + from->site());
    }
  }
}

}  // namespace rulekeeper::cluster
