// The fixture for throwaway real PostgreSQL clusters on loopback, used by
// `rulectl sandbox` and by the integration tests (primary, streaming standby,
// kill -9, promote, pause/resume replay).
//
// Layout under a base directory (see docs/design/postgres-traps.md "Per-node settings"):
//   <base>/common.conf               settings every node shares
//   <base>/sock/                     unix sockets of all nodes (short path)
//   <base>/<site>/conf/postgresql.conf  ALL node-specific settings + include of common.conf
//   <base>/<site>/data/              PGDATA
//   <base>/<site>/log                server log and the output of every tool we ran
// The server starts with -c config_file=<node conf>, so neither pg_basebackup
// nor pg_rewind (which copy the source's config files into PGDATA) can change
// a node's identity. Never `pg_basebackup -R`: standby.signal and
// primary_conninfo are ours to write.
//
// As root, every PostgreSQL tool runs as the postgres OS user and the base
// directory belongs to it. Every wait is bounded and names what it waited for.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "pgnode/settings.hpp"

namespace rulekeeper::cluster {

using std::chrono::seconds;

// Shared by every node under one base directory (they share common.conf).
struct ClusterOptions {
  std::filesystem::path base;
  // Preload the rulekeeper library and CREATE EXTENSION in create_database().
  // Off for plain clusters (before the extension is installed).
  bool with_extension = true;
  // The version CREATE EXTENSION installs ("0.1" for the upgrade tests:
  // docs/design/upgrades.md); empty: the control file's default_version.
  std::string extension_version;
  std::string bindir = RULEKEEPER_PG_BINDIR;
  std::string database = "rules";  // rulekeeper.database; default for connect()
};

struct NodeOptions {
  NodeOptions() = default;
  NodeOptions(std::string site_, std::string environment_, int port_)
      : site(std::move(site_)), environment(std::move(environment_)), port(port_) {}

  std::string site;                       // rulekeeper.site, cluster_name, node directory name
  std::string environment;                // rulekeeper.environment: e1, e2, e3
  int port = 0;                           // the caller picks ports: tests and sandbox must not collide
  std::string synchronous_standby_names;  // empty: none
  // Extra "name = value" lines for the node conf (value written verbatim).
  std::vector<std::pair<std::string, std::string>> extra_settings;
  // Set by init_standby_of() (or by hand before write_config()): makes the
  // node conf carry primary_conninfo / primary_slot_name.
  std::string primary_conninfo;
  std::string primary_slot_name;
};

enum class StopMode { smart, fast, immediate };

class Node {
public:
  Node(ClusterOptions cluster, NodeOptions node);

  const std::string& site() const { return node_.site; }
  const std::string& environment() const { return node_.environment; }
  int port() const { return node_.port; }
  const ClusterOptions& cluster_options() const { return cluster_; }
  NodeOptions& options() { return node_; }  // edit, then write_config()
  std::filesystem::path node_dir() const;
  std::filesystem::path data_dir() const;
  std::filesystem::path conf_file() const;  // <base>/<site>/conf/postgresql.conf
  std::filesystem::path log_file() const;
  // <base>/<site>/conf/signing_key.pem: made by write_config() (mode 0600),
  // a copy of the primary's by init_standby_of(); named by
  // rulekeeper.signing_key_file in the node conf.
  std::filesystem::path signing_key_file() const;
  std::filesystem::path socket_dir() const;
  // "host=127.0.0.1 port=P user=postgres dbname=DB" (DB defaults to cluster database)
  std::string conninfo(const std::string& dbname = "") const;

  // initdb, pg_hba, node conf; then start. The node is a primary of `environment`.
  void init_primary();
  // Slot on `primary` named after this site, pg_basebackup from it,
  // standby.signal, node conf with primary_conninfo/primary_slot_name; then start.
  void init_standby_of(Node& primary);
  // Rewrites common.conf and this node's conf (e.g. after changing options or
  // after pg_rewind). Does not reload or restart.
  void write_config();
  // CREATE DATABASE (if missing) and, with_extension, CREATE EXTENSION rulekeeper.
  void create_database(const std::string& dbname = "");

  void start(seconds timeout = seconds(60));
  void stop(StopMode mode = StopMode::fast, seconds timeout = seconds(60));
  void restart(seconds timeout = seconds(60));
  // SIGKILL the postmaster and its children (a host crash for this node), then
  // wait until every one of those PIDs is really gone: a dead postmaster that
  // is still a zombie keeps its lock file "alive" and the next start fails.
  void kill9(seconds timeout = seconds(30));
  // Postmaster PID from postmaster.pid if that process exists (zombies count
  // as not running), else 0.
  int postmaster_pid() const;
  bool running() const { return postmaster_pid() != 0; }

  // Connections as postgres over 127.0.0.1 (ready for queries).
  std::unique_ptr<pqxx::connection> connect(const std::string& dbname = "") const;
  // One statement in autocommit; returns its result.
  pqxx::result exec(const std::string& sql, const std::string& dbname = "") const;
  // First column of the first row as text ("" for NULL / no rows).
  std::string query_value(const std::string& sql, const std::string& dbname = "") const;

  bool in_recovery() const;
  std::string current_lsn() const;                   // pg_current_wal_lsn() on a primary
  std::string replay_lsn() const;                    // pg_last_wal_replay_lsn() on a standby
  void promote(seconds timeout = seconds(60));       // pg_promote(wait => true)
  void reload();                                     // pg_reload_conf(), e.g. after write_config()
  void pause_replay(seconds timeout = seconds(30));  // and wait until paused
  void resume_replay();
  // Wait until this standby has replayed `primary`'s current WAL insert LSN.
  void wait_replayed(const Node& primary, seconds timeout = seconds(30)) const;
  // Wait until the server accepts connections to `dbname` (e.g. a database
  // created on the primary showing up on a standby).
  void wait_ready(const std::string& dbname = "", seconds timeout = seconds(30)) const;

  // stop(immediate) if running, then remove the node directory.
  void destroy();

private:
  // initdb/pg_ctl/... from bindir (pgnode::run_tool_checked), output to the node log.
  void run_tool(const std::string& tool, const std::vector<std::string>& args, std::chrono::milliseconds timeout) const;
  void write_hba() const;
  void prepare_node_dir() const;

  ClusterOptions cluster_;
  NodeOptions node_;
};

// Writes <base>/common.conf (same content for every node of a base).
void write_common_conf(const ClusterOptions& options);
// Creates the base directory (and sock/) usable by the server's OS user.
void prepare_base(const ClusterOptions& options);

// Owns the nodes of one base directory and tears them down when it goes out
// of scope — so a failing test (an exception, a failed ASSERT) still leaves no
// servers running. Sandbox `up` calls keep() to leave them running.
class ClusterSet {
public:
  enum class Teardown {
    destroy,    // stop immediate, remove the base directory
    stop_only,  // stop immediate, keep files (diagnostics)
    keep,       // leave everything running
  };

  explicit ClusterSet(ClusterOptions options, Teardown teardown = Teardown::destroy);
  ~ClusterSet();
  ClusterSet(const ClusterSet&) = delete;
  ClusterSet& operator=(const ClusterSet&) = delete;

  // The node object only; call init_primary()/init_standby_of() on it.
  Node& add(NodeOptions node);
  Node& node(const std::string& site);
  std::vector<std::unique_ptr<Node>>& nodes() { return nodes_; }
  const ClusterOptions& options() const { return options_; }
  void set_teardown(Teardown t) { teardown_ = t; }

private:
  ClusterOptions options_;
  Teardown teardown_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

// Registers every node's signing key where its bundles are imported
// (rulekeeper.trust_key at each running primary): e2 trusts e1's keys, e3
// trusts e2's and every E3 site's. Needs the database with the extension at
// each node; idempotent.
void trust_signing_keys(ClusterSet& set);

// True if the rulekeeper library is installed in the server's pkglibdir.
bool extension_installed();

// 'value' quoted for postgresql.conf / a SQL string literal (one rule for
// every settings file: pgnode's).
using pgnode::conf_quote;

}  // namespace rulekeeper::cluster
